"""Are two record sets equivalent? The rule of issue 24 for a change of the execution path.

    python -m benchmark compare-records e800bfe results          # committed records vs a rerun
    python -m benchmark compare-records OLD_RESULTS NEW_RESULTS --markdown

A record set is a results directory (its `runs/<dataset>/<model>/seed<N>.json`, the default
variant only) or a git revision, whose committed `results/runs/<dataset>/…` records are read with
`git show` (nothing is checked out). For every model present on either side, over the seeds
asked for (default 0 1 2), one line: the mean of each compared metric on both sides, the
difference Δ = mean_new − mean_old, its tolerance, and `equivalent: yes/no`.

The rule: |Δ| ≤ max(0.02, 2 × pooled seed std) for AUC and F1, and ≤ max(0.05, 2 × pooled std)
for Loc@3 and SR, where pooled std = sqrt((s_old² + s_new²) / 2) with s the sample standard
deviation over the seeds (ddof = 1; the textbook pooled standard deviation of two groups of
equal size). A metric undefined (NaN) on every seed of both sides is skipped; undefined on one
side only is not equivalent. A model missing a seed on either side is `equivalent: n/a`.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.records import BadRecord, RunRecord

TOLERANCE_FLOORS = {"auc": 0.02, "f1": 0.02, "loc@3": 0.05, "sr": 0.05}
"""Compared metrics and the floor of their tolerance (issue 24)."""
LABELS = {"auc": "AUC", "f1": "F1", "loc@3": "Loc@3", "sr": "SR"}
STD_FACTOR = 2.0

Metrics = dict[str, float]
RecordSet = dict[str, dict[int, Metrics]]
"""model → seed → metrics."""


class RecordSetError(ValueError):
    """A record set that cannot be read (not a results directory nor a git revision, a bad
    record); the message names it."""


@dataclass(frozen=True)
class MetricDelta:
    """One metric of one model: means over seeds, Δ = new − old, tolerance, verdict."""

    metric: str
    old_mean: float
    new_mean: float
    delta: float
    tolerance: float
    ok: bool


@dataclass(frozen=True)
class ModelComparison:
    """One model's line: its metric deltas and verdict ("yes", "no" or "n/a")."""

    model: str
    deltas: tuple[MetricDelta, ...]
    verdict: str
    missing: str = ""


def pooled_std(old: Sequence[float], new: Sequence[float]) -> float:
    """sqrt((s_old² + s_new²) / 2), s the ddof = 1 standard deviation (0 with one value)."""
    def var(values: Sequence[float]) -> float:
        return float(np.var(values, ddof=1)) if len(values) > 1 else 0.0

    return math.sqrt((var(old) + var(new)) / 2.0)


def metric_delta(metric: str, old: Sequence[float], new: Sequence[float]) -> MetricDelta | None:
    """The rule for one metric over the seeds' values (NaN = undefined); None when undefined
    on every seed of both sides."""
    old_a, new_a = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
    if np.isnan(old_a).all() and np.isnan(new_a).all():
        return None
    if np.isnan(old_a).any() or np.isnan(new_a).any():
        return MetricDelta(metric, float(np.mean(old_a)), float(np.mean(new_a)), math.nan,
                           TOLERANCE_FLOORS[metric], False)
    tolerance = max(TOLERANCE_FLOORS[metric], STD_FACTOR * pooled_std(old_a, new_a))
    delta = float(new_a.mean() - old_a.mean())
    return MetricDelta(metric, float(old_a.mean()), float(new_a.mean()), delta, tolerance,
                       abs(delta) <= tolerance)


def compare_model(model: str, old: Mapping[int, Metrics], new: Mapping[int, Metrics],
                  seeds: Sequence[int]) -> ModelComparison:
    """The rule over `seeds` for one model (n/a when a seed is missing on either side)."""
    missing = [f"{side} seed {s}" for side, runs in (("old", old), ("new", new))
               for s in seeds if s not in runs]
    if missing:
        return ModelComparison(model, (), "n/a", "missing " + ", ".join(missing))
    deltas = []
    for metric in TOLERANCE_FLOORS:
        found = metric_delta(metric, [old[s].get(metric, math.nan) for s in seeds],
                             [new[s].get(metric, math.nan) for s in seeds])
        if found is not None:
            deltas.append(found)
    return ModelComparison(model, tuple(deltas), "yes" if all(d.ok for d in deltas) else "no")


def compare_record_sets(old: RecordSet, new: RecordSet,
                        seeds: Sequence[int] = (0, 1, 2)) -> list[ModelComparison]:
    """One comparison per model present on either side, in name order."""
    return [compare_model(m, old.get(m, {}), new.get(m, {}), seeds)
            for m in sorted(set(old) | set(new))]


