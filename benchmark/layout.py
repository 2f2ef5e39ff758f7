"""Where a run's files live under the results folder, and how they are read back safely.

One place for the per-run paths (records, score files, saved models, checkpoints):

- default config, full data: `<results>/<area>/<dataset>/<model>/<file>` (today's layout; the
  committed records live there);
- any other configuration of the same (dataset, model): `<results>/<area>/<dataset>/<model>/
  <variant>/<file>`, where `variant` is `quick` (`--quick` with the model's quick settings),
  `quick-<h>` (`--quick` plus `--set`) or `cfg-<h>` (`--set` on the full data), `<h>` the first
  10 hex digits of the sha256 of the resolved config. So default, quick and variant runs coexist
  and never overwrite each other; the report reads the default records unless asked for a variant.

Every path component is a name (no separator, no `..`, no leading dot), and every built path is
checked to resolve inside the results folder (a symlink pointing out is refused). Readers open
only regular files, never through a symlink and never a FIFO (`read_regular`); directory scans
(`scan_files`) skip symlinks and special files with a warning naming them. No torch import.

`RunKey` is a run's full identity in the results folder and `ResultsLayout` the one object that
turns a key into every path of the run (record, scores, model, checkpoint) and gives the report's
folders (tables, figures); the module-level functions below are thin wrappers over it. Keys:

- a ground-truth run: `RunKey(dataset, model, seed[, variant])`;
- a data-preparation variant (benchmark.data.variants: window, stride, max instances, parser,
  vectors): `data_variant=<variant key>`; dataset folder `<dataset>~<variant key>`;
- a label-budget run: `label_plan=<plan key>`; its records' dataset folder (and the record's
  `dataset`) is `<dataset>[~<variant key>]@<plan key>` (`RunKey.record_dataset`);
- a cross-domain run: `dataset` = the pair `<sources>→<target>[@<representation>]`, `shots=K`:
  under `runs/crossdomain/` (`models/crossdomain/`, `checkpoints/crossdomain/`), with a
  `shots<K>` folder after the variant folder.

Extension point (new run axes): add ONE field to `RunKey` whose default means "as before" and
add its path component in `RunKey.parts` / `record_dataset` only when it differs from the
default, so every existing record keeps its path; the planners set it, `ResultsLayout` places
it, nothing else learns about it (the data-preparation variants were added this way: a new
preparation axis only extends the variant key, benchmark.data.variants).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
QUICK = "quick"
VARIANT_PATTERN = re.compile(r"(quick|quick-[0-9a-f]{10}|cfg-[0-9a-f]{10})")
_FORBIDDEN = re.compile(r"[/\\\x00]")


class LayoutError(ValueError):
    """A name that is not a name, or a path that would leave the results folder."""


def check_name(kind: str, name: str) -> str:
    """`name` when it matches `[a-z0-9][a-z0-9_-]*`; else LayoutError naming `kind`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise LayoutError(f"{kind} {name!r} is not a name: use lowercase letters, digits, '_' "
                          "and '-' (a name, not a path)")
    return name


PAIR_PATTERN = re.compile(r"{n}(\+{n})*→{n}(@{n})?".replace("{n}", NAME_PATTERN.pattern))
"""A cross-domain pair: `<source>[+<source>…]→<target>[@<representation>]`."""


def check_pair(kind: str, name: str) -> str:
    """`name` when it is a cross-domain pair name (PAIR_PATTERN); else LayoutError."""
    if not isinstance(name, str) or not PAIR_PATTERN.fullmatch(name):
        raise LayoutError(f"{kind} {name!r} is not a cross-domain pair: expected "
                          "<source>[+<source>…]→<target>[@<representation>]")
    return name


def check_variant(name: str) -> str:
    """`name` when it is a variant name (`quick`, `quick-<h>`, `cfg-<h>`); else LayoutError."""
    if not isinstance(name, str) or not VARIANT_PATTERN.fullmatch(name):
        raise LayoutError(f"variant {name!r}: expected quick, quick-<10 hex> or cfg-<10 hex>")
    return name


def variant_of(config: Any, *, quick: bool, default_config: Any, quick_config: Any,
               ) -> str | None:
    """The variant directory of a run (None = the default layout): see the module docstring.
    Configs are dataclasses (or anything benchmark.records.plain turns into JSON)."""
    from benchmark.records import plain

    if not quick and plain(config) == plain(default_config):
        return None
    if quick and plain(config) == plain(quick_config):
        return QUICK
    digest = hashlib.sha256(json.dumps(plain(config), sort_keys=True,
                                       separators=(",", ":")).encode()).hexdigest()[:10]
    return f"{'quick' if quick else 'cfg'}-{digest}"


