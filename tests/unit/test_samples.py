"""Sample sets (`python -m benchmark download loghub-2k`): SHA-256-checked download from a real
HTTP server on 127.0.0.1, the lookup order, and the skip a test gets when a sample is missing."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from http_files import serve_files

from benchmark.cli import benchmark_main
from benchmark.data import samples
from benchmark.data.errors import DataError
from benchmark.data.samples import SampleFile, SampleSet, fetch_samples, find_sample

REPO = Path(__file__).resolve().parents[2]
FILES = {"a.log": b"first line\nsecond line\n", "a.csv": b"LineId,EventId\n1,E1\n2,E2\n"}


@pytest.fixture
def tiny_set(monkeypatch):
    """A two-file sample set `tiny-2k` served from 127.0.0.1 (its base URL is the server's)."""
    with serve_files({f"/logs/{name}": body for name, body in FILES.items()}) as served:
        spec = SampleSet("tiny-2k", served.base, "TINY_2K_DIR",
                         {name: SampleFile(f"logs/{name}", hashlib.sha256(body).hexdigest())
                          for name, body in FILES.items()})
        monkeypatch.setitem(samples.SAMPLE_SETS, "tiny-2k", spec)
        monkeypatch.delenv("TINY_2K_DIR", raising=False)
        yield served


def test_download_verifies_each_file_and_fetches_it_once(tiny_set, tmp_path):
    paths = fetch_samples("tiny-2k", tmp_path, progress=False)
    assert [p.read_bytes() for p in paths] == list(FILES.values())
    assert find_sample("tiny-2k", "a.log", tmp_path) == (tmp_path / "raw" / "tiny-2k" / "a.log")
    fetch_samples("tiny-2k", tmp_path, progress=False)
    assert tiny_set.requests == {"/logs/a.log": 1, "/logs/a.csv": 1}


def test_a_file_with_other_bytes_is_refused_and_not_left(tiny_set, tmp_path, monkeypatch):
    spec = samples.SAMPLE_SETS["tiny-2k"]
    wrong = {**spec.files, "a.log": SampleFile("logs/a.log", "0" * 64)}
    monkeypatch.setitem(samples.SAMPLE_SETS, "tiny-2k",
                        SampleSet(spec.name, spec.base_url, spec.env, wrong))
    with pytest.raises(DataError, match="expected sha256:0000"):
        fetch_samples("tiny-2k", tmp_path, progress=False)
    assert find_sample("tiny-2k", "a.log", tmp_path) is None


def test_the_environment_folder_comes_first(tiny_set, tmp_path, monkeypatch):
    fetch_samples("tiny-2k", tmp_path, progress=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.log").write_bytes(FILES["a.log"])
    monkeypatch.setenv("TINY_2K_DIR", str(mine))
    assert find_sample("tiny-2k", "a.log", tmp_path) == mine / "a.log"
    assert find_sample("tiny-2k", "a.csv", tmp_path) == tmp_path / "raw" / "tiny-2k" / "a.csv"


def test_download_command_fetches_a_sample_set(tiny_set, tmp_path, capsys):
    code = benchmark_main(["download", "tiny-2k", "--data-dir", str(tmp_path), "--no-progress"])
    assert code == 0 and "tiny-2k: 2 files in " in capsys.readouterr().out


def test_unreachable_source_is_a_clear_error(tmp_path, capsys):
    spec = samples.SAMPLE_SETS["loghub-2k"]
    with pytest.raises(DataError, match="BGL/BGL_2k.log by hand"):
        fetch_samples("loghub-2k", tmp_path, progress=False, base_url="http://127.0.0.1:9")
    assert spec.files["BGL_2k.log"].remote == "BGL/BGL_2k.log"


def test_a_missing_sample_skips_naming_the_fetch_command(tmp_path):
    """A clone with no ../shared and no network: the Loghub tests skip and say how to fetch."""
    probe = tmp_path / "test_probe.py"
    probe.write_text("from loghub import loghub_file\n\n"
                     "def test_probe():\n    loghub_file('BGL_2k.log')\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "LOGMILP_LOGHUB_2K": str(tmp_path / "none"),
           "LOGMILP_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    script = (f"import sys; sys.path[:0] = [{str(REPO / 'tests')!r}, {str(REPO)!r}]; "
              "from benchmark.data import samples; "
              f"samples._REPO_ROOT = __import__('pathlib').Path({str(tmp_path / 'clone')!r}); "
              "samples.SAMPLE_SETS['loghub-2k'] = samples.SampleSet('loghub-2k', "
              "'http://127.0.0.1:9', 'LOGMILP_LOGHUB_2K', samples.SAMPLE_SETS['loghub-2k'].files); "
              "import pytest; sys.exit(pytest.main(['-q', '-rs', '-p', 'no:cacheprovider', "
              f"{str(probe)!r}]))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "BGL_2k.log not found in" in done.stdout
    assert "python -m benchmark download loghub-2k" in done.stdout
    env["LOGMILP_REQUIRE_SAMPLES"] = "1"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 1 and "must not skip" in done.stdout
