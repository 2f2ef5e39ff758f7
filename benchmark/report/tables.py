"""Tables I–III from run records, beside the paper's numbers, as Markdown, CSV and LaTeX.

Cells are mean ± std over seeds (numpy, ddof = 0; one seed: the mean alone). "–" marks a model or
dataset not run (or a number the paper does not report), "n/a" a metric undefined on that split;
never 0. CSV files are tidy (one row per dataset × model × metric), missing values empty.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tabulate import tabulate

from benchmark.data.leakage import audit_note
from benchmark.protocol import LOC_K, SR_DELTA, SR_EXTRA_DELTAS, loc_key, sr_key
from benchmark.records import RunRecord
from benchmark.report.aggregate import (
    DATASET_ORDER,
    MODEL_ORDER,
    Group,
    Stat,
    group_records,
    ordered,
    row_of,
)
from benchmark.report.paper_reference import (
    ABLATED_ROW,
    FULL_ROW,
    PaperValue,
    dataset_display_name,
    default_row,
    display_name,
    is_adapted,
    is_classical,
    paper_delta,
    paper_value,
)

if TYPE_CHECKING:
    from benchmark.report.uncertainty import Uncertainty

MISSING = "–"
UNDEFINED = "n/a"
BELOW_CHANCE = "✗"
METRIC_NAMES = {"auc": "AUC", "ap": "AUPRC", "precision": "Prec.", "recall": "Rec.", "f1": "F1",
                loc_key(): f"Loc@{LOC_K}", sr_key(): "SR",
                **{sr_key(d): f"SR@{d:g}" for d in SR_EXTRA_DELTAS}}
TABLE1_METRICS = ("auc", "ap", "precision", "recall", "f1")
OURS_ONLY = frozenset({"ap"})
"""Metrics the paper does not report: one column, no paper / diff columns."""
TABLE2_METRICS = (loc_key(), sr_key())
TABLE2_EXTRA_METRICS = tuple(sr_key(d) for d in SR_EXTRA_DELTAS)
TABLE3_METRICS = ("precision", "recall", "f1", loc_key(), sr_key())
TIDY_FIELDS = ("table", "dataset", "model", "paper_name", "metric", "ours_mean", "ours_std",
               "n_seeds", "n_defined", "ci_low", "ci_high", "p_holm_vs_logmilp", "paper",
               "paper_std", "diff")
STD_NOTE = ("Ours: mean ± std over seeds (numpy std, ddof = 0; one seed: the mean alone). "
            "diff = ours − paper (means).")
MISSING_NOTE = (f"{MISSING} = not run, or not reported by the paper; {UNDEFINED} = run, but the "
                "metric is undefined on that test split (see the run records' notes).")
CI_NOTE = ("[a, b] = 95 % percentile interval of the seed mean over 1,000 test-bag bootstrap "
           "resamples stratified by label (Efron 1979), from the runs' score files; shown for "
           "AUC, AUPRC, F1, Loc@3 and SR when every seed has a score file.")
SIG_NOTE = ("↑ / ↓ = significantly above / below LogMILP (OURS) on that metric: paired bootstrap "
            "test over the same resamples, Holm (1979) correction over the models of a dataset, "
            "α = 0.05 (see README, Statistics).")
CLASSICAL_HEADING = "classical references (template counts; not in the paper)"
CLASSICAL_NOTE = ("Classical references: Counts + LR = logistic regression on a bag's log-scaled "
                  "template counts (bag labels, like LogMILP); Counts + iForest = isolation "
                  "forest on the normal training bags' counts (baselines/counts_*.py).")
PAPER_NOTE = ("Paper: Wong et al., LogMILP (2026), Tables I–III; its OURS row is mean ± std over "
              "3 seeds; LogMILP w/o consistency is from its Table III.")


@dataclass
class Table:
    """A rendered table: wide display sections (one per dataset) plus tidy rows for CSV."""

    name: str
    title: str
    columns: list[str]
    sections: list[tuple[str, list[list[str]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tidy: list[dict] = field(default_factory=list)


def build_tables(records: list[RunRecord], uncertainty: Uncertainty | None = None
                 ) -> list[Table]:
    """Tables I, II and III from run records (any subset of datasets, models and seeds); with
    `uncertainty` (benchmark.report.uncertainty), cells carry 95 % intervals and marks."""
    groups = group_records(records)
    datasets = ordered({d for d, _ in groups}, DATASET_ORDER)
    models = ordered({m for _, m in groups}, MODEL_ORDER)
    tables = [_table1(groups, datasets, models, uncertainty),
              _table2(groups, datasets, models, uncertainty),
              _table3(groups, datasets, uncertainty)]
    if uncertainty is not None and uncertainty.intervals:
        for table in tables:
            table.notes += [CI_NOTE, SIG_NOTE]
    flag_notes = _flag_notes(groups.values())
    for table in tables:
        table.notes += flag_notes
    tables[0].notes += _leakage_notes(groups, datasets)
    return tables


def write_tables(tables: list[Table], out_dir: Path) -> list[Path]:
    """Write `<name>.md`, `<name>.csv` and `<name>.tex` for each table; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in tables:
        md, tex, csv_path = (out_dir / f"{table.name}.{ext}" for ext in ("md", "tex", "csv"))
        md.write_text(to_markdown(table), encoding="utf-8")
        tex.write_text(to_latex(table), encoding="utf-8")
        with csv_path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=TIDY_FIELDS)
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in row.items()}
                             for row in table.tidy)
        paths += [md, csv_path, tex]
    return paths


