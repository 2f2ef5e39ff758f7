"""Fig. 2: each model's test (recall, precision) at τ on iso-F1 curves, one figure per dataset.

A filled marker is our mean over seeds with ±1 std error bars (numpy, ddof = 0); a hollow marker
of the same colour is the paper's point (Table I/III) where it reports one.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from benchmark.records import RunRecord
from benchmark.report.aggregate import (
    DATASET_ORDER,
    MODEL_ORDER,
    Group,
    group_records,
    ordered,
)
from benchmark.report.paper_reference import (
    dataset_display_name,
    display_name,
    paper_value,
)

log = logging.getLogger(__name__)

MARKERS = "osD^vP*Xhp<>"


def write_figures(records: list[RunRecord], out_dir: Path) -> list[Path]:
    """`iso_f1_<dataset>.png` and `.pdf` for every dataset with records; returns the paths."""
    groups = group_records(records)
    out_dir = Path(out_dir)
    paths = []
    present = {d for d, _ in groups}
    for dataset in (d for d in ordered(present, DATASET_ORDER) if d in present):
        fig = iso_f1_figure(dataset, [g for (d, _), g in groups.items() if d == dataset])
        paths += save_png_pdf(fig, out_dir, f"iso_f1_{dataset}")
    return paths


def save_png_pdf(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    """`<out_dir>/<stem>.png` and `.pdf` (save_figure); returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{ext}" for ext in ("png", "pdf")]
    for path in paths:
        save_figure(fig, path)
    return paths


def save_figure(fig: Figure, path: Path) -> None:
    """PNG or PDF at 150 dpi, without a creation date, so a rebuild from the same records gives
    the same bytes."""
    metadata = {"CreationDate": None} if path.suffix == ".pdf" else None
    fig.savefig(path, dpi=150, bbox_inches="tight", metadata=metadata)


def iso_f1_figure(dataset: str, groups: list[Group]) -> Figure:
    """Precision (y) against recall (x) for every model of one dataset, on iso-F1 curves.

    A bare matplotlib Figure (Agg canvas by default): no pyplot, no global backend switch.
    """
    fig = Figure(figsize=(8.4, 5.6))
    ax = fig.subplots()
    colours = colormaps["tab10"]
    points: list[float] = []
    handles, skipped, has_paper = [], [], False
    for i, group in enumerate(sorted(groups, key=lambda g: _order_key(g.model))):
        colour, marker = colours(i % 10), MARKERS[i % len(MARKERS)]
        recall, precision = group.stat("recall"), group.stat("precision")
        if recall.n == 0 or precision.n == 0:
            skipped.append(group.model)
        else:
            ax.errorbar(recall.mean, precision.mean, xerr=recall.std, yerr=precision.std,
                        fmt=marker, color=colour, markersize=8, capsize=3, zorder=3)
            points += [recall.mean - recall.std, precision.mean - precision.std]
        paper_r = paper_value(dataset, group.paper_row, "recall")
        paper_p = paper_value(dataset, group.paper_row, "precision")
        if paper_r is not None and paper_p is not None:
            ax.plot(paper_r.mean, paper_p.mean, marker, markerfacecolor="none", color=colour,
                    markersize=9, markeredgewidth=1.5, zorder=2)
            points += [paper_r.mean, paper_p.mean]
            has_paper = True
        handles.append(Line2D([], [], linestyle="none", marker=marker, color=colour,
                              markersize=8,
                              label=f"{display_name(group.paper_row)} (n={len(group.seeds)}"
                                    f"{', quick' if group.quick else ''}"
                                    f"{', set' if group.overridden else ''})"))
    if skipped:
        log.warning("%s: no defined precision/recall for %s; left out of the figure", dataset,
                    ", ".join(skipped))
    handles.append(Line2D([], [], linestyle="none", marker="o", color="0.3",
                          label="ours: mean ± std (ddof 0)"))
    if has_paper:
        handles.append(Line2D([], [], linestyle="none", marker="o", color="0.3",
                              markerfacecolor="none", label="paper (Table I / III)"))
    handles.append(Line2D([], [], color="0.6", linewidth=0.8, label="iso-F1 curve"))
    lo = _axis_floor(points)
    _draw_iso_f1(ax, lo)
    ax.set(xlim=(lo, 1.005), ylim=(lo, 1.005), xlabel="Recall (test, at τ)",
           ylabel="Precision (test, at τ)", aspect="equal",
           title=f"{dataset_display_name(dataset)}: precision–recall at the validation threshold τ")
    ax.grid(alpha=0.25)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8,
              frameon=False)
    return fig


def _draw_iso_f1(ax: Axes, lo: float) -> None:
    """Iso-F1 curves p = f·r / (2r − f) for F1 levels spread over the visible range."""
    levels = [f for f in np.round(np.arange(0.1, 1.0, 0.1), 2) if f > lo]
    if lo >= 0.5:
        levels += [0.95]
    if lo >= 0.8:
        levels += [0.98, 0.99]
    for f in sorted(set(levels)):
        r = np.linspace(max(f / 2 + 1e-3, lo), 1, 400)
        p = f * r / (2 * r - f)
        keep = (p >= lo) & (p <= 1)
        if not keep.any():
            continue
        ax.plot(r[keep], p[keep], color="0.6", linewidth=0.8, zorder=1)
        ax.annotate(f"F1={f:g}", (r[keep][0], p[keep][0]), fontsize=7, color="0.45",
                    xytext=(3, -3), textcoords="offset points", ha="left", va="top")


def _axis_floor(points: list[float]) -> float:
    """Lower axis limit: 0, or zoomed in (steps of 0.1) when every point is high."""
    finite = [v for v in points if math.isfinite(v)]
    if not finite:
        return 0.0
    return float(np.clip(math.floor((min(finite) - 0.05) * 10) / 10, 0.0, 0.9))


def _order_key(model: str) -> tuple[int, str]:
    return (MODEL_ORDER.index(model), model) if model in MODEL_ORDER else (len(MODEL_ORDER), model)

