"""The cross-domain report: a leave-one-dataset-out table and a shots-vs-F1 figure.

From the cross-domain records (benchmark.crossdomain, `extras["cross_domain"]`):
- `tables/crossdomain.md`: rows = models; columns = target pair × K shots; cells = test F1
  (then, in a second table, ROC-AUC) mean ± std over seeds (numpy, ddof = 0; one seed: the
  mean alone; `(n=k)` when fewer seeds than the pair's most have a defined value), "–" where
  nothing ran;
- `tables/crossdomain.csv`: one tidy row per (pair, model, K): seeds, F1 and AUC mean / std;
- `figures/crossdomain_shots.{png,pdf}`: test F1 (mean ± std) against K, one panel per pair,
  one line per model.
Nothing is written when no cross-domain record exists. No torch import.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure
from tabulate import tabulate

from benchmark.records import RunRecord
from benchmark.report.aggregate import MODEL_ORDER, Group, group_records
from benchmark.report.figures import save_figure
from benchmark.report.paper_reference import display_name
from benchmark.store import CROSS_DOMAIN_KEY

CSV_FIELDS = ("pair", "sources", "target", "representation", "model", "shots", "seeds",
              "f1_mean", "f1_std", "auc_mean", "auc_std")
MISSING = "–"


@dataclass(frozen=True)
class Cell:
    """One (pair, model, K) over its seeds."""

    pair: str
    model: str
    shots: int
    group: Group

    @property
    def extras(self) -> dict:
        return self.group.records[0].extras[CROSS_DOMAIN_KEY]


def cross_cells(records: list[RunRecord]) -> list[Cell]:
    """Cross-domain records grouped by (pair, model, K), sorted that way."""
    by_shots: dict[int, list[RunRecord]] = {}
    for record in records:
        by_shots.setdefault(int(record.extras[CROSS_DOMAIN_KEY]["shots"]), []).append(record)
    cells = [Cell(pair, model, k, group) for k, rs in by_shots.items()
             for (pair, model), group in group_records(rs).items()]
    return sorted(cells, key=lambda c: (c.pair, _model_key(c.model), c.shots))


def write_crossdomain_report(records: list[RunRecord], tables_dir: Path, figures_dir: Path
                             ) -> list[Path]:
    """The table (md, csv) and the figure (png, pdf); returns the written paths."""
    cells = cross_cells(records)
    if not cells:
        return []
    tables_dir, figures_dir = Path(tables_dir), Path(figures_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    md = tables_dir / "crossdomain.md"
    md.write_text(crossdomain_markdown(cells), encoding="utf-8")
    csv_path = tables_dir / "crossdomain.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(_csv_row(c) for c in cells)
    paths = [md, csv_path]
    fig = shots_figure(cells)
    for ext in ("png", "pdf"):
        path = figures_dir / f"crossdomain_shots.{ext}"
        save_figure(fig, path)
        paths.append(path)
    return paths


def crossdomain_markdown(cells: list[Cell]) -> str:
    """Rows = models, columns = pair × K (see the module docstring); F1, then AUC."""
    flags = [c.group for c in cells]
    parts = ["# Cross-domain: test F1 on the target after training on the sources and adapting "
             "with K labelled target bags per class\n", _grid(cells, "f1"), "",
             "## ROC-AUC on the target's test split (same runs)\n", _grid(cells, "auc"), "",
             "- Columns: sources→target (`@word2vec`: Word2Vec fitted on the sources; otherwise "
             "hashed n-gram template vectors) and K = support bags per class (normal, "
             "anomalous) drawn with the seed from the target's training split; K = 0: no "
             "adaptation.",
             "- Adaptation: ProtoNet = prototypes from the support; MAML = inner-loop steps on "
             "the support; every other model = the generic fine-tune (its own loss on the "
             "support). τ from the target's validation split; the test split scored once.",
             "- mean ± std over seeds (numpy, ddof = 0); (n=k) = fewer seeds with a defined "
             "value than the pair's other cells; n/a = undefined in every seed; – = not run."]
    if any(g.quick for g in flags):
        parts.append("- (quick) runs: small data and each model's quick settings.")
    if any(g.overridden for g in flags):
        parts.append("- Some runs used `--set` overrides (see the records' config_overrides).")
    return "\n".join(parts) + "\n"


def _grid(cells: list[Cell], metric: str) -> str:
    columns = list(dict.fromkeys((c.pair, c.shots) for c in cells))
    models = sorted({c.model for c in cells}, key=_model_key)
    index = {(c.pair, c.model, c.shots): c for c in cells}
    most = {pair: max(len(c.group.seeds) for c in cells if c.pair == pair)
            for pair, _ in columns}
    rows = []
    for model in models:
        row = [display_name(next(c.group.paper_row for c in cells if c.model == model))]
        for pair, k in columns:
            cell = index.get((pair, model, k))
            row.append(MISSING if cell is None else _fmt(cell.group, most[pair], metric))
        rows.append(row)
    headers = ["Model", *[f"{pair} K={k}" for pair, k in columns]]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def shots_figure(cells: list[Cell]) -> Figure:
    """F1 (y) against K (x), one panel per pair, one line per model (a bare Figure)."""
    pairs = list(dict.fromkeys(c.pair for c in cells))
    fig = Figure(figsize=(4.6 * len(pairs) + 1.8, 4.2))
    axes = fig.subplots(1, len(pairs), squeeze=False, sharey=True)[0]
    models = sorted({c.model for c in cells}, key=_model_key)
    colours = colormaps["tab10"]
    for ax, pair in zip(axes, pairs, strict=True):
        for i, model in enumerate(models):
            line = [c for c in cells if c.pair == pair and c.model == model]
            if not line:
                continue
            stats = [c.group.stat("f1") for c in line]
            ax.errorbar([c.shots for c in line], [s.mean for s in stats],
                        yerr=[0.0 if math.isnan(s.std) else s.std for s in stats], marker="o",
                        capsize=3, color=colours(i % 10),
                        label=f"{display_name(line[0].group.paper_row)} "
                              f"(n={max(len(c.group.seeds) for c in line)})")
        shots = sorted({c.shots for c in cells if c.pair == pair})
        ax.set_xticks(shots)
        ax.set(xlabel="K labelled target bags per class", title=pair, ylim=(0, 1.02))
        ax.grid(alpha=0.25)
    axes[0].set_ylabel("target test F1 (mean ± std over seeds)")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    fig.suptitle("Cross-domain: F1 on the target against the shots used for adaptation")
    return fig


def _csv_row(cell: Cell) -> dict:
    f1, auc = cell.group.stat("f1"), cell.group.stat("auc")
    extras = cell.extras
    values = {"pair": cell.pair, "sources": "+".join(extras["sources"]),
              "target": extras["target"], "representation": extras["representation"],
              "model": cell.model, "shots": cell.shots, "seeds": len(cell.group.seeds),
              "f1_mean": f1.mean, "f1_std": f1.std, "auc_mean": auc.mean, "auc_std": auc.std}
    return {k: "" if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in values.items()}


def _fmt(group: Group, seeds: int, metric: str) -> str:
    stat = group.stat(metric)
    if stat.n == 0:
        return "n/a"
    cell = f"{stat.mean:.4f}" if stat.n == 1 else f"{stat.mean:.4f} ± {stat.std:.4f}"
    return cell if stat.n >= seeds else f"{cell} (n={stat.n})"


def _model_key(model: str) -> tuple[int, str]:
    return (MODEL_ORDER.index(model), model) if model in MODEL_ORDER else (len(MODEL_ORDER), model)

