"""Test helper: run the runner on the tiny dataset and SIGKILL this process right after the
checkpoint of epoch N is written (a real kill: no cleanup, no exception handlers).

Usage: python tests/kill_at_epoch.py N RUN_ALL_ARGS...
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from conftest import make_tiny_dataset  # noqa: E402

from benchmark import checkpoint, cli, grid  # noqa: E402


def main() -> int:
    kill_at, argv = int(sys.argv[1]), sys.argv[2:]
    torch.set_num_threads(1)
    save = checkpoint.save

    def save_then_die(path, state):
        save(path, state)
        if state.payload["epoch"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoint.save = save_then_die
    source = grid.DataSource(  # named as asked: a cross-domain pair of two tiny datasets
        prepare=lambda name, **_: replace(make_tiny_dataset(bags_per_split=24), name=name),
        identity=lambda name, **_: {"card": "tiny"})
    return cli.run_all_main(argv, source)


if __name__ == "__main__":
    sys.exit(main())