def to_markdown(table: Table) -> str:
    parts = [f"# {table.title}\n"]
    for heading, rows in table.sections:
        parts.append(f"## {heading}\n")
        parts.append(tabulate(rows, headers=table.columns, tablefmt="github",
                              disable_numparse=True, colalign=("left",) * len(table.columns)))
        parts.append("")
    parts += [f"- {note}" for note in table.notes]
    return "\n".join(parts) + "\n"


def to_latex(table: Table) -> str:
    """A booktabs table (needs \\usepackage{booktabs}); one block per dataset."""
    n = len(table.columns)
    lines = [
        "% generated by logmilp-bench (python run_all.py --report-only); do not edit",
        "\\begin{table*}[t]",
        "\\centering\\scriptsize",
        f"\\caption{{{_tex(table.title)}. {_tex(' '.join(table.notes))}}}",
        f"\\label{{tab:{table.name}}}",
        f"\\begin{{tabular}}{{l{'r' * (n - 1)}}}",
        "\\toprule",
        " & ".join(_tex(c) for c in table.columns) + " \\\\",
    ]
    for heading, rows in table.sections:
        lines += ["\\midrule", f"\\multicolumn{{{n}}}{{l}}{{\\textbf{{{_tex(heading)}}}}} \\\\"]
        lines += [" & ".join(_tex(c) for c in row) + " \\\\" for row in rows]
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table*}"]
    return "\n".join(lines) + "\n"


def _table1(groups: dict, datasets: list[str], models: list[str],
            unc: Uncertainty | None) -> Table:
    table = Table("table1", "Table I: bag-level anomaly detection (test set; P, R, F1 at the "
                  "validation-F1 threshold τ)",
                  ["Model", "Seeds", *_triple_headers(TABLE1_METRICS)])
    _model_rows(table, "I", groups, datasets, models, TABLE1_METRICS, (), star_adapted=False,
                unc=unc)
    table.notes += [STD_NOTE, MISSING_NOTE, PAPER_NOTE]
    return table


