"""The page of bench/logmilp_study.py: tables, orderings, the decision rule's pick, a figure.

`write_report(out, doc, figure, variants, today, tie)` reads every run JSON under `out` and writes
`doc` (Markdown) and `figure` (PNG). Test numbers are printed; the decision uses validation only.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

MODELS = ("logmilp", "logmilp_nocon")
SEEDS = (0, 1, 2)
COMMAND = ("PYTHONPATH=. nice -n 10 python bench/logmilp_study.py run --lines 20000 --epochs 15 "
           "--jobs 2 && PYTHONPATH=. python bench/logmilp_study.py report")


def grid_record(record) -> dict:
    """A harness run record (benchmark.records.RunRecord) in the shape of a study run: its
    validation F1 is the record's; validation SR on unique-key bags is not in it (nan)."""
    return {"run": {"seed": record.seed}, "config": record.config, "metrics": record.metrics,
            "counts": record.counts, "history": record.history,
            "val": {"f1": record.metrics.get("val_f1"), "sr_unique_key": None},
            "record": record}


def load_grid_runs(results: Path, dataset: str, variants: dict[str, tuple]
                   ) -> dict[tuple[str, str, str], dict[int, dict]]:
    """(dataset, variant, model) -> {seed: run} from the verified harness records of `dataset`
    under `results` (the default config's and every `--set` variant's, cfg-*), each placed in
    the variant whose model overrides equal its `config_overrides`; others are left out."""
    from benchmark.store import list_variants, load_records

    names = {json.dumps(spec[1], sort_keys=True): name for name, spec in variants.items()}
    runs: dict[tuple[str, str, str], dict[int, dict]] = defaultdict(dict)
    folders = [None, *(v for v in list_variants(results) if v.startswith("cfg-"))]
    for folder in folders:
        for record in load_records(results, folder):
            name = names.get(json.dumps(record.config_overrides or {}, sort_keys=True))
            if record.dataset == dataset and record.model in MODELS and name is not None:
                runs[(dataset, name, record.model)][record.seed] = grid_record(record)
    return runs


def paired_differences(runs: dict, tag: str, variants: dict[str, tuple], results: Path
                       ) -> list[str]:
    """Per variant: full − w/o of the seed means of Loc@3 and SR, with the 95 % interval and
    two-sided p of the paired stratified bootstrap over the test bags (the README's Statistics,
    as Tables I–III: same resamples for both models; training variance not in it). Score files
    are read from `results`; a variant missing one is left out."""
    from benchmark.protocol import loc_key, sr_key
    from benchmark.report.bootstrap import bag_terms, percentile_interval, resample_weights
    from benchmark.report.rescore import record_scores
    from benchmark.report.significance import bootstrap_p_value
    from benchmark.report.uncertainty import seed_mean

    lines = ["| variant | Loc@3 full − w/o [95 % CI], p | SR full − w/o [95 % CI], p |",
             "|---|---|---|"]
    for variant in variants:
        groups = [runs.get((tag, variant, model), {}) for model in MODELS]
        seeds = [s for s in SEEDS if all(s in g for g in groups)]
        scores = [[record_scores(g[s]["record"], results, "the grid's paired bootstrap")
                   for s in seeds] for g in groups]
        if not seeds or any(x is None for xs in scores for x in xs):
            continue
        terms = [[bag_terms(x) for x in xs] for xs in scores]
        weights = resample_weights(terms[0][0].labels)
        full, ablation = (seed_mean(ts, weights) for ts in terms)
        observed = [seed_mean(ts, np.ones((1, len(weights[0])))) for ts in terms]
        cells = []
        for metric in (loc_key(), sr_key()):
            d = full[metric] - ablation[metric]
            low, high = percentile_interval(d)
            cells.append(f"{observed[0][metric][0] - observed[1][metric][0]:+.3f} "
                         f"[{low:+.3f}, {high:+.3f}], p = {bootstrap_p_value(d):.3f}")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return lines


