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


def test_several_jobs_get_one_thread_each() -> None:
    assert default_threads(2) == 1
    assert default_threads(8) == 1
    assert default_threads(1) == (os.cpu_count() or 1)


def test_one_job_uses_every_core_whatever_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.5, 9.0, 8.0))
    assert default_threads(1) == 2  # deterministic: the numbers must not depend on the load


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