def _table2(groups: dict, datasets: list[str], models: list[str],
            unc: Uncertainty | None) -> Table:
    table = Table("table2", f"Table II: instance-level localization on ground-truth positive test "
                  f"bags (Loc@3; SR at δ_sr = {SR_DELTA})",
                  ["Model", "Seeds", *_triple_headers(TABLE2_METRICS)])
    _model_rows(table, "II", groups, datasets, models, TABLE2_METRICS, TABLE2_EXTRA_METRICS,
                star_adapted=True, unc=unc)
    table.notes += [
        "* = a row the paper computes with an offline attention-score adaptation (LogBERT, "
        "LogFormer); here every model is scored by its own instance scores.",
        "Key instance for SR = the top-1 instance score; SR@0.05 and SR@0.2 are in the CSV.",
        STD_NOTE, MISSING_NOTE, PAPER_NOTE,
    ]
    return table


def _table3(groups: dict, datasets: list[str], unc: Uncertainty | None) -> Table:
    columns = ["Metric", "Full", "w/o", "Δ", "w/o paper", "Δ paper", "w/o diff", "Δ diff"]
    table = Table("table3", "Table III: consistency-loss ablation, LogMILP (full) vs LogMILP w/o "
                  "consistency (λ_c = 0); Δ = full − w/o", columns)
    for dataset in datasets:
        full, full_model = _row_group(groups, dataset, FULL_ROW)
        ablated, ablated_model = _row_group(groups, dataset, ABLATED_ROW)
        rows = []
        for metric in TABLE3_METRICS:
            f_stat, a_stat = _stat(full, metric), _stat(ablated, metric)
            ours_delta = (f_stat.mean - a_stat.mean) if f_stat and a_stat else math.nan
            paper_ablated = paper_value(dataset, ABLATED_ROW, metric)
            p_delta = paper_delta(dataset, metric)
            delta_mark = "*" if unc is not None and unc.mark(dataset, ablated_model, metric) \
                else ""
            rows.append([
                METRIC_NAMES[metric], _fmt_cell(f_stat, unc, dataset, full_model, metric, "")
                + _below_chance_mark(full),
                _fmt_cell(a_stat, unc, dataset, ablated_model, metric, "")
                + _below_chance_mark(ablated),
                _fmt_signed(ours_delta) + delta_mark,
                _fmt_paper(paper_ablated),
                _fmt_signed(p_delta),
                _fmt_diff(a_stat.mean if a_stat else None, paper_ablated),
                _fmt_signed(ours_delta - p_delta if p_delta is not None else math.nan),
            ])
            table.tidy += [
                _tidy("III", dataset, full_model, metric, full,
                      paper_value(dataset, FULL_ROW, metric), unc),
                _tidy("III", dataset, ablated_model, metric, ablated, paper_ablated, unc),
                {**_tidy("III", dataset, "delta", metric, None, None),
                 "paper_name": "Δ (full − w/o)",
                 "ours_mean": None if math.isnan(ours_delta) else ours_delta,
                 "paper": p_delta,
                 "diff": None if p_delta is None or math.isnan(ours_delta)
                 else ours_delta - p_delta},
            ]
        seeds = f"seeds: full {_seed_count(full)}, w/o {_seed_count(ablated)}"
        table.sections.append((f"{dataset_display_name(dataset)} ({seeds})", rows))
    table.notes += ["Δ (ours) = mean(full) − mean(w/o); Δ diff = Δ (ours) − Δ (paper). "
                    "* on Δ (ours) = the difference is significant (paired bootstrap, Holm, "
                    "α = 0.05; the same test as the ↑ / ↓ marks of Tables I–II).",
                    STD_NOTE, MISSING_NOTE, PAPER_NOTE]
    return table


def _row_group(groups: dict, dataset: str, paper_row: str) -> tuple[Group | None, str]:
    """The group of `dataset` whose model reproduces `paper_row`, and that model's name (the
    row's default model when none ran)."""
    for (d, model), group in groups.items():
        if d == dataset and group.paper_row == paper_row:
            return group, model
    default = next(m for m in MODEL_ORDER if default_row(m) == paper_row)
    return None, default