def _component(part: str) -> str:
    if not part or part in (".", "..") or part.startswith(".") or _FORBIDDEN.search(part):
        raise LayoutError(f"{part!r} cannot be a folder or file name under the results folder")
    return part


def inside(results_dir: Path, path: Path) -> Path:
    """`path` when it resolves inside `results_dir` (symlinks followed); else LayoutError."""
    root = Path(results_dir).resolve()
    resolved = Path(path).resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise LayoutError(f"{path} resolves to {resolved}, outside the results folder {root}")
    return Path(path)


PLAN_SEPARATOR = "@"
"""Between a dataset and a label plan key in a label-budget run's dataset name."""
DATA_VARIANT_SEPARATOR = "~"
"""Between a dataset and a data variant key (benchmark.data.variants.VARIANT_SEPARATOR)."""
CROSS_DOMAIN_DIR = "crossdomain"


@dataclass(frozen=True)
class RunKey:
    """Where one run lives: see the module docstring (every default adds no path component)."""

    dataset: str
    """The base dataset (a card name), or a cross-domain pair."""
    model: str
    seed: int
    variant: str | None = None
    """The config variant folder (quick / quick-<h> / cfg-<h>); None = the default config."""
    label_plan: str | None = None
    """The label-budget plan key (benchmark.labelling.grid.LabelPlan.key); None = ground truth."""
    shots: int | None = None
    """K of a cross-domain run (benchmark.crossdomain); None = not cross-domain."""
    data_variant: str | None = None
    """The data-preparation variant key (benchmark.data.variants); None = the card's data."""

    @property
    def data_name(self) -> str:
        """The name of the data the run sees: `<dataset>[~<data variant key>]`."""
        if self.data_variant is None:
            return self.dataset
        return f"{self.dataset}{DATA_VARIANT_SEPARATOR}{self.data_variant}"

    @property
    def record_dataset(self) -> str:
        """The dataset name a record of this run carries (and its dataset folder)."""
        if self.label_plan is None:
            return self.data_name
        return f"{self.data_name}{PLAN_SEPARATOR}{self.label_plan}"

    @property
    def cross_domain(self) -> bool:
        return self.shots is not None

    def parts(self) -> tuple[str, ...]:
        """The folders of the run below an area (`runs`, `models`)."""
        return (*self._head(), *([self.variant] if self.variant else []),
                *([f"shots{int(self.shots)}"] if self.shots is not None else ()))

    def _head(self) -> tuple[str, ...]:
        return (*([CROSS_DOMAIN_DIR] if self.shots is not None else ()), self.record_dataset,
                self.model)

    def checkpoint_parts(self) -> tuple[str, ...]:
        """The folders of the run's checkpoint below `checkpoints/` (the file name carries the
        hash of what is trained, so no variant level; no K level: every K of a cross-domain run
        shares one training)."""
        return self._head()


@dataclass(frozen=True)
class ResultsLayout:
    """Every path under one results folder (see the module docstring)."""

    root: Path

    def record(self, key: RunKey) -> Path:
        """`runs/<parts>/seed<k>.json`: the run's record."""
        return self._file("runs", key.parts(), f"seed{int(key.seed)}.json")

    def model(self, key: RunKey) -> Path:
        """`models/<parts>/seed<k>.pt`: the run's saved model."""
        return self._file("models", key.parts(), f"seed{int(key.seed)}.pt")

    def scores(self, key: RunKey) -> Path:
        """`models/<parts>/seed<k>.scores.npz`: the run's test scores."""
        return self._file("models", key.parts(), f"seed{int(key.seed)}.scores.npz")

    def checkpoint(self, key: RunKey, config_hash: str) -> Path:
        """`checkpoints/<dataset>/<model>/seed<k>-<hash[:16]>.pt`: the run's end-of-epoch
        checkpoint (`config_hash`: the hash of what it trains)."""
        return self._file("checkpoints", key.checkpoint_parts(),
                          f"seed{int(key.seed)}-{config_hash[:16]}.pt")

    def tables(self, variant: str | None = None) -> Path:
        """Where the report's tables go (a variant's in `tables/<variant>/`)."""
        return Path(self.root).joinpath("tables", *([check_variant(variant)] if variant else []))

    def figures(self, variant: str | None = None) -> Path:
        """Where the report's figures go (a variant's in `figures/<variant>/`)."""
        return Path(self.root).joinpath("figures", *([check_variant(variant)] if variant else []))

    def _file(self, area: str, parts: tuple[str, ...], filename: str) -> Path:
        path = Path(self.root) / area
        for part in (*parts, filename):
            path = path / _component(part)
        return inside(self.root, path)