def load_runs(out: Path) -> dict[tuple[str, str, str], dict[int, dict]]:
    """(dataset tag, variant, model) -> {seed: run JSON}; the tag is
    `<dataset>-<lines>-e<max epochs>`."""
    runs: dict[tuple[str, str, str], dict[int, dict]] = defaultdict(dict)
    for path in sorted(out.glob("*/*/*/seed*.json")):
        record = json.loads(path.read_text())
        tag, variant, model = path.parts[-4], path.parts[-3], path.parts[-2]
        runs[(tag, variant, model)][int(record["run"]["seed"])] = record
    return runs


def kept_diagnostics(record: dict) -> dict[str, float]:
    """The per-epoch diagnostics of the kept (best) epoch."""
    history = record["history"]
    diagnostics = history.get("diagnostics") or []
    epoch = history["best_epoch"]
    return diagnostics[epoch - 1] if 0 < epoch <= len(diagnostics) else {}


def value(record: dict, name: str) -> float:
    """A named number of one run (test metric, validation number or kept-epoch diagnostic)."""
    if name.startswith("val_"):
        v = record["val"][name[4:]]
    elif name.startswith("kept_"):
        v = kept_diagnostics(record).get(name[5:])
    elif name == "best_epoch":
        v = record["history"]["best_epoch"]
    elif name == "epochs":
        v = len(record["history"]["losses"])
    else:
        v = record["metrics"][name]
    return float("nan") if v is None else float(v)


def per_seed(seeds: dict[int, dict], name: str) -> list[float]:
    return [value(seeds[s], name) for s in SEEDS if s in seeds]


def fmt(values: list[float], digits: int = 2, spread: bool = True) -> str:
    """`mean (a / b / c)` or `–` when there is none."""
    finite = [v for v in values if not math.isnan(v)]
    if not values:
        return "–"
    mean = f"{np.mean(finite):.{digits}f}" if finite else "nan"
    if not spread or len(values) == 1:
        return mean
    return f"{mean} ({' / '.join('nan' if math.isnan(v) else f'{v:.{digits}f}' for v in values)})"


COLUMNS = (("best_epoch", "kept epoch", 0), ("val_f1", "val F1", 2),
           ("val_sr_unique_key", "val SR uk", 2), ("f1", "test F1", 2), ("sr", "test SR", 2),
           ("sr_unique_key", "test SR uk", 2), ("loc@3", "test Loc@3", 2),
           ("kept_loss_consistency", "L_con (kept)", 3), ("kept_train_sr", "train SR (kept)", 2),
           ("kept_train_loc@3", "train Loc@3 (kept)", 2),
           ("kept_train_key_hit", "train key hit (kept)", 2))


def results_table(runs: dict, tag: str, variants: dict[str, tuple],
                  columns: tuple[tuple[str, str, int], ...] = COLUMNS) -> list[str]:
    head = "| variant | choice | model | " + " | ".join(c[1] for c in columns) + " |"
    lines = [head, "|" + "---|" * (3 + len(columns))]
    for variant, (choice, _, _) in variants.items():
        for model in MODELS:
            seeds = runs.get((tag, variant, model))
            if not seeds:
                continue
            cells = [fmt(per_seed(seeds, key), digits, spread=key in ("sr", "loc@3"))
                     for key, _, digits in columns]
            label = "full" if model == "logmilp" else "w/o con"
            lines.append(f"| {variant} | {choice} | {label} | " + " | ".join(cells) + " |")
    return lines