def _model_rows(table: Table, numeral: str, groups: dict, datasets: list[str],
                models: list[str], metrics: tuple[str, ...], extra: tuple[str, ...],
                star_adapted: bool, unc: Uncertainty | None = None) -> None:
    """One section per dataset, one row per model: ours, paper and diff for each metric; the
    classical references (paper_reference.CLASSICAL_ROWS) that ran on a dataset follow in a
    section of their own."""
    for dataset in datasets:
        classical = [m for m in models if is_classical(row_of(m, groups.get((dataset, m))))]
        deep = [m for m in models if m not in classical]
        ran = [m for m in classical if (dataset, m) in groups]
        table.sections.append((dataset_display_name(dataset), _rows(
            table, numeral, groups, dataset, deep, metrics, extra, star_adapted, unc)))
        if ran:
            table.sections.append((f"{dataset_display_name(dataset)}: {CLASSICAL_HEADING}", _rows(
                table, numeral, groups, dataset, ran, metrics, extra, star_adapted, unc)))
    if any(heading.endswith(CLASSICAL_HEADING) for heading, _ in table.sections):
        table.notes.append(CLASSICAL_NOTE)


def _rows(table: Table, numeral: str, groups: dict, dataset: str, models: list[str],
          metrics: tuple[str, ...], extra: tuple[str, ...], star_adapted: bool,
          unc: Uncertainty | None) -> list[list[str]]:
    """The rows of `models` on `dataset` (their tidy CSV rows are added to `table`)."""
    rows = []
    for model in models:
        group = groups.get((dataset, model))
        row_key = row_of(model, group)
        star = "*" if star_adapted and is_adapted(row_key) else ""
        row = [star + display_name(row_key), _seed_cell(group)]
        mark = _below_chance_mark(group)
        for metric in metrics:
            stat, paper = _stat(group, metric), paper_value(dataset, row_key, metric)
            row.append(_fmt_cell(stat, unc, dataset, model, metric) + mark)
            if metric not in OURS_ONLY:
                row += [_fmt_paper(paper), _fmt_diff(stat.mean if stat else None, paper)]
            table.tidy.append(_tidy(numeral, dataset, model, metric, group, paper, unc))
        for metric in extra:
            table.tidy.append(_tidy(numeral, dataset, model, metric, group, None))
        rows.append(row)
    return rows


def _triple_headers(metrics: tuple[str, ...]) -> list[str]:
    return [h for m in metrics
            for h in ((METRIC_NAMES[m],) if m in OURS_ONLY else
                      (METRIC_NAMES[m], f"{METRIC_NAMES[m]} paper", f"{METRIC_NAMES[m]} diff"))]


def _stat(group: Group | None, metric: str) -> Stat | None:
    return None if group is None else group.stat(metric)


def _tidy(table: str, dataset: str, model: str, metric: str, group: Group | None,
          paper: PaperValue | None, unc: Uncertainty | None = None) -> dict:
    """One CSV row; missing values are None (written as empty cells)."""
    stat = _stat(group, metric)
    ours = None if stat is None or stat.n == 0 else stat.mean
    interval = None if unc is None or group is None else unc.interval(dataset, model, metric)
    p_holm = None if unc is None else unc.p_holm.get((dataset, model, metric))
    return {
        "table": table, "dataset": dataset, "model": model,
        "paper_name": display_name(row_of(model, group)),
        "metric": metric, "ours_mean": ours,
        "ours_std": None if ours is None else stat.std,
        "n_seeds": None if group is None else len(group.seeds),
        "n_defined": None if stat is None else stat.n,
        "ci_low": None if interval is None else _finite_or_none(interval[0]),
        "ci_high": None if interval is None else _finite_or_none(interval[1]),
        "p_holm_vs_logmilp": None if p_holm is None else _finite_or_none(p_holm),
        "paper": None if paper is None else paper.mean,
        "paper_std": None if paper is None else paper.std,
        "diff": None if ours is None or paper is None else ours - paper.mean,
    }