def run_file(results_dir: Path, area: str, dataset: str, model: str, variant: str | None,
             filename: str) -> Path:
    """`<results>/<area>/<dataset>/<model>[/<variant>]/<filename>`, checked (see module doc)."""
    return ResultsLayout(Path(results_dir))._file(
        area, (dataset, model, *([variant] if variant else [])), filename)


def record_path(results_dir: Path, dataset: str, model: str, seed: int,
                variant: str | None = None) -> Path:
    """Where the record of one run lives."""
    return ResultsLayout(Path(results_dir)).record(RunKey(dataset, model, seed, variant))


def model_path(results_dir: Path, dataset: str, model: str, seed: int,
               variant: str | None = None) -> Path:
    """Where the saved model of one run lives."""
    return ResultsLayout(Path(results_dir)).model(RunKey(dataset, model, seed, variant))


def scores_path(results_dir: Path, dataset: str, model: str, seed: int,
                variant: str | None = None) -> Path:
    """Where the test scores of one run live."""
    return ResultsLayout(Path(results_dir)).scores(RunKey(dataset, model, seed, variant))


def checkpoint_path(results_dir: Path, dataset: str, model: str, seed: int,
                    config_hash: str) -> Path:
    """Where the checkpoint of one run lives (unique per config hash, so no variant level)."""
    return ResultsLayout(Path(results_dir)).checkpoint(RunKey(dataset, model, seed), config_hash)


def cross_domain_record_path(results_dir: Path, pair: str, model: str, shots: int,
                             seed: int, variant: str | None = None) -> Path:
    """Where the record of one cross-domain run (pair, model, K shots, seed) lives:
    `<results>/runs/crossdomain/<pair>/<model>/[<variant>/]shots<K>/seed<k>.json` (checked like
    run_file). Only `--quick` cross-domain runs get a variant folder: the committed full-data
    records were run with `--set` overrides at the default path."""
    return ResultsLayout(Path(results_dir)).record(RunKey(pair, model, seed, variant,
                                                          shots=int(shots)))


def record_variant(extras: dict[str, Any]) -> str | None:
    """The variant a record was written under (its `extras["variant"]`; None = default)."""
    variant = extras.get("variant") if isinstance(extras, dict) else None
    return variant if isinstance(variant, str) else None


# ---------------------------------------------------------------- reading safely

class NotRegularFile(OSError):
    """A path that is a symlink, FIFO, socket, device or directory where a file was expected."""


def read_regular(path: Path) -> bytes:
    """The bytes of the regular file at `path`, opened without following a symlink and without
    blocking on a FIFO. FileNotFoundError when missing; NotRegularFile (naming the kind) for
    anything but a regular file; other OSErrors as raised."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise NotRegularFile(f"{path} is a symbolic link, not a file") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{path} is {_kind(mode)}, not a regular file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def scan_files(root: Path, dirs: int, name: re.Pattern[str]) -> Iterator[Path]:
    """Regular files whose name matches `name`, exactly `dirs` real directories below `root`,
    sorted. Symlinks (to files or directories) and special files met on the way are skipped
    with a warning naming them; nothing is followed or opened."""
    root = Path(root)
    level = [root] if root.is_dir() and not root.is_symlink() else []
    for depth in range(dirs + 1):
        found: list[Path] = []
        for directory in level:
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError as err:
                log.warning("cannot list %s: %s", directory, err)
                continue
            for entry in entries:
                path = Path(entry.path)
                if entry.is_symlink():
                    log.warning("skipping %s: a symbolic link (the results folder is read "
                                "without following links)", path)
                elif entry.is_dir(follow_symlinks=False):
                    if depth < dirs:
                        found.append(path)
                elif depth == dirs and name.fullmatch(entry.name):
                    if entry.is_file(follow_symlinks=False):
                        found.append(path)
                    else:
                        log.warning("skipping %s: not a regular file (FIFO, socket or device)",
                                    path)
        level = found
    yield from sorted(level)
