"""The `drift` labeller scored against real labels, per (source → target) pair, beside `keywords`.

    python bench/drift_labelling.py [--loghub DIR] [--lines N] [--data-dir DIR]

Systems: synthetic-A and synthetic-B (the one synthetic generator profile at seeds 0 and 1,
`--lines` lines each: the generator has no second profile, so the two "systems" share their
templates and differ in draws), and the Loghub 2k samples BGL_2k and Zookeeper_2k (Spirit and
Thunderbird 2k samples are used when present) read through the project's pipeline, their truth
taken from the structured CSVs (BGL: Label ≠ "-"; ZooKeeper: Level = ERROR, the card's rule) and
checked against the pipeline's own line labels.

Per pair and labeller: line level — every target line asked about once, by its template text (what
the ALPHA pipeline shows a labeller) against the line labels; template level — every distinct
target template asked about once against its label (anomalous when ≥ half of its lines are, the
rule the drift labeller's knowledge uses). Precision, recall, F1 (class 1 = anomalous) and the
labeller's query count. Rows: `drift` with its defaults; `drift-any` (a source template is
known-anomalous when any line is); `drift-sem` / `drift-fuzzy` (semantic or fuzzy similarity
alone); `keywords` (reads no source); `text-majority` (not a labeller, a reference that reads the
target's truth: each line gets its template's majority label — the most *accurate* answer a
labeller reading one template text can give, not the best F1 — and its template level is 1 by
construction). Under each pair: the spread of the drift labeller's similarity to the nearest
known-normal text over the target's normal and anomalous templates. No randomness anywhere.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LOGHUB = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub-2k"
REAL = {"BGL_2k": ("bgl", "Label", lambda v: v != "-"),
        "Zookeeper_2k": ("zookeeper", "Level", lambda v: v == "ERROR"),
        "Spirit_2k": ("spirit", "Label", lambda v: v != "-"),
        "Thunderbird_2k": ("spirit", "Label", lambda v: v != "-")}
"""Sample → (card, truth column of its structured CSV, anomalous value test)."""
VARIANTS = {"drift": {}, "drift-any": {"anomalous_fraction": 1e-9},
            "drift-sem": {"semantic_weight": 1.0}, "drift-fuzzy": {"semantic_weight": 0.0}}


@dataclass
class System:
    """A prepared dataset with its line truth: template texts (T,), line templates and labels
    (L,) over the lines its bags cover."""

    name: str
    dataset: object
    texts: tuple[str, ...]
    line_templates: np.ndarray
    line_labels: np.ndarray


def covered_lines(dataset) -> tuple[np.ndarray, np.ndarray]:
    """Distinct line indices covered by any split's bags, and their template ids."""
    from benchmark.labelling.budget import split_lines

    parts = [split_lines(s.bags) for s in dataset.splits.values() if len(s.bags)]
    lines, first = np.unique(np.concatenate([p[0] for p in parts]), return_index=True)
    return lines, np.concatenate([p[1] for p in parts])[first]


def synthetic_system(name: str, seed: int, lines: int, data_dir: Path) -> System:
    from benchmark.data.pipeline import prepare_dataset
    from benchmark.data.synthetic import write_synthetic_log

    path = data_dir / f"synthetic-{lines}-seed{seed}.log"
    if not path.exists():
        write_synthetic_log(path, lines, seed)
    dataset = prepare_dataset("synthetic", data_file=path, data_dir=data_dir)
    idx, tmpl = covered_lines(dataset)
    return System(name, dataset, dataset.templates.texts, tmpl,
                  dataset.splits["train"].line_labels[idx])


def real_system(sample: str, folder: Path, data_dir: Path) -> System:
    """A Loghub 2k sample through the pipeline, its truth from the structured CSV."""
    from benchmark.data.pipeline import prepare_dataset

    card, column, anomalous = REAL[sample]
    dataset = prepare_dataset(card, data_file=folder / f"{sample}.log", data_dir=data_dir)
    with (folder / f"{sample}.log_structured.csv").open(encoding="utf-8", newline="") as f:
        truth = np.array([anomalous(row[column]) for row in csv.DictReader(f)], dtype=np.int8)
    own = dataset.splits["train"].line_labels
    if len(truth) != len(own):
        raise SystemExit(f"{sample}: {len(truth)} CSV rows but {len(own)} lines read")
    idx, tmpl = covered_lines(dataset)
    print(f"{sample}: {len(truth)} lines, {int(truth.sum())} anomalous (CSV {column}); "
          f"pipeline labels agree on {int((truth == own).sum())}/{len(truth)}; "
          f"{len(dataset.templates.texts)} templates")
    return System(sample, dataset, dataset.templates.texts, tmpl, truth[idx])


