"""benchmark.threads: one torch thread per worker when processes share the cores; --threads wins."""

from __future__ import annotations

import argparse
import os

import pytest
import torch

from benchmark.cli import threads_arg
from benchmark.threads import (
    THREADS_ENV,
    apply_thread_policy,
    apply_worker_threads,
    default_threads,
)


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch: pytest.MonkeyPatch):
    before = torch.get_num_threads()
    monkeypatch.delenv(THREADS_ENV, raising=False)
    yield
    torch.set_num_threads(before)


def test_one_thread_per_run_whatever_the_jobs() -> None:
    assert default_threads(1) == default_threads(2) == default_threads(8) == 1


def test_count_ignores_cores_and_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.5, 9.0, 8.0))
    assert default_threads(1) == 1  # deterministic: the numbers must not depend on the machine


def test_override_reaches_this_process_and_workers() -> None:
    assert apply_thread_policy(1, jobs=2) == 1
    assert torch.get_num_threads() == 1 and os.environ[THREADS_ENV] == "1"
    apply_thread_policy(2, jobs=2)
    torch.set_num_threads(1)
    assert apply_worker_threads() == 2 and torch.get_num_threads() == 2


def test_threads_arg_rejects_non_positive() -> None:
    assert threads_arg("3") == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(argparse.ArgumentTypeError):
            threads_arg(bad)
