"""Torch thread policy: how many intra-op threads a training process uses.

The policy: one torch thread per run, whatever `--jobs` and the backend (local processes or
Dask workers); `--threads N` overrides it and is recorded (`torch_threads`). A different thread
count may change a float reduction's last bit, hence a run's numbers: with one thread per run,
the same seed on the same machine gives the same record whether the grid ran with `--jobs 1`,
`--jobs 2` or `--backend dask` (tested, tests/e2e/test_backends.py). The count never depends on
the machine's momentary load or core count. (Several processes each running as many threads as
there are cores also spin against each other: on a busy 2-core machine one LogBERT step took
0.88 s with 1 thread and 10.06 s with 2.) The grid
hands the count to its runs (benchmark.run.RunContext); bench scripts' workers read it from the
environment variable THREADS_ENV. A torch-free model (benchmark.capabilities) gets the same
count as its BLAS / OpenMP thread-pool limit (benchmark.run); torch is imported only to set
torch's own count.
"""

from __future__ import annotations

import os

THREADS_ENV = "LOGMILP_BENCH_TORCH_THREADS"


DEFAULT_THREADS = 1
"""Torch threads per run unless `--threads` says otherwise."""


def default_threads(jobs: int = 1) -> int:
    """Torch threads per run for `jobs` parallel runs: always DEFAULT_THREADS (the count must
    not depend on the parallelism, or the records would)."""
    del jobs  # kept in the signature: callers state their parallelism, it changes nothing
    return DEFAULT_THREADS


def apply_thread_policy(threads: int | None, jobs: int = 1) -> int:
    """Set this process's torch threads (`threads`, else the default for `jobs`) and export
    the per-worker count for child workers; returns the count set here."""
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    import torch

    count = threads if threads is not None else default_threads(jobs)
    os.environ[THREADS_ENV] = str(count)
    torch.set_num_threads(count)
    return count


def apply_worker_threads() -> int:
    """In a worker process: the count exported by `apply_thread_policy` (default 1)."""
    import torch

    count = int(os.environ.get(THREADS_ENV, "1"))
    torch.set_num_threads(count)
    return count
