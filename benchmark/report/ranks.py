"""Average ranks across datasets: Friedman test, Nemenyi critical difference and its diagram.

`ranks.md` lists, per metric in RANK_METRICS, the average rank of every model run on all of at
least 3 datasets (benchmark.report.significance.rank_test), Friedman's χ² and p and Nemenyi's CD;
with fewer datasets it says so. `cd_<metric>.png/.pdf` is Demšar's (2006) critical-difference
diagram: models on a rank axis (1 = best, left), a bar of length CD, and a thick line joining
each maximal group of models whose average ranks differ by less than CD (not significantly
different). Inputs: the records' seed means (no score file needed).
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure

from benchmark.records import RunRecord
from benchmark.report.aggregate import group_records
from benchmark.report.figures import save_png_pdf
from benchmark.report.paper_reference import dataset_display_name, display_name
from benchmark.report.significance import ALPHA, MIN_DATASETS, RankTest, rank_test
from benchmark.report.tables import METRIC_NAMES

RANK_METRICS = ("auc", "ap", "f1")


def rank_tests(records: list[RunRecord]) -> list[RankTest]:
    """One RankTest per metric of RANK_METRICS that ≥ 3 datasets and ≥ 3 common models allow."""
    groups = group_records(records)
    out = []
    for metric in RANK_METRICS:
        means: dict[str, dict[str, float]] = {}
        for (dataset, model), group in groups.items():
            stat = group.stat(metric)
            means.setdefault(dataset, {})[model] = stat.mean if stat.n else math.nan
        test = rank_test(metric, means)
        if test is not None:
            out.append(test)
    return out


def write_rank_report(records: list[RunRecord], tables_dir: Path, figures_dir: Path
                      ) -> list[Path]:
    """`ranks.md` always; `cd_<metric>.png/.pdf` for each metric with a rank test."""
    tests = rank_tests(records)
    names = {m: display_name(g.paper_row) for (_, m), g in group_records(records).items()}
    datasets = sorted({r.dataset for r in records})
    tables_dir.mkdir(parents=True, exist_ok=True)
    path = tables_dir / "ranks.md"
    path.write_text(_ranks_markdown(tests, names, datasets), encoding="utf-8")
    paths = [path]
    for test in tests:
        paths += save_png_pdf(cd_figure(test, names), figures_dir, f"cd_{test.metric}")
    return paths


def _ranks_markdown(tests: list[RankTest], names: dict[str, str], datasets: list[str]) -> str:
    lines = ["# Average ranks across datasets (Friedman test, Nemenyi critical difference)", ""]
    if not tests:
        shown = ", ".join(dataset_display_name(d) for d in datasets) or "none"
        lines += [f"Needs results of at least 3 common models on at least {MIN_DATASETS} "
                  f"datasets; these records cover {len(datasets)} ({shown}). No ranking and no "
                  "critical-difference figure.", ""]
        return "\n".join(lines)
    for test in tests:
        lines += [f"## {METRIC_NAMES.get(test.metric, test.metric)}", "",
                  f"{len(test.datasets)} datasets "
                  f"({', '.join(dataset_display_name(d) for d in test.datasets)}), "
                  f"{len(test.models)} models. Friedman χ² = {test.friedman_chi2:.3f}, "
                  f"p = {test.friedman_p:.4g}; Nemenyi CD (α = {ALPHA}) = "
                  f"{test.critical_difference:.3f}. Figure: figures/cd_{test.metric}.png.", "",
                  "| Model | Average rank |", "|---|---|"]
        order = sorted(zip(test.average_ranks, test.models, strict=True))
        lines += [f"| {names.get(m, m)} | {r:.3f} |" for r, m in order]
        lines.append("")
    lines.append("- Rank 1 = best (highest seed-mean metric on a dataset; ties share their mean "
                 "rank). Models whose average ranks differ by less than CD are not "
                 "significantly different (Demšar 2006).")
    return "\n".join(lines) + "\n"


def cliques(ranks: list[float], cd: float) -> list[tuple[int, int]]:
    """Maximal runs [i, j] (indices into ascending `ranks`) with ranks[j] − ranks[i] < cd,
    of at least two models: the groups joined by a thick line."""
    runs = []
    for i in range(len(ranks)):
        j = i
        while j + 1 < len(ranks) and ranks[j + 1] - ranks[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in runs):
            runs.append((i, j))
    return runs


def cd_figure(test: RankTest, names: dict[str, str]) -> Figure:
    """Demšar's critical-difference diagram of one RankTest (a bare matplotlib Figure)."""
    order = sorted(zip(test.average_ranks, test.models, strict=True))
    ranks = [r for r, _ in order]
    k = len(order)
    fig = Figure(figsize=(7.5, 1.6 + 0.28 * k))
    ax = fig.subplots()
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-((k + 1) // 2 + 0.8), 2.2)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", linewidth=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.15, color="black", linewidth=1)
        ax.text(r, 0.3, str(r), ha="center", va="bottom", fontsize=8)
    cd = test.critical_difference
    ax.hlines(1.3, 1, 1 + cd, color="black", linewidth=1.5)
    ax.vlines([1, 1 + cd], 1.2, 1.4, color="black", linewidth=1.5)
    ax.text(1 + cd / 2, 1.5, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    half = (k + 1) // 2
    for i, (rank, model) in enumerate(order):
        left = i < half
        depth = -(i + 1) if left else -(k - i)
        edge = 0.6 if left else k + 0.4
        ax.plot([rank, rank, edge], [0, depth, depth], color="0.3", linewidth=0.8)
        ax.text(edge + (-0.05 if left else 0.05), depth,
                f"{names.get(model, model)} ({rank:.2f})", ha="right" if left else "left",
                va="center", fontsize=8)
    for n, (i, j) in enumerate(cliques(ranks, cd)):
        y = -0.35 - 0.18 * n
        ax.hlines(y, ranks[i] - 0.03, ranks[j] + 0.03, color="black", linewidth=3)
    ax.set_title(f"{METRIC_NAMES.get(test.metric, test.metric)}: average ranks over "
                 f"{len(test.datasets)} datasets (Friedman p = {test.friedman_p:.3g}; "
                 f"Nemenyi α = {ALPHA})", fontsize=9)
    return fig