def orderings(runs: dict, tag: str, variants: dict[str, tuple]) -> list[str]:
    """Per variant: SR full − w/o per seed, SR higher on every seed, Loc@3 full ≥ w/o on mean."""
    lines = ["| variant | seeds | SR full / w/o (mean) | SR full − w/o per seed | "
             "SR higher on every seed | Loc@3 full / w/o (mean) | Loc@3 not lower on average |",
             "|---|---|---|---|---|---|---|"]
    for variant in variants:
        full, ablation = runs.get((tag, variant, "logmilp")), runs.get((tag, variant,
                                                                         "logmilp_nocon"))
        if not full or not ablation:
            continue
        seeds = [s for s in SEEDS if s in full and s in ablation]
        d_sr = [value(full[s], "sr") - value(ablation[s], "sr") for s in seeds]
        d_loc = [value(full[s], "loc@3") - value(ablation[s], "loc@3") for s in seeds]
        sr_holds = all(d > 0 for d in d_sr)
        loc_mean = float(np.nanmean(d_loc)) if d_loc else float("nan")
        means = {key: [float(np.nanmean([value(group[s], key) for s in seeds]))
                       for group in (full, ablation)] for key in ("sr", "loc@3")}
        lines.append(f"| {variant} | {len(seeds)} | {means['sr'][0]:.2f} / {means['sr'][1]:.2f} | "
                     f"{' / '.join(f'{d:+.2f}' for d in d_sr)} | "
                     f"{'yes' if sr_holds else 'no'} | "
                     f"{means['loc@3'][0]:.3f} / {means['loc@3'][1]:.3f} | "
                     f"{'yes' if loc_mean >= 0 else 'no'} |")
    return lines


PAPER_SPEAKS = {"removal rule": ("default", "zeroed out: §III-E, Algorithm 1 line 12"),
                "key selection": ("default", "minimum-entropy head: §III-F, Algorithm 1 l. 9-10")}
"""Choices the paper's text settles (README, Protocol, decision rule 1): today's value stays."""


def same_val_bags(runs: dict, tag: str, variant: str) -> bool:
    """Whether `variant` scores the same validation bags as today's default on `tag` (rule 5):
    the same number of validation bags and of positive ones, on every seed."""
    base = runs.get((tag, "default", "logmilp"), {})
    other = runs.get((tag, variant, "logmilp"), {})
    key = ("val_bags", "val_positive_bags")
    return bool(base) and all(
        tuple(other[s]["counts"][k] for k in key) == tuple(base[s]["counts"][k] for k in key)
        for s in other if s in base)


def candidate_scores(runs: dict, tags: list[str], names: list[str]) -> list[tuple]:
    """(name, pooled val F1, pooled val SR uk, datasets) per candidate (rules 3 and 5), every
    candidate scored on the same datasets: those with a positive validation bag and all three
    seeds of every candidate, where every candidate scores today's validation bags. A candidate
    that scores them on none of those datasets is dropped first (not comparable anywhere)."""
    entered = [t for t in tags
               if all(len(runs.get((t, n, "logmilp"), {})) == len(SEEDS) for n in names)
               and all(s["counts"]["val_positive_bags"] > 0
                       for s in runs[(t, "default", "logmilp")].values())]
    names = [n for n in names if any(same_val_bags(runs, t, n) for t in entered)]
    pool = [t for t in entered if all(same_val_bags(runs, t, n) for n in names)]
    if not pool:
        return []
    scored = []
    for name in names:
        f1 = [float(np.nanmean(per_seed(runs[(t, name, "logmilp")], "val_f1"))) for t in pool]
        sr = [float(np.nanmean(per_seed(runs[(t, name, "logmilp")], "val_sr_unique_key")))
              if any(not math.isnan(v) for v in per_seed(runs[(t, name, "logmilp")],
                                                          "val_sr_unique_key")) else math.nan
              for t in pool]
        finite = [v for v in sr if not math.isnan(v)]
        scored.append((name, float(np.mean(f1)), float(np.mean(finite)) if finite else math.nan,
                       pool))
    return scored


def pick(scored: list[tuple], tie: float) -> str:
    """Rule 4: best val F1; within `tie` of it, best val SR uk (none = last); within `tie` again,
    today's default if tied, else the first in listed order."""
    best = max(f1 for _, f1, _, _ in scored)
    tied = [s for s in scored if s[1] >= best - tie]
    srs = [s[2] for s in tied if not math.isnan(s[2])]
    if srs:
        tied = [s for s in tied if not math.isnan(s[2]) and s[2] >= max(srs) - tie]
    names = [s[0] for s in tied]
    return "default" if "default" in names else names[0]


