"""The sensitivity report: how a dataset's numbers move with its data preparation.

Input: the run records of one model-config variant (default, quick, …) whose dataset is a
card's own (`synthetic`) or one of its data variants (`synthetic~window-30s`,
benchmark.data.variants). Records are compared only when they were prepared from the same
input (content or generator, max_lines, quick flag: the dataset identity without the card's
bagging / Drain / embedding settings and the variant's parser / vector settings); each such
input is one section, the one with most records first.

Written per dataset that has at least one variant record:
- `tables/sensitivity_<dataset>.{md,csv}`: rows model, column groups variant (its axis values);
  F1, AUC, Loc@3, SR as mean ± std over seeds (ddof = 0); below, per variant: bags, share of
  positive bags, mean bag length (lines), templates and grouping accuracy (GA; "–" when the
  run had no ground truth to score against). CSV: one tidy row per (input, variant, model,
  metric).
- `figures/sensitivity_<dataset>_<axis>.{png,pdf}` for each axis with ≥ 2 values among the
  variants whose other axes keep the card's values (first section; along the window, whatever
  stride goes with it): one panel per metric,
  metric vs axis value, one line per model (mean), the seeds' spread (mean ± std) shaded.
No torch import.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from benchmark.records import RunRecord
from benchmark.report.aggregate import MODEL_ORDER, Group, group_records, ordered
from benchmark.report.paper_reference import display_name

log = logging.getLogger(__name__)

METRICS = (("f1", "F1"), ("auc", "AUC"), ("loc@3", "Loc@3"), ("sr", "SR"))
MARKERS = ("o", "s", "^", "D")
"""Line markers, the next one after every ten models (matplotlib's ten colours repeat)."""
VARIANT_EXTRAS = "data_variant"
SEPARATOR = "~"
AXIS_NAMES = {"window": "window", "stride": "stride", "max_instances": "max instances",
              "parser": "parser", "vectors": "template vectors"}
CSV_FIELDS = ("dataset", "input", "variant", "window", "stride", "max_instances", "parser",
              "vectors", "model", "metric", "mean", "std", "n_seeds", "bags", "positive_share",
              "mean_bag_length", "templates", "ga")


@dataclass(frozen=True)
class Variant:
    """The records of one data variant of one input: its axis values and runs per model."""

    name: str
    """The records' dataset name (`synthetic` or `synthetic~window-30s`)."""
    axes: dict[str, str]
    groups: dict[str, Group]
    summary: dict[str, Any]


def is_variant_record(record: RunRecord) -> bool:
    """A data-variant run (its dataset is `<name>~<key>`)."""
    return VARIANT_EXTRAS in record.extras


def write_sensitivity_report(records: list[RunRecord], tables_dir: Path, figures_dir: Path
                             ) -> list[Path]:
    """Table and figures of every dataset with a data-variant record; returns the paths."""
    plain = [r for r in records if "label_budget" not in r.extras]
    datasets = sorted({r.dataset.split(SEPARATOR, 1)[0] for r in plain if is_variant_record(r)})
    paths: list[Path] = []
    for dataset in datasets:
        mine = [r for r in plain if r.dataset.split(SEPARATOR, 1)[0] == dataset]
        sections = _sections(mine)
        paths += _write_table(dataset, sections, Path(tables_dir))
        paths += _write_figures(dataset, sections[0][1], Path(figures_dir))
    return paths


def _sections(records: list[RunRecord]) -> list[tuple[str, list[Variant]]]:
    """[(input description, variants)] by input, most records first; variants ordered by
    their axis values."""
    by_input: dict[str, list[RunRecord]] = {}
    for record in records:
        by_input.setdefault(_input_key(record.dataset_identity), []).append(record)
    out = []
    for _, rs in sorted(by_input.items(), key=lambda kv: -len(kv[1])):
        variants = []
        for name in sorted({r.dataset for r in rs}):
            runs = [r for r in rs if r.dataset == name]
            groups = {m: g for (_, m), g in group_records(runs).items()}
            # the summary of a record written with today's statistics (older records, e.g. of
            # models run before bag_stats existed, lack them)
            summary = next((r.data_summary for r in runs if "bag_stats" in r.data_summary),
                           runs[0].data_summary)
            variants.append(Variant(name, _axes(runs[0]), groups, summary))
        variants.sort(key=lambda v: _sort_key(v.axes))
        out.append((_describe_input(rs[0].dataset_identity), variants))
    return out


def _input_key(identity: dict[str, Any]) -> str:
    """The identity without what a data variant changes."""
    rest = {k: v for k, v in identity.items() if k != VARIANT_EXTRAS}
    card = {k: v for k, v in (rest.get("card") or {}).items()
            if k not in ("bagging", "drain", "embedding")}
    return json.dumps(rest | {"card": card}, sort_keys=True, default=str)


def _describe_input(identity: dict[str, Any]) -> str:
    parts = [str(identity.get("name", "?"))]
    if "generator" in identity:
        gen = identity["generator"]
        parts.append(f"generated, {gen.get('lines', '?'):,} lines, seed {gen.get('seed')}")
    elif isinstance(identity.get("content"), dict):
        content = identity["content"]
        parts.append(f"input {content.get('size', 0):,} bytes, sha256 "
                     f"{str(content.get('sha256', ''))[:12]}…")
    if identity.get("max_lines"):
        parts.append(f"first {identity['max_lines']:,} lines")
    if identity.get("quick"):
        parts.append("--quick")
    return "; ".join(parts)


def _axes(record: RunRecord) -> dict[str, str]:
    """Axis values of a record: its variant's, or the card's for a default run."""
    extras = record.extras.get(VARIANT_EXTRAS)
    if isinstance(extras, dict) and isinstance(extras.get("axes"), dict):
        return {k: str(v) for k, v in extras["axes"].items()}
    from benchmark.data.cards import card_from_dict
    from benchmark.data.variants import PrepVariant

    card = card_from_dict(record.dataset_identity.get("card") or {}, record.dataset)
    return PrepVariant().axes(card)


def _sort_key(axes: dict[str, str]) -> tuple:
    from benchmark.data.variants import AXES, window_order

    key: list[Any] = []
    for axis in AXES:
        value = axes.get(axis, "")
        if axis in ("window", "stride"):
            key.append((window_order(value), value))
        elif axis == "max_instances":
            key.append((float(value) if value.isdigit() else math.inf, value))
        else:
            key.append((0.0, value))
    return tuple(key)


def _varying(variants: list[Variant]) -> list[str]:
    from benchmark.data.variants import AXES

    tumbling = all(v.axes.get("stride") == v.axes.get("window") for v in variants)
    return [a for a in AXES if len({v.axes.get(a) for v in variants}) > 1
            and not (a == "stride" and tumbling)]


def _label(variant: Variant, axes: list[str]) -> str:
    shown = axes or ["window"]
    default = SEPARATOR not in variant.name
    return ", ".join(f"{a}={variant.axes.get(a)}" for a in shown) + (" (card)" if default
                                                                     else "")


def _cell(group: Group | None, metric: str) -> str:
    if group is None:
        return "–"
    stat = group.stat(metric)
    if stat.n == 0:
        return "n/a"
    return f"{stat.mean:.3f}" if stat.n == 1 else f"{stat.mean:.3f} ± {stat.std:.3f}"


def _data_row(variant: Variant) -> dict[str, Any]:
    s = variant.summary
    splits = s.get("splits") or {}
    bags = sum(int(v.get("bags", 0)) for v in splits.values())
    positive = sum(int(v.get("positive_bags", 0)) for v in splits.values())
    stats = s.get("bag_stats") or {}
    parse = s.get("parse") or {}
    return {"bags": bags, "positive_share": positive / bags if bags else math.nan,
            "mean_bag_length": stats.get("mean_length"),
            "templates": s.get("templates"), "ga": parse.get("ga")}


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _write_table(dataset: str, sections: list[tuple[str, list[Variant]]], out_dir: Path
                 ) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = [f"# Sensitivity: {dataset}\n",
          "Each cell: mean ± std over seeds (ddof = 0) of the test metric; one column group "
          "per data variant (benchmark.data.variants), `(card)` = the dataset card's own "
          "settings. Variants are compared only on the same input.\n"]
    tidy = []
    for heading, variants in sections:
        axes = _varying(variants)
        labels = [_label(v, axes) for v in variants]
        models = ordered({m for v in variants for m in v.groups}, MODEL_ORDER)
        models = [m for m in models if any(m in v.groups for v in variants)]
        columns = ["model"] + [f"{label}: {name}" for label in labels for _, name in METRICS]
        rows = [[display_name(_row(variants, m))] + [_cell(v.groups.get(m), key)
                                                     for v in variants for key, _ in METRICS]
                for m in models]
        md += [f"## {heading}\n", tabulate(rows, headers=columns, tablefmt="github",
                                           disable_numparse=True), ""]
        data_rows = []
        for label, v in zip(labels, variants, strict=True):
            d = _data_row(v)
            data_rows.append([label, ", ".join(f"{k}={v.axes[k]}" for k in v.axes),
                              _fmt(d["bags"]), _fmt(d["positive_share"]),
                              _fmt(d["mean_bag_length"], 2), _fmt(d["templates"]),
                              _fmt(d["ga"], 4)])
            for m in models:
                g = v.groups.get(m)
                for key, _ in METRICS:
                    stat = g.stat(key) if g is not None else None
                    tidy.append({"dataset": dataset, "input": heading, "variant": v.name,
                                 **v.axes, "model": m, "metric": key,
                                 "mean": "" if stat is None or stat.n == 0 else stat.mean,
                                 "std": "" if stat is None or stat.n == 0 else stat.std,
                                 "n_seeds": 0 if g is None else len(g.seeds),
                                 **{k: "" if d[k] is None else d[k] for k in
                                    ("bags", "positive_share", "mean_bag_length", "templates",
                                     "ga")}})
        md += ["Data per variant (all splits):\n",
               tabulate(data_rows, headers=["variant", "settings", "bags", "positive share",
                                            "mean bag length", "templates", "GA"],
                        tablefmt="github", disable_numparse=True), ""]
    md_path, csv_path = (out_dir / f"sensitivity_{dataset}.{ext}" for ext in ("md", "csv"))
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(tidy)
    return [md_path, csv_path]


def _row(variants: list[Variant], model: str) -> str:
    for v in variants:
        if model in v.groups:
            return v.groups[model].paper_row or model
    return model


def _write_figures(dataset: str, variants: list[Variant], out_dir: Path) -> list[Path]:
    """One figure per axis with ≥ 2 values among the variants that keep the other axes at the
    card's values (or, without a card run, at the first variant's)."""
    from matplotlib.figure import Figure

    from benchmark.report.figures import save_png_pdf

    if not variants:
        return []
    base = next((v.axes for v in variants if SEPARATOR not in v.name), variants[0].axes)
    paths = []
    for axis in _varying(variants):
        # along the window the stride is the one given with it (the window's by default)
        line = [v for v in variants
                if all(v.axes.get(a) == base.get(a) for a in base if a != axis
                       and not (a == "stride" and axis == "window"))]
        if len({v.axes[axis] for v in line}) < 2:
            continue
        values = list(dict.fromkeys(v.axes[axis] for v in line))
        # a line per model measured at two or more values of the axis (a model run only with
        # the card's settings is a single point, in the table)
        models = [m for m in ordered({m for v in line for m in v.groups}, MODEL_ORDER)
                  if len({v.axes[axis] for v in line if m in v.groups}) >= 2]
        if not models:
            continue
        fig = Figure(figsize=(3.2 * len(METRICS), 3.0), layout="constrained")
        panels = fig.subplots(1, len(METRICS))
        x = np.arange(len(values))
        for ax, (key, name) in zip(panels, METRICS, strict=True):
            for index, model in enumerate(models):
                stats = [next((v.groups[model].stat(key) for v in line
                               if v.axes[axis] == value and model in v.groups), None)
                         for value in values]
                mean = np.array([s.mean if s is not None else np.nan for s in stats])
                std = np.array([s.std if s is not None else np.nan for s in stats])
                (drawn,) = ax.plot(x, mean, marker=MARKERS[index // 10 % len(MARKERS)],
                                   color=f"C{index % 10}", label=display_name(_row(line, model)))
                ax.fill_between(x, mean - std, mean + std, alpha=0.2,
                                color=drawn.get_color(), linewidth=0)
            ax.set_xticks(x, values, rotation=30 if len(values) > 4 else 0)
            ax.set_xlabel(AXIS_NAMES.get(axis, axis))
            ax.set_title(name)
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
        panels[0].legend(fontsize="small")
        fig.suptitle(f"{dataset}: sensitivity to the {AXIS_NAMES.get(axis, axis)} "
                     "(mean ± std over seeds)")
        paths += save_png_pdf(fig, out_dir, f"sensitivity_{dataset}_{axis}")
    return paths
