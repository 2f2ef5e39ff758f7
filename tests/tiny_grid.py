"""Test helper: `run_all.py` on the tiny in-memory dataset (tests/conftest.py), as a process of
its own, for tests that signal or kill a real grid.

Usage: python tests/tiny_grid.py RUN_ALL_ARGS...   (dataset name: tiny)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from conftest import make_tiny_dataset  # noqa: E402

from benchmark import cli, grid  # noqa: E402


def tiny_source() -> grid.DataSource:
    return grid.DataSource(prepare=lambda name, **_: make_tiny_dataset(bags_per_split=24),
                           identity=lambda name, **_: {"card": "tiny"})


if __name__ == "__main__":
    sys.exit(cli.run_all_main(sys.argv[1:], tiny_source()))