def decisions(runs: dict, tags: list[str], variants: dict[str, tuple], today: dict[str, str],
              tie: float) -> list[str]:
    """The rule's pick per choice over the datasets `tags` (full model, validation only)."""
    lines = ["| choice | candidates (pooled mean val F1 / mean val SR uk; datasets entered) "
             "| pick |", "|---|---|---|"]
    for choice in today:
        names = ["default"] + [v for v, (c, _, _) in variants.items() if c == choice]
        scored = candidate_scores(runs, tags, names)
        shown = "; ".join(f"{n} {f1:.3f} / {sr:.3f} ({len(ds)})" for n, f1, sr, ds in scored)
        left = [n for n in names if n not in {s[0] for s in scored}]
        if left:
            shown += f"; not comparable or incomplete: {', '.join(left)}"
        if choice in PAPER_SPEAKS:
            lines.append(f"| {choice} | {shown} | **default** (paper: {PAPER_SPEAKS[choice][1]}) |")
            continue
        if len(scored) < 2:
            lines.append(f"| {choice} | {shown} | **default** (= today: {today[choice]}; "
                         "nothing comparable) |")
            continue
        chosen = pick(scored, tie)
        lines.append(f"| {choice} | {shown} | **{chosen}**"
                     f"{' (= today: ' + today[choice] + ')' if chosen == 'default' else ''} |")
    return lines


