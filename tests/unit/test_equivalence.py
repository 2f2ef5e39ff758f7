"""benchmark.equivalence: issue 24's rule on constructed record sets (directories and a git
revision), and the `compare-records` command."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from benchmark import cli
from benchmark.equivalence import (
    RecordSetError,
    compare_record_sets,
    load_record_set,
    metric_delta,
    pooled_std,
)
from tests.records_factory import make_record


def write_set(results: Path, values: dict[str, list[dict[str, float]]]) -> Path:
    """results/runs/synthetic/<model>/seed<i>.json with the metrics of seed i."""
    for model, seeds in values.items():
        for seed, metrics in enumerate(seeds):
            path = results / "runs" / "synthetic" / model / f"seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(make_record("synthetic", model, seed, **metrics).to_json())
    return results


def seeds(*aucs: float, f1: float | None = None) -> list[dict[str, float]]:
    return [{"auc": a, **({} if f1 is None else {"f1": f1})} for a in aucs]


def test_pooled_std_and_floor() -> None:
    assert pooled_std([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]) == 0.0
    assert pooled_std([0.0, 1.0, 2.0], [0.0, 1.0, 2.0]) == pytest.approx(1.0)  # ddof = 1
    same = metric_delta("auc", [0.90, 0.90, 0.90], [0.915, 0.915, 0.915])
    assert same.ok and same.tolerance == 0.02  # the floor: Δ 0.015 ≤ 0.02
    off = metric_delta("auc", [0.90, 0.90, 0.90], [0.93, 0.93, 0.93])
    assert not off.ok and off.delta == pytest.approx(0.03)
    loc = metric_delta("loc@3", [0.30, 0.30, 0.30], [0.34, 0.34, 0.34])
    assert loc.ok and loc.tolerance == 0.05  # Loc@3 and SR have the wider floor
    noisy = metric_delta("f1", [0.70, 0.80, 0.90], [0.80, 0.90, 1.00])
    assert noisy.tolerance == pytest.approx(0.2) and noisy.ok  # 2 × pooled std 0.1
    assert metric_delta("sr", [math.nan] * 3, [math.nan] * 3) is None
    assert not metric_delta("sr", [math.nan] * 3, [0.5] * 3).ok


def test_directories_yes_no_and_missing(tmp_path: Path) -> None:
    old = write_set(tmp_path / "old", {"a": seeds(0.90, 0.91, 0.92),
                                       "b": seeds(0.90, 0.90, 0.90),
                                       "c": seeds(0.9, 0.9, 0.9)})
    new = write_set(tmp_path / "new", {"a": seeds(0.905, 0.915, 0.925),
                                       "b": seeds(0.95, 0.95, 0.95),  # +0.05 > 0.02: no
                                       "c": seeds(0.9, 0.9)})  # seed 2 missing: n/a
    result = {c.model: c for c in compare_record_sets(load_record_set(str(old)),
                                                      load_record_set(str(new)))}
    assert result["a"].verdict == "yes"
    assert result["b"].verdict == "no"
    assert [d.metric for d in result["b"].deltas if not d.ok] == ["auc"]
    assert result["c"].verdict == "n/a" and "new seed 2" in result["c"].missing


def test_command_prints_one_line_per_model(tmp_path: Path, capsys) -> None:
    old = write_set(tmp_path / "old", {"a": seeds(0.9, 0.9, 0.9), "b": seeds(0.9, 0.9, 0.9)})
    new = write_set(tmp_path / "new", {"a": seeds(0.9, 0.9, 0.9),
                                       "b": seeds(0.9, 0.9, 0.9, f1=0.7)})  # F1 0.85 → 0.7
    assert cli.benchmark_main(["compare-records", str(old), str(new)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("a: AUC 0.9000→0.9000 Δ +0.0000") and \
        lines[1].endswith("equivalent: yes")
    assert "F1 0.8500→0.7000 Δ -0.1500 (tol 0.0200)" in lines[2]
    assert lines[2].endswith("equivalent: no")
    assert cli.benchmark_main(["compare-records", str(old), str(old)]) == 0


def test_git_revision_reads_committed_records(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_set(repo / "results", {"a": seeds(0.9, 0.9, 0.9)})
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "records"], check=True)
    (repo / "results" / "runs" / "synthetic" / "a" / "seed0.json").unlink()  # not read
    records = load_record_set("HEAD", repo=repo)
    assert sorted(records["a"]) == [0, 1, 2] and records["a"][0]["auc"] == 0.9
    with pytest.raises(RecordSetError, match="neither a results directory nor a git"):
        load_record_set("no-such-ref", repo=repo)


def test_edited_record_is_named(tmp_path: Path) -> None:
    old = write_set(tmp_path / "old", {"a": seeds(0.9, 0.9, 0.9)})
    path = old / "runs" / "synthetic" / "a" / "seed1.json"
    path.write_text(path.read_text().replace("0.9", "0.99", 1))
    with pytest.raises(RecordSetError, match="seed1.json"):
        load_record_set(str(old))
