"""The cost ledger of a run: what fitting and evaluating a model cost, recorded in `timings`.

Keys (all numbers; a key is absent when it does not apply):
- `fit_seconds`, `adapt_seconds` (cross-domain: the K-shot adaptation), `evaluate_seconds`: wall
  time (`time.perf_counter`);
- `fit_cpu_seconds`, `adapt_cpu_seconds`, `evaluate_cpu_seconds`: CPU time of the whole process
  over the same span (`time.process_time`, all threads: above the wall time when torch uses
  several threads);
- `peak_rss_mb`: peak resident memory (MiB) of the process during fit + evaluation when the
  kernel lets the peak be reset (Linux `/proc/self/clear_refs`, `peak_rss_scope_run` = 1), else
  the process's peak since it started (`peak_rss_scope_run` = 0: includes earlier runs and data
  preparation in the same process);
- `peak_gpu_mb`: peak CUDA memory allocated by torch during the run (CUDA runs only);
- `parameters`: trainable and frozen parameters of the fitted network (`model.net_`);
- `train_steps`: optimiser steps taken (the trainer's `TrainHistory.steps`; after a resume, the
  steps of every epoch including those before it);
- `labeller_calls`: (label-budget runs) queries sent to the labeller.
- `labeller_tokens_sent`, `labeller_tokens_received`: (LLM labeller) tokens as its server
  reported them (`usage.prompt_tokens` / `usage.completion_tokens`).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PHASES = ("fit", "adapt", "evaluate")


class CostLedger:
    """Measures the phases of one run; `timings()` is the record's ledger."""

    def __init__(self, device: str) -> None:
        self.device = str(device)
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self._rss_reset = reset_peak_rss()
        if self._cuda():
            import torch

            torch.cuda.reset_peak_memory_stats()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the body as phase `name` (wall and process CPU seconds)."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - wall
            self.cpu_seconds[name] = time.process_time() - cpu

    def timings(self, model: Any, extras: dict[str, Any] | None = None) -> dict[str, float]:
        """The ledger: seconds per phase, memory peaks, parameters, steps, labeller calls."""
        out: dict[str, float] = {}
        for name in PHASES:
            if name in self.seconds:
                out[f"{name}_seconds"] = self.seconds[name]
                out[f"{name}_cpu_seconds"] = self.cpu_seconds[name]
        out["peak_rss_mb"] = peak_rss_mb()
        out["peak_rss_scope_run"] = 1 if self._rss_reset else 0
        if self._cuda():
            import torch

            out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
        params = parameter_count(model)
        if params is not None:
            out["parameters"] = params
        from benchmark.capabilities import HasHistory

        history = model.history_ if isinstance(model, HasHistory) else None
        steps = None if history is None else history.steps
        if steps is not None:
            out["train_steps"] = int(steps)
        summary = ((extras or {}).get("label_budget") or {}).get("summary", {})
        if summary.get("queries") is not None:
            out["labeller_calls"] = int(summary["queries"])
        for key in ("sent", "received"):
            if key in (summary.get("tokens") or {}):
                out[f"labeller_tokens_{key}"] = int(summary["tokens"][key])
        return out

    def _cuda(self) -> bool:
        return self.device.startswith("cuda")


def parameter_count(model: Any) -> int | None:
    """Parameters of the model's fitted network (`net_`), None when it has none."""
    from benchmark.capabilities import HasNetwork

    net = model.net_ if isinstance(model, HasNetwork) else None
    if net is None:
        return None
    from torch import nn  # a model with a network has imported torch already

    if not isinstance(net, nn.Module):
        return None
    return int(sum(p.numel() for p in net.parameters()))


def reset_peak_rss() -> bool:
    """Reset the process's peak RSS (Linux: write 5 to /proc/self/clear_refs); True if done."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """Peak RSS of this process in MiB: VmHWM (/proc, resettable), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
