"""The decision rule of bench/logmilp_study_report.py is the README's (Protocol): validation F1
pooled over datasets, ties to validation SR on unique-key bags, then to today's value; the
paper's text settles removal and key selection; bag shapes compare only on the same val bags."""

from __future__ import annotations

import math

from bench_scripts import load_bench_script

report = load_bench_script("logmilp_study_report")

TIE = 0.01
VARIANTS = {"default": ("(today)", {}, {}), "a1": ("model selection", {}, {}),
            "a2": ("model selection", {}, {}), "r1": ("removal rule", {}, {}),
            "w1": ("bag shape", {}, {})}
TODAY = {"model selection": "F1", "removal rule": "zero", "bag shape": "60 s"}


def record(f1: float, sr: float = math.nan, val_bags: int = 10, positive: int = 3) -> dict:
    return {"val": {"f1": f1, "sr_unique_key": sr},
            "counts": {"val_bags": val_bags, "val_positive_bags": positive}}


def runs_of(table: dict) -> dict:
    """{(tag, variant): kwargs of record} -> the report's runs mapping (3 equal seeds)."""
    return {(tag, variant, "logmilp"): {s: record(**kw) for s in (0, 1, 2)}
            for (tag, variant), kw in table.items()}


def pick_of(runs: dict, tags: list[str], choice: str) -> str:
    lines = report.decisions(runs, tags, VARIANTS, {choice: TODAY[choice]}, TIE)
    return lines[-1].split("**")[1]


def test_best_pooled_f1_wins_and_each_dataset_counts_once():
    runs = runs_of({("x", "default"): dict(f1=0.60), ("x", "a1"): dict(f1=0.70),
                    ("x", "a2"): dict(f1=0.50),
                    ("y", "default"): dict(f1=0.80), ("y", "a1"): dict(f1=0.60),
                    ("y", "a2"): dict(f1=0.95)})
    # pooled: default 0.70, a1 0.65, a2 0.725
    assert pick_of(runs, ["x", "y"], "model selection") == "a2"
    assert pick_of(runs, ["x"], "model selection") == "a1"


def test_f1_tie_goes_to_val_sr_then_to_today():
    runs = runs_of({("x", "default"): dict(f1=0.700, sr=0.2), ("x", "a1"): dict(f1=0.705, sr=0.5),
                    ("x", "a2"): dict(f1=0.600, sr=0.9)})
    assert pick_of(runs, ["x"], "model selection") == "a1"  # a2 is not F1-tied
    runs = runs_of({("x", "default"): dict(f1=0.700, sr=0.5), ("x", "a1"): dict(f1=0.705, sr=0.505),
                    ("x", "a2"): dict(f1=0.600)})
    assert pick_of(runs, ["x"], "model selection") == "default"
    runs = runs_of({("x", "default"): dict(f1=0.700), ("x", "a1"): dict(f1=0.705, sr=0.1),
                    ("x", "a2"): dict(f1=0.600)})
    assert pick_of(runs, ["x"], "model selection") == "a1"  # no SR ranks last


def test_paper_text_settles_removal_whatever_validation_says():
    runs = runs_of({("x", "default"): dict(f1=0.5), ("x", "r1"): dict(f1=0.9, sr=1.0)})
    assert pick_of(runs, ["x"], "removal rule") == "default"


def test_bag_shape_compares_only_on_the_same_validation_bags():
    runs = runs_of({("x", "default"): dict(f1=0.5), ("x", "w1"): dict(f1=0.9, val_bags=4)})
    assert pick_of(runs, ["x"], "bag shape") == "default"
    runs = runs_of({("x", "default"): dict(f1=0.5), ("x", "w1"): dict(f1=0.9)})
    assert pick_of(runs, ["x"], "bag shape") == "w1"


def test_dataset_without_positive_validation_bag_or_seeds_does_not_enter():
    runs = runs_of({("x", "default"): dict(f1=0.6), ("x", "a1"): dict(f1=0.7),
                    ("x", "a2"): dict(f1=0.5),
                    ("z", "default"): dict(f1=0.9, positive=0), ("z", "a1"): dict(f1=0.0),
                    ("z", "a2"): dict(f1=0.0)})
    assert pick_of(runs, ["x", "z"], "model selection") == "a1"
    del runs[("x", "a2", "logmilp")][2]  # a candidate misses a seed: x leaves the pool
    lines = report.decisions(runs, ["x"], VARIANTS, {"model selection": "F1"}, TIE)
    assert "nothing comparable" in lines[-1]


def test_candidates_of_a_choice_are_scored_on_the_same_datasets():
    # w1 scores today's validation bags on y only: default and w1 are compared on y alone
    runs = runs_of({("x", "default"): dict(f1=0.2), ("x", "w1"): dict(f1=0.9, val_bags=4),
                    ("y", "default"): dict(f1=0.8), ("y", "w1"): dict(f1=0.8)})
    assert pick_of(runs, ["x", "y"], "bag shape") == "default"
    lines = report.decisions(runs, ["x", "y"], VARIANTS, {"bag shape": "60 s"}, TIE)
    assert "default 0.800" in lines[-1] and "w1 0.800" in lines[-1]


GRID = {"default": ("(decided)", {}, {}),
        "val-loss": ("model selection", {"val_score": "loss"}, {})}


def test_grid_records_are_placed_by_their_overrides_and_others_left_out(tmp_path):
    """The study page's grid section reads the harness's own records: the default config's and a
    `--set` variant's whose overrides match; another override, a --quick run or another dataset
    never enters (they would mix another config into the comparison)."""
    import dataclasses

    from records_factory import make_record

    from benchmark.layout import record_path
    from benchmark.store import write_record

    def put(model, seed, folder=None, overrides=None, dataset="synthetic", sr=0.5, loc=0.2):
        record = dataclasses.replace(
            make_record(dataset, model, seed, quick=folder == "quick", sr=sr, **{"loc@3": loc}),
            config_overrides=overrides or {}, extras={"variant": folder} if folder else {},
            history={"best_epoch": 9, "losses": [0.1] * 12, "diagnostics": []})
        write_record(record_path(tmp_path, dataset, model, seed, folder), record)

    for seed in (0, 1, 2):
        put("logmilp", seed, sr=0.8, loc=0.1)
        put("logmilp_nocon", seed, sr=0.2, loc=0.3)
        put("logmilp", seed, "cfg-aaaaaaaaaa", {"val_score": "loss"}, sr=0.9, loc=0.4)
        put("logmilp_nocon", seed, "cfg-aaaaaaaaaa", {"val_score": "loss"}, sr=0.1, loc=0.2)
    put("logmilp", 0, "cfg-bbbbbbbbbb", {"lr": 0.1}, sr=0.0)
    put("logmilp", 1, "quick", sr=0.0)
    put("logmilp", 2, dataset="synthetic-b", sr=0.0)

    runs = report.load_grid_runs(tmp_path, "synthetic", GRID)
    assert {key: sorted(seeds) for key, seeds in runs.items()} == {
        ("synthetic", v, m): [0, 1, 2] for v in GRID for m in report.MODELS}
    assert runs[("synthetic", "default", "logmilp")][0]["metrics"]["sr"] == 0.8
    rows = {line.split(" | ")[0].strip("| "): line for line in report.orderings(
        runs, "synthetic", GRID)[2:]}
    assert rows["default"].endswith("| yes | 0.100 / 0.300 | no |")  # SR lifted, Loc@3 lower
    assert rows["val-loss"].endswith("| yes | 0.400 / 0.200 | yes |")
