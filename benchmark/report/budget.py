"""The label-budget report (ALPHA): F1 against labels used, and the annotation each model saves.

A label-budget record carries `extras["label_budget"]` (base dataset, curve = labeller and its
options, budget, pipeline summary; benchmark.labelling.grid) and names the dataset
`<base>@<plan key>`; it never enters Tables I–III. Per base dataset:
- `figures/label_budget_<dataset>.{png,pdf}`: test F1 (mean ± std over seeds, ddof = 0) against
  the labels the pipeline used (mean over seeds, log x-axis), one panel per curve, one line per
  model; a dashed line at the model's full-label F1.
- `tables/annotation_saved.{md,csv}`: per (dataset, curve, model) the F1 at every budget, the
  smallest budget whose mean F1 reaches 95 % of the full-label F1, and the annotation saved there
  (1 − labels used / units). Full-label F1 = the mean F1 of the model's ground-truth runs on the
  base dataset, else of its `oracle` budget-1.0 runs (identical numbers by construction).
- `tables/label_budget.csv`: one tidy row per (dataset, curve, model, budget).
No torch import.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from tabulate import tabulate

from benchmark.records import RunRecord
from benchmark.report.aggregate import MODEL_ORDER, Group, group_records, ordered
from benchmark.report.figures import save_figure
from benchmark.report.paper_reference import dataset_display_name, display_name

TARGET = 0.95
"""A model 'reaches' a budget when its mean F1 there is ≥ TARGET × its full-label F1."""

EXTRAS_KEY = "label_budget"
POINT_FIELDS = ("dataset", "curve", "model", "budget", "seeds", "labels_used", "units",
                "fraction_used", "f1_mean", "f1_std", "auc_mean", "auc_std",
                "train_bag_label_accuracy")
SAVED_FIELDS = ("dataset", "curve", "model", "full_f1", "full_f1_source", "budget_reached",
                "labels_used", "annotation_saved")


def budget_records(records: list[RunRecord]) -> list[RunRecord]:
    """The label-budget records among `records` (the others belong to Tables I–III)."""
    return [r for r in records if EXTRAS_KEY in r.extras]


def plain_records(records: list[RunRecord]) -> list[RunRecord]:
    """The ground-truth records among `records`."""
    return [r for r in records if EXTRAS_KEY not in r.extras]


@dataclass(frozen=True)
class Point:
    """One (dataset, curve, model, budget) over its seeds."""

    dataset: str
    curve: str
    model: str
    budget: float
    group: Group
    labels_used: float
    units: float
    fraction_used: float
    bag_accuracy: float


def budget_points(records: list[RunRecord]) -> list[Point]:
    """Label-budget records grouped by (dataset, curve, model, budget), sorted that way."""
    points = []
    for group in group_records(budget_records(records)).values():
        plans = [r.extras[EXTRAS_KEY] for r in group.records]
        summaries = [p["summary"] for p in plans]
        points.append(Point(
            plans[0]["base_dataset"], plans[0]["curve"], group.model, float(plans[0]["budget"]),
            group, _mean(s["labels_used"] for s in summaries), _mean(s["units"] for s in summaries),
            _mean(s["fraction_used"] for s in summaries),
            _mean(s["bag"]["accuracy"] for s in summaries)))
    return sorted(points, key=lambda p: (p.dataset, p.curve, _model_key(p.model), p.budget))


def full_label_f1(records: list[RunRecord], points: list[Point]
                  ) -> dict[tuple[str, str], tuple[float, str]]:
    """(dataset, model) → (full-label mean F1, where it comes from)."""
    reference: dict[tuple[str, str], tuple[float, str]] = {}
    for point in points:
        if point.curve == "oracle" and point.budget == 1.0:
            reference[point.dataset, point.model] = (point.group.stat("f1").mean,
                                                     "oracle, budget 1")
    for (dataset, model), group in group_records(plain_records(records)).items():
        reference[dataset, model] = (group.stat("f1").mean, "ground truth")
    return reference


def write_budget_report(records: list[RunRecord], tables_dir: Path, figures_dir: Path
                        ) -> list[Path]:
    """The figure per base dataset and the two tables; nothing when no label-budget record."""
    points = budget_points(records)
    if not points:
        return []
    reference = full_label_f1(records, points)
    tables_dir, figures_dir = Path(tables_dir), Path(figures_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for dataset in ordered({p.dataset for p in points}, ()):
        fig = budget_figure(dataset, [p for p in points if p.dataset == dataset], reference)
        for ext in ("png", "pdf"):
            path = figures_dir / f"label_budget_{dataset}.{ext}"
            save_figure(fig, path)
            paths.append(path)
    paths.append(_write_csv(tables_dir / "label_budget.csv", POINT_FIELDS,
                            [_point_row(p) for p in points]))
    rows = annotation_saved(points, reference)
    paths.append(_write_csv(tables_dir / "annotation_saved.csv", SAVED_FIELDS,
                            [{k: row[k] for k in SAVED_FIELDS} for row in rows]))
    md = tables_dir / "annotation_saved.md"
    md.write_text(_markdown(points, rows), encoding="utf-8")
    paths.append(md)
    return paths


def annotation_saved(points: list[Point], reference: dict) -> list[dict]:
    """One row per (dataset, curve, model): full-label F1, the smallest budget whose mean F1 is
    ≥ TARGET × it (None: not reached, or undefined), labels used and annotation saved there."""
    rows = []
    keys = dict.fromkeys((p.dataset, p.curve, p.model) for p in points)
    for dataset, curve, model in keys:
        line = [p for p in points if (p.dataset, p.curve, p.model) == (dataset, curve, model)]
        full, source = reference.get((dataset, model), (math.nan, "none"))
        reached = None
        if math.isfinite(full):
            reached = next((p for p in line if p.group.stat("f1").mean >= TARGET * full), None)
        rows.append({
            "dataset": dataset, "curve": curve, "model": model, "points": line,
            "full_f1": full if math.isfinite(full) else None, "full_f1_source": source,
            "budget_reached": None if reached is None else reached.budget,
            "labels_used": None if reached is None else reached.labels_used,
            "annotation_saved": None if reached is None else 1.0 - reached.fraction_used})
    return rows


def budget_figure(dataset: str, points: list[Point], reference: dict) -> Figure:
    """F1 (y) against labels used (x, log) for one base dataset: a panel per curve.

    A bare matplotlib Figure (Agg canvas by default): no pyplot, no global backend switch.
    """
    curves = list(dict.fromkeys(p.curve for p in points))
    fig = Figure(figsize=(5.2 * len(curves) + 1.8, 4.4))
    axes = fig.subplots(1, len(curves), squeeze=False, sharey=True)[0]
    models = sorted({p.model for p in points}, key=_model_key)
    colours = colormaps["tab10"]
    for ax, curve in zip(axes, curves, strict=True):
        for i, model in enumerate(models):
            line = [p for p in points if p.curve == curve and p.model == model]
            if not line:
                continue
            stats = [p.group.stat("f1") for p in line]
            x = np.array([p.labels_used for p in line])
            y = np.array([s.mean for s in stats])
            err = np.array([s.std for s in stats])
            group = line[0].group
            seeds = max(len(p.group.seeds) for p in line)
            label = (f"{display_name(group.paper_row)} (n={seeds}"
                     f"{', quick' if group.quick else ''}{', set' if group.overridden else ''})")
            ax.errorbar(x, y, yerr=err, marker="o", color=colours(i % 10), capsize=3,
                        label=label)
            full = reference.get((dataset, model), (math.nan, ""))[0]
            if math.isfinite(full):
                ax.axhline(full, color=colours(i % 10), linestyle="--", linewidth=0.8)
        ax.set_xscale("log")
        ax.set(xlabel="labels used (training lines asked about, mean over seeds)",
               title=f"labeller: {curve}", ylim=(0, 1.02))
        ax.grid(alpha=0.25, which="both")
    axes[0].set_ylabel("test F1 (mean ± std over seeds)")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False,
                    title="dashed: full-label F1", title_fontsize=8)
    fig.suptitle(f"{dataset_display_name(dataset)}: F1 against the labels used "
                 f"(ALPHA label budget)")
    return fig


def _markdown(points: list[Point], rows: list[dict]) -> str:
    budgets = sorted({p.budget for p in points})
    seeds = max(len(p.group.seeds) for p in points)
    headers = ["curve", "model", "full-label F1", *[f"F1 @ {b:g}" for b in budgets],
               f"budget reaching {TARGET:.0%}", "labels used", "annotation saved"]
    parts = [f"# Annotation saved: the smallest label budget at which a model reaches "
             f"{TARGET:.0%} of its full-label F1\n"]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        table = []
        for row in (r for r in rows if r["dataset"] == dataset):
            by_budget = {p.budget: p for p in row["points"]}
            cells = [_fmt_stat(by_budget[b].group, seeds) if b in by_budget else "–"
                     for b in budgets]
            reached = row["budget_reached"] is not None
            table.append([
                row["curve"], display_name(row["points"][0].group.paper_row),
                "n/a" if row["full_f1"] is None else f"{row['full_f1']:.4f}", *cells,
                f"{row['budget_reached']:g}" if reached else "not reached",
                f"{row['labels_used']:.0f}" if reached else "–",
                f"{row['annotation_saved']:.1%}" if reached else "–"])
        parts.append(f"## {dataset_display_name(dataset)}\n")
        parts.append(tabulate(table, headers=headers, tablefmt="github", disable_numparse=True))
        parts.append("")
    flags = [p.group for p in points]
    parts += [
        "- F1 = test F1 at the validation threshold τ, mean ± std over seeds (ddof = 0); "
        "validation and test keep the ground truth, only the training labels come from the "
        "pipeline.",
        "- full-label F1: the model's ground-truth runs on the dataset (else its oracle runs at "
        "budget 1, which give the same numbers); annotation saved = 1 − labels used / training "
        "lines, at the budget reached.",
        "- A budget is reached when the mean F1 there is ≥ 95 % of the full-label F1; seeds and "
        "test bags are few, so a budget below 1 can exceed the full-label F1 by noise."]
    if any(g.quick for g in flags):
        parts.append("- (quick) runs: small synthetic data and short training; not comparable "
                     "with the paper.")
    if any(g.overridden for g in flags):
        parts.append("- Some runs used `--set` overrides (see the records' config_overrides).")
    return "\n".join(parts) + "\n"


def _point_row(p: Point) -> dict:
    f1, auc = p.group.stat("f1"), p.group.stat("auc")
    return {"dataset": p.dataset, "curve": p.curve, "model": p.model, "budget": p.budget,
            "seeds": len(p.group.seeds), "labels_used": p.labels_used, "units": p.units,
            "fraction_used": p.fraction_used, "f1_mean": f1.mean, "f1_std": f1.std,
            "auc_mean": auc.mean, "auc_std": auc.std, "train_bag_label_accuracy": p.bag_accuracy}


def _write_csv(path: Path, fields: tuple[str, ...], rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows({k: "" if v is None or (isinstance(v, float) and not math.isfinite(v))
                          else v for k, v in row.items()} for row in rows)
    return path


def _fmt_stat(group: Group, seeds: int) -> str:
    """mean ± std of F1; `(n=k)` when fewer than `seeds` seeds have a defined F1 (a run failed
    or was not run)."""
    stat = group.stat("f1")
    if stat.n == 0:
        return "n/a"
    cell = f"{stat.mean:.4f}" if stat.n == 1 else f"{stat.mean:.4f} ± {stat.std:.4f}"
    return cell if stat.n >= seeds else f"{cell} (n={stat.n})"


def _mean(values) -> float:
    return float(np.mean([float(v) for v in values]))


def _model_key(model: str) -> tuple[int, str]:
    return (MODEL_ORDER.index(model), model) if model in MODEL_ORDER else (len(MODEL_ORDER), model)
