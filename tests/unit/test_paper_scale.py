"""bench/paper_scale.py: `--device cuda` without CUDA says so and exits 0 before any work; the
paper-grid projection and the clocks."""

from __future__ import annotations

import torch
from bench_scripts import load_bench_script


def load_script():
    return load_bench_script("paper_scale")


def test_cuda_without_cuda_exits_0_before_any_work(tmp_path, monkeypatch, capsys) -> None:
    script = load_script()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    work = tmp_path / "work"
    assert script.main(["--device", "cuda", "--work-dir", str(work)]) == 0
    out = capsys.readouterr().out
    assert "--device cuda needs CUDA" in out and "nothing measured" in out
    assert not work.exists()  # no log generated, nothing prepared


def test_cpu_needs_nothing_and_clock_is_cpu_time() -> None:
    script = load_script()
    assert script.needs_cuda("cpu") is None
    assert script.make_clock(False) is __import__("time").process_time
    assert len(script.PAPER_MODELS) == 7