def write_figure(runs: dict, tags: list[str], variants: dict[str, tuple], path: Path) -> None:
    """Rows: test SR, test Loc@3 (mean over seeds, dots = seeds) per variant, full vs w/o; and
    the training-set SR per epoch of the default variant (diagnostics)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(tags), figsize=(6 * len(tags), 10), squeeze=False)
    names = list(variants)
    x = np.arange(len(names))
    for col, tag in enumerate(tags):
        for row, metric in enumerate(("sr", "loc@3")):
            ax = axes[row, col]
            for offset, model, colour in ((-0.2, "logmilp", "C0"), (0.2, "logmilp_nocon", "C1")):
                means = []
                for i, name in enumerate(names):
                    vals = per_seed(runs.get((tag, name, model), {}), metric)
                    means.append(np.nanmean(vals) if vals else np.nan)
                    ax.scatter([i + offset] * len(vals), vals, s=8, color="k", zorder=3)
                ax.bar(x + offset, means, 0.4, color=colour,
                       label="full" if model == "logmilp" else "w/o consistency")
            ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
            ax.set_ylim(0, 1.05)
            ax.set_title(f"{tag}: test {metric.upper()}")
            ax.legend(fontsize=8)
        ax = axes[2, col]
        for model, colour in (("logmilp", "C0"), ("logmilp_nocon", "C1")):
            name = "full" if model == "logmilp" else "w/o"
            for seed, record in sorted(runs.get((tag, "default", model), {}).items()):
                rows = record["history"]["diagnostics"]
                epochs = np.arange(1, len(rows) + 1)
                curve = [d.get("train_sr", np.nan) for d in rows]
                ax.plot(epochs, curve, color=colour, alpha=0.8,
                        label=f"{name}: train SR" if seed == 0 else None)
                ax.plot(epochs, [d.get("train_key_hit", np.nan) for d in rows], color=colour,
                        alpha=0.8, linestyle="--",
                        label=f"{name}: train key hit" if seed == 0 else None)
                best = record["history"]["best_epoch"]
                if 0 < best <= len(curve):
                    ax.scatter([best], [curve[best - 1]], color=colour, marker="o", zorder=3)
        ax.set_title(f"{tag}, default: per epoch (dot = kept)", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def coverage(runs: dict, tags: list[str], variants: dict[str, tuple]) -> list[str]:
    lines = ["| dataset | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for tag in tags:
        cells = []
        for name in variants:
            n = [len(runs.get((tag, name, m), {})) for m in MODELS]
            cells.append("–" if not any(n) else f"{n[0]}+{n[1]}")
        lines.append(f"| {tag} | " + " | ".join(cells) + " |")
    return lines


GRID_COLUMNS = tuple(c for c in COLUMNS if c[0] != "val_sr_unique_key")
"""The grid's records hold no validation SR on unique-key bags (the study's tie-break)."""


def grid_section(runs: dict, variants: dict[str, tuple], intro: str, results: Path
                 ) -> list[str]:
    """The model-selection variants on the committed default grid: results and orderings."""
    lines: list[str] = []
    for tag in sorted({key[0] for key in runs}):
        counts = next(iter(next(v for k, v in runs.items() if k[0] == tag).values()))["counts"]
        lines += [f"### Committed default grid: {tag}\n",
                  f"{intro} Test split: {counts['test_bags']} bags, "
                  f"{counts['test_positive_bags']} positive.\n",
                  *results_table(runs, tag, variants, GRID_COLUMNS), "",
                  f"Paper's orderings on the {tag} grid (test):\n",
                  *orderings(runs, tag, variants), "",
                  "Full − w/o on the test bags, seed means, paired stratified bootstrap "
                  "(1,000 resamples, README › Statistics; the interval holds the test-sample "
                  "variance, not the seed spread above):\n",
                  *paired_differences(runs, tag, variants, results), ""]
    return lines


def write_report(out: Path, doc: Path, figure: Path, variants: dict[str, tuple],
                 today: dict[str, str], tie: float, preface: Path | None = None,
                 grid: tuple[dict, dict[str, tuple], str, Path] | None = None) -> None:
    """Write the study page `doc` and its `figure` from the runs under `out`; the hand-written
    analysis in `preface` (default: docs/logmilp_study_notes.md, if present) goes first;
    `grid` = (load_grid_runs(...), its variants, an intro line, the results folder) adds the
    grid's section."""
    runs = load_runs(out)
    tags = sorted({key[0] for key in runs})
    if tags:
        write_figure(runs, tags, variants, figure)
    preface = preface or doc.with_name("logmilp_study_notes.md")
    text: list[str] = [preface.read_text().rstrip() + "\n"] if preface.is_file() else [
        "# LogMILP's open choices (issue 26)\n"]
    text += ["## Generated tables\n",
             f"Regenerate: `{COMMAND}` (runs under `{out}`, one JSON each; the report reads "
             "them, no training). Cells are `mean (seed 0 / 1 / 2)` or the mean over seeds. "
             "`uk` = unique-key bags (≥ 2 lines, the key is the only line of its template). "
             "`(kept)` = the per-epoch diagnostic at the epoch whose weights were kept. "
             "Test numbers are shown, never used by the decision.\n",
             "### Runs present (full + w/o consistency, seeds)\n", *coverage(runs, tags, variants),
             ""]
    for tag in tags:
        text += [f"### {tag}\n", *results_table(runs, tag, variants), "",
                 f"Paper's orderings on {tag} (test):\n", *orderings(runs, tag, variants), "",
                 f"Decision rule on {tag} alone (validation only, README Protocol; for "
                 "reading, the defaults follow the pooled table):\n",
                 *decisions(runs, [tag], variants, today, tie), ""]
    if len(tags) > 1:
        text += ["### Decision rule, pooled over the datasets (README, Protocol)\n",
                 "Full model, validation only: per dataset the mean over seeds, then the mean "
                 f"over the datasets entered; ties within {tie} of the best val F1 go to val SR "
                 "on unique-key bags, remaining ties to today's value. Removal and key "
                 "selection follow the paper's text.\n",
                 *decisions(runs, tags, variants, today, tie), ""]
    if grid is not None and grid[0]:
        text += grid_section(*grid)
    if tags:
        text += [f"![LogMILP study]({figure.name})\n"]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("\n".join(text) + "\n")

