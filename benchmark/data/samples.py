"""Small real-log samples (not dataset cards): where to find them, and how to fetch them.

A sample set is a handful of files that tests, benchmarks and examples read as they are (no
bagging card of their own): today `loghub-2k`, Loghub's 2,000-line BGL and ZooKeeper samples with
their ground-truth parses (https://github.com/logpai/loghub, free for research and academic use;
cite Zhu et al., ISSRE 2023 / He et al., 2020). Each file is pinned by its SHA-256.

Lookup order for a file (`find_sample`): the folder named by the set's environment variable
(`LOGMILP_LOGHUB_2K`), then `../shared/data/<set>/` beside the checkout (the team's workplace), then
the download cache `<data-dir>/raw/<set>/` (default `datasets/raw/<set>/`). A file found by name
is used as it is; `fetch_samples` (`python -m benchmark download loghub-2k`) writes verified
copies into the download cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from benchmark.paths import default_data_dir

_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SampleFile:
    """One file of a sample set: its path below the set's base URL and its SHA-256 (hex)."""

    remote: str
    sha256: str


@dataclass(frozen=True)
class SampleSet:
    """Files fetched from `base_url`; `env` names a folder that overrides every other place."""

    name: str
    base_url: str
    env: str
    files: dict[str, SampleFile]


SAMPLE_SETS = {
    "loghub-2k": SampleSet(
        name="loghub-2k",
        base_url="https://raw.githubusercontent.com/logpai/loghub/master",
        env="LOGMILP_LOGHUB_2K",
        files={
            "BGL_2k.log": SampleFile(
                "BGL/BGL_2k.log",
                "2a819ea540909db682005c9cf948387a40729b5c2e9f19d430e29ce704825496"),
            "BGL_2k.log_structured.csv": SampleFile(
                "BGL/BGL_2k.log_structured.csv",
                "3fe74103c0b02a28514534e2a47257a3f770135ca61afd425bbd3b9d6a31fe26"),
            "Zookeeper_2k.log": SampleFile(
                "Zookeeper/Zookeeper_2k.log",
                "e40e0af5ef9eb6e4097200f260b9d1f626b3676f861a432e87977242e75543d8"),
            "Zookeeper_2k.log_structured.csv": SampleFile(
                "Zookeeper/Zookeeper_2k.log_structured.csv",
                "e4a450c67595828103cfab049d971f54eee778fdded061222ba6581bed2a210a"),
        },
    ),
}


def sample_set(name: str) -> SampleSet:
    """The registered sample set `name`; KeyError names the known ones."""
    try:
        return SAMPLE_SETS[name]
    except KeyError:
        raise KeyError(f"unknown sample set {name!r}; known: {', '.join(SAMPLE_SETS)}") from None


def sample_dirs(name: str, data_dir: Path | None = None) -> list[Path]:
    """The folders searched for set `name`, in order (see the module docstring)."""
    spec = sample_set(name)
    dirs = [Path(os.environ[spec.env])] if os.environ.get(spec.env) else []
    dirs.append(_REPO_ROOT.parent / "shared" / "data" / name)
    dirs.append(Path(data_dir or default_data_dir()) / "raw" / name)
    return dirs


def find_sample(name: str, filename: str, data_dir: Path | None = None) -> Path | None:
    """The first regular file `filename` of set `name` in `sample_dirs`, or None."""
    sample_set(name).files[filename]  # KeyError for a file the set does not have
    for folder in sample_dirs(name, data_dir):
        path = folder / filename
        if path.is_file():
            return path
    return None


def fetch_command(name: str) -> str:
    """The command line that fetches set `name` into the download cache."""
    return f"python -m benchmark download {name}"


def fetch_samples(name: str, data_dir: Path | None = None, progress: bool = True,
                  base_url: str | None = None) -> list[Path]:
    """Download every file of set `name` into `<data_dir>/raw/<name>/`, SHA-256-checked.

    A file already there with the right hash is kept. base_url overrides the set's (tests serve
    the files from 127.0.0.1). Raises DataError (naming the URL and where to put the file by
    hand) on a network failure or a hash mismatch; no partial file is left at the target.
    """
    from benchmark.data.download import fetch_source

    spec = sample_set(name)
    root = (base_url or spec.base_url).rstrip("/")
    target_dir = Path(data_dir or default_data_dir())
    return [fetch_source(name, f"{root}/{f.remote}", f"sha256:{f.sha256}", filename, target_dir,
                         progress=progress)
            for filename, f in spec.files.items()]