def template_truth(system: System) -> tuple[list[str], np.ndarray]:
    """Texts of the templates with lines, and their labels (≥ half of the lines anomalous)."""
    n = np.bincount(system.line_templates, minlength=len(system.texts))
    pos = np.bincount(system.line_templates, weights=system.line_labels,
                      minlength=len(system.texts))
    used = np.flatnonzero(n)
    return [system.texts[t] for t in used], (pos[used] >= 0.5 * n[used]).astype(np.int8)


def score(labeller, system: System) -> tuple[dict, dict]:
    """(line-level, template-level) agreement dicts with the query count of each."""
    from benchmark.labelling.budget import agreement

    before = labeller.queries
    line = agreement(system.line_labels,
                     labeller.label([system.texts[t] for t in system.line_templates]).labels)
    line["queries"] = labeller.queries - before
    texts, truth = template_truth(system)
    before = labeller.queries
    tmpl = agreement(truth, labeller.label(texts).labels)
    tmpl["queries"] = labeller.queries - before
    return line, tmpl


def text_majority(system: System) -> dict:
    """Line-level agreement of the target's own template majority (see the module docstring)."""
    from benchmark.labelling.budget import agreement

    n = np.bincount(system.line_templates, minlength=len(system.texts))
    pos = np.bincount(system.line_templates, weights=system.line_labels,
                      minlength=len(system.texts))
    majority = pos >= 0.5 * np.maximum(n, 1)
    return agreement(system.line_labels, majority[system.line_templates])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loghub", type=Path, default=LOGHUB, help="Loghub 2k directory")
    parser.add_argument("--lines", type=int, default=20000, help="lines per synthetic system")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="pipeline cache and synthetic logs (default: a temporary directory)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    from benchmark.labelling.drift import DriftLabeller
    from benchmark.labelling.keywords import KeywordLabeller

    with tempfile.TemporaryDirectory(prefix="drift-labelling-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        systems = [synthetic_system("synthetic-A", 0, args.lines, data_dir),
                   synthetic_system("synthetic-B", 1, args.lines, data_dir)]
        for sample in REAL:
            if (args.loghub / f"{sample}.log_structured.csv").exists():
                systems.append(real_system(sample, args.loghub, data_dir))
            else:
                print(f"{sample}: not in {args.loghub}; skipped")
        by_name = {s.name: s for s in systems}
        pairs = [("synthetic-A", "synthetic-B"), ("synthetic-B", "synthetic-A")]
        real = [s.name for s in systems[2:]]
        pairs += [(a, b) for a in real for b in real if a != b]
        pairs += [("synthetic-A", b) for b in real]
        print(f"\n{'source → target':<30} {'labeller':<13} {'line P':>7} {'R':>6} {'F1':>6} "
              f"{'queries':>7} | {'tmpl P':>7} {'R':>6} {'F1':>6} {'queries':>7}")
        for source, target in pairs:
            labellers = {name: DriftLabeller.from_dataset(by_name[source].dataset, **options)
                         for name, options in VARIANTS.items()}
            labellers["keywords"] = KeywordLabeller()
            for name, labeller in labellers.items():
                line, tmpl = score(labeller, by_name[target])
                print(f"{source + ' → ' + target:<30} {name:<13} {line['precision']:>7.3f} "
                      f"{line['recall']:>6.3f} {line['f1']:>6.3f} {line['queries']:>7} | "
                      f"{tmpl['precision']:>7.3f} {tmpl['recall']:>6.3f} {tmpl['f1']:>6.3f} "
                      f"{tmpl['queries']:>7}")
            texts, truth = template_truth(by_name[target])
            s_n = labellers["drift"].similarities(texts)[0]
            spread = "; ".join(
                f"{what} {np.min(s_n[truth == c]):.2f}/{np.median(s_n[truth == c]):.2f}/"
                f"{np.max(s_n[truth == c]):.2f}" for what, c in (("normal", 0), ("anomalous", 1))
                if (truth == c).any())
            print(f"{'':<30} {'':<13} drift's sim to the nearest known-normal text, target "
                  f"templates (min/median/max): {spread}")
            ceiling = text_majority(by_name[target])
            print(f"{source + ' → ' + target:<30} {'text-majority':<13} "
                  f"{ceiling['precision']:>7.3f} {ceiling['recall']:>6.3f} {ceiling['f1']:>6.3f} "
                  f"{'-':>7} | {'-':>7} {'-':>6} {'-':>6} {'-':>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
