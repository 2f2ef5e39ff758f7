"""Torch thread policy: how many intra-op threads a training process uses.

Several processes each running as many torch threads as there are cores make the threads spin
against each other (on a busy 2-core machine one LogBERT step took 0.88 s with 1 thread and
10.06 s with 2). The policy: with more than one worker, one thread per worker; with one worker,
one thread per core (`os.cpu_count()`). The count never depends on the machine's momentary load,
because a different thread count may change a float reduction's last bit and so the numbers;
on a machine shared with other jobs pass `--threads 1`. `--threads N` overrides it. The grid
hands the count to its runs (benchmark.run.RunContext); bench scripts' workers read it from the
environment variable THREADS_ENV. A torch-free model (benchmark.capabilities) gets the same
count as its BLAS / OpenMP thread-pool limit (benchmark.run); torch is imported only to set
torch's own count.
"""

from __future__ import annotations

import os

THREADS_ENV = "LOGMILP_BENCH_TORCH_THREADS"


def default_threads(jobs: int) -> int:
    """Torch threads per process for `jobs` parallel processes on this machine (≥ 1)."""
    return 1 if jobs > 1 else (os.cpu_count() or 1)


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
