"""Where the project's files live: the dataset cards, the data directory (raw logs and caches).

Run from a source checkout, both are the checkout's `datasets/` (cards are read from the tree, so
an edited card takes effect at once). Installed (`pip install .`), the cards are package data
(`benchmark.cards`, mapped to `datasets/` at build time) and the data directory is
`$LOGMILP_DATA_DIR`, else `./datasets` in the current folder.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

DATA_DIR_ENV = "LOGMILP_DATA_DIR"
_CHECKOUT = Path(__file__).resolve().parents[1]


def source_checkout() -> Path | None:
    """The repository root when the code runs from a checkout (editable install or PYTHONPATH)."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "datasets").is_dir():
        return _CHECKOUT
    return None


def cards_dir() -> Traversable:
    """The directory of dataset cards (`<name>.toml`)."""
    checkout = source_checkout()
    if checkout is not None:
        return checkout / "datasets"
    return resources.files("benchmark.cards")


def default_data_dir() -> Path:
    """Where raw/ and cache/ live unless `--data-dir` says otherwise."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    checkout = source_checkout()
    return checkout / "datasets" if checkout is not None else Path.cwd() / "datasets"