def _seed_cell(group: Group | None) -> str:
    if group is None:
        return MISSING
    cell = str(len(group.seeds))
    if group.quick:
        cell += " (quick)"
    if group.overridden:
        cell += " (set)"
    if group.mixed_configs:
        cell += " †"
    if group.below_chance:
        cell += f" {BELOW_CHANCE}" + ",".join(map(str, group.below_chance))
    return cell


def _below_chance_mark(group: Group | None) -> str:
    """" ✗" after the numbers of a group with a below-chance seed, else ""."""
    return f" {BELOW_CHANCE}" if group is not None and group.below_chance else ""


def _seed_count(group: Group | None) -> str:
    return "0" if group is None else str(len(group.seeds))


def _flag_notes(groups) -> list[str]:
    notes = []
    if any(g.quick for g in groups):
        notes.append("(quick) = smoke-test runs (--quick: small data, short training); not "
                     "comparable with the paper.")
    if any(g.overridden for g in groups):
        notes.append("(set) = run with config fields changed by --set, not the model's defaults "
                     "(see the records' config_overrides).")
    if any(g.mixed_configs for g in groups):
        notes.append("† = the seeds of this cell ran under different configs or data; rerun "
                     "them with one command.")
    if any(g.below_chance for g in groups):
        notes.append(f"{BELOW_CHANCE} = below chance: on the seeds listed after {BELOW_CHANCE} in "
                     "the seeds column the model ranked validation bags upside down (validation "
                     "AUC < 0.5, see the records' notes); the row's numbers are not a result.")
    return notes


def _leakage_notes(groups: dict, datasets: list[str]) -> list[str]:
    """The split's leakage audit per dataset, from its records' data summaries (when stored)."""
    notes = []
    for dataset in datasets:
        audit = next((r.data_summary["leakage"] for (d, _), g in sorted(groups.items())
                      if d == dataset for r in g.records if "leakage" in r.data_summary), None)
        if audit is not None:
            notes.append(audit_note(dataset_display_name(dataset), audit))
    return notes


def _fmt_stat(stat: Stat | None) -> str:
    if stat is None:
        return MISSING
    if stat.n == 0:
        return UNDEFINED
    return f"{stat.mean:.4f}" if stat.n == 1 else f"{stat.mean:.4f} ± {stat.std:.4f}"


def _fmt_cell(stat: Stat | None, unc: Uncertainty | None, dataset: str, model: str,
              metric: str, mark: str | None = None) -> str:
    """mean ± std, then the 95 % bootstrap interval and the significance mark when known
    (`mark=""` suppresses the mark)."""
    cell = _fmt_stat(stat)
    if unc is None or stat is None or stat.n == 0:
        return cell
    interval = unc.interval(dataset, model, metric)
    if interval is not None and all(math.isfinite(v) for v in interval):
        cell += f" [{interval[0]:.4f}, {interval[1]:.4f}]"
    sign = unc.mark(dataset, model, metric) if mark is None else mark
    return f"{cell} {sign}" if sign else cell


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _fmt_paper(paper: PaperValue | None) -> str:
    if paper is None:
        return MISSING
    return f"{paper.mean:.4f}" if paper.std is None else f"{paper.mean:.4f} ± {paper.std:.4f}"


def _fmt_diff(ours: float | None, paper: PaperValue | None) -> str:
    if ours is None or paper is None:
        return MISSING
    return _fmt_signed(ours - paper.mean)


def _fmt_signed(value: float | None) -> str:
    if value is None or math.isnan(value):
        return MISSING
    return f"{value:+.4f}".replace("-", "−")


_TEX = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "_": "\\_", "#": "\\#", "$": "\\$",
        "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}",
        "±": "$\\pm$", "Δ": "$\\Delta$", "–": "--", "−": "$-$", "†": "\\dag{}", "τ": "$\\tau$",
        "δ": "$\\delta$", "λ": "$\\lambda$", "≥": "$\\geq$",
        "↑": "$\\uparrow$", "↓": "$\\downarrow$", "α": "$\\alpha$", "✗": "$\\times$"}


def _tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)