def format_line(c: ModelComparison) -> str:
    """`model: AUC 0.8150→0.8203 Δ +0.0053 (tol 0.0540) … equivalent: yes`."""
    if c.verdict == "n/a":
        return f"{c.model}: {c.missing}; equivalent: n/a"
    parts = [f"{LABELS[d.metric]} {d.old_mean:.4f}→{d.new_mean:.4f} Δ {d.delta:+.4f} "
             f"(tol {d.tolerance:.4f})" for d in c.deltas]
    return f"{c.model}: {'  '.join(parts)}  equivalent: {c.verdict}"


def format_markdown(comparisons: Sequence[ModelComparison]) -> str:
    """A Markdown table: per model and metric, old → new mean, Δ and tolerance; the verdict."""
    header = ["model", *(LABELS[m] + " old → new (Δ / tol)" for m in TOLERANCE_FLOORS),
              "equivalent"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for c in comparisons:
        cells = {d.metric: f"{d.old_mean:.3f} → {d.new_mean:.3f} ({d.delta:+.3f} / "
                           f"{d.tolerance:.3f})" for d in c.deltas}
        row = [c.model, *(cells.get(m, "–") for m in TOLERANCE_FLOORS),
               c.verdict if not c.missing else f"n/a ({c.missing})"]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


# ---------------------------------------------------------------- reading record sets

def load_record_set(source: str, dataset: str = "synthetic",
                    repo: Path | None = None) -> RecordSet:
    """The metrics of the default-variant records of `dataset` in `source` (see
    `read_records`), as model → seed → metrics."""
    records: RecordSet = {}
    for record in read_records(source, dataset, repo):
        records.setdefault(record.model, {})[record.seed] = dict(record.metrics)
    return records


def read_records(source: str, dataset: str = "synthetic",
                 repo: Path | None = None) -> list[RunRecord]:
    """The default-variant records of `dataset` in `source`: a results directory, or a git
    revision of the repository at `repo` (default: this checkout) whose committed
    `results/runs/<dataset>/` is read (checked records; a bad one raises RecordSetError)."""
    path = Path(source)
    if path.is_dir():
        return _from_directory(path, dataset)
    root = repo or Path(__file__).resolve().parents[1]
    if _is_revision(root, source):
        return _from_revision(root, source, dataset)
    raise RecordSetError(f"{source}: neither a results directory nor a git revision of {root}")


def _checked(text: str, where: str) -> RunRecord:
    try:
        return RunRecord.from_json(text)
    except BadRecord as err:
        raise RecordSetError(f"{where}: {err}") from None


def _from_directory(results: Path, dataset: str) -> list[RunRecord]:
    runs = results / "runs" / dataset
    if not runs.is_dir():
        raise RecordSetError(f"{results}: no {runs.relative_to(results)} directory of records")
    return [_checked(file.read_text(encoding="utf-8"), str(file))
            for file in sorted(runs.glob("*/seed*.json"))]


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=False)


def _is_revision(root: Path, ref: str) -> bool:
    return _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0


def _from_revision(root: Path, ref: str, dataset: str) -> list[RunRecord]:
    prefix = f"results/runs/{dataset}/"
    listing = _git(root, "ls-tree", "-r", "--name-only", ref, prefix)
    names = [n for n in listing.stdout.splitlines()
             if n.count("/") == 4 and Path(n).name.startswith("seed") and n.endswith(".json")]
    if not names:
        raise RecordSetError(f"{ref}: no committed records under {prefix}")
    records = []
    for name in names:
        shown = _git(root, "show", f"{ref}:{name}")
        if shown.returncode:
            raise RecordSetError(f"{ref}:{name}: {shown.stderr.strip()}")
        records.append(_checked(shown.stdout, f"{ref}:{name}"))
    return records


def compare_main(old: str, new: str, dataset: str, seeds: Sequence[int],
                 markdown: bool) -> int:
    """Print one line per model (or a Markdown table); 0 when every model is equivalent,
    1 when one is not (or n/a), 2 when a record set cannot be read."""
    try:
        before, after = load_record_set(old, dataset), load_record_set(new, dataset)
    except RecordSetError as err:
        print(f"error: {err}")
        return 2
    comparisons = compare_record_sets(before, after, seeds)
    print(f"{dataset}: {old} (old) vs {new} (new), seeds {' '.join(map(str, seeds))}")
    print(format_markdown(comparisons) if markdown
          else "\n".join(format_line(c) for c in comparisons))
    return 0 if all(c.verdict == "yes" for c in comparisons) else 1
