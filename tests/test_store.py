"""Run records: hashing, atomic writes, and the grid's skip / rerun / --force behaviour."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import tiny_template_model
from conftest import make_tiny_dataset

from benchmark import store
from benchmark.runner import DataSource, GridOptions, run_grid


@dataclass
class Cfg:
    lr: float = 0.1
    layers: tuple[int, ...] = (1, 2)


IDENTITY = {"name": "tiny", "data_file": None, "max_lines": None, "quick": False}


def test_config_hash_is_canonical_and_sensitive():
    h = store.config_hash("m", Cfg(), IDENTITY, 0, 1)
    assert h == store.config_hash("m", Cfg(), dict(reversed(IDENTITY.items())), 0, 1)
    assert len(h) == 64
    changed = [
        store.config_hash("m", Cfg(lr=0.2), IDENTITY, 0, 1),
        store.config_hash("m", Cfg(), {**IDENTITY, "max_lines": 10}, 0, 1),
        store.config_hash("m", Cfg(), IDENTITY, 1, 1),
        store.config_hash("m", Cfg(), IDENTITY, 0, 2),
        store.config_hash("other", Cfg(), IDENTITY, 0, 1),
    ]
    assert len({h, *changed}) == 6


def test_write_record_round_trip_with_nan(tmp_path):
    path = store.record_path(tmp_path, "tiny", "m", 3)
    assert path == tmp_path / "runs" / "tiny" / "m" / "seed3.json"
    store.write_record(path, {"dataset": "tiny", "model": "m", "seed": 3, "config": Cfg(),
                              "metrics": {"auc": math.nan, "f1": 0.5}})
    raw = json.loads(path.read_text())
    assert raw["metrics"]["auc"] is None and raw["config"] == {"lr": 0.1, "layers": [1, 2]}
    back = store.read_record(path)
    assert math.isnan(back["metrics"]["auc"]) and back["metrics"]["f1"] == 0.5
    assert [p.name for p in path.parent.iterdir()] == ["seed3.json"]  # no temp file left


def test_failed_write_keeps_previous_record(tmp_path, monkeypatch):
    path = store.record_path(tmp_path, "tiny", "m", 0)
    store.write_record(path, {"config_hash": "old"})

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", crash)
    with pytest.raises(OSError):
        store.write_record(path, {"config_hash": "new"})
    assert store.read_record(path) == {"config_hash": "old"}
    assert [p.name for p in path.parent.iterdir()] == ["seed0.json"]


def test_is_finished_and_load_records_skip_corrupt(tmp_path, caplog):
    good = store.record_path(tmp_path, "tiny", "m", 0)
    store.write_record(good, {"dataset": "tiny", "model": "m", "seed": 0, "metrics": {},
                              "config_hash": "abc"})
    bad = store.record_path(tmp_path, "tiny", "m", 1)
    bad.write_text("{truncated")
    assert store.is_finished(good, "abc") and not store.is_finished(good, "abd")
    assert not store.is_finished(bad, "abc")
    assert not store.is_finished(store.record_path(tmp_path, "x", "m", 0), "abc")
    records = store.load_records(tmp_path)
    assert [r["seed"] for r in records] == [0]
    assert "unreadable" in caplog.text


# --- grid level: skip on same hash, rerun on a changed config, --force ----------------------


@pytest.fixture
def tiny_model():
    tiny_template_model.register()
    yield tiny_template_model.NAME
    tiny_template_model.unregister()


class CountingSource:
    """The tiny dataset, counting preparations; `settings` stands for the dataset card."""

    def __init__(self) -> None:
        self.prepared = 0
        self.card = {"window": 60}

    def source(self) -> DataSource:
        def prepare(name, **kwargs):
            self.prepared += 1
            return make_tiny_dataset(bags_per_split=24)

        return DataSource(prepare=prepare, settings=lambda name: dict(self.card))


def grid(tmp_path, model, **kw) -> GridOptions:
    return GridOptions(datasets=("tiny",), models=(model,), seeds=(0,), device="cpu",
                       results_dir=tmp_path, **kw)


def test_same_hash_skips_changed_config_reruns_force_reruns(tmp_path, tiny_model):
    data = CountingSource()
    first = run_grid(grid(tmp_path, tiny_model), data.source())
    path = store.record_path(tmp_path, "tiny", tiny_model, 0)
    assert first.finished == [path] and data.prepared == 1
    hash0 = store.read_record(path)["config_hash"]

    again = run_grid(grid(tmp_path, tiny_model), data.source())
    assert again.finished == [] and again.skipped == [path] and data.prepared == 1

    quick = run_grid(grid(tmp_path, tiny_model, quick=True), data.source())  # other config
    assert quick.finished == [path] and data.prepared == 2
    record = store.read_record(path)
    assert record["config_hash"] != hash0 and record["config"]["epochs"] == 4

    data.card = {"window": 30}  # the dataset card changed: stale hash → rerun
    assert run_grid(grid(tmp_path, tiny_model, quick=True), data.source()).finished == [path]

    forced = run_grid(grid(tmp_path, tiny_model, quick=True, force=True), data.source())
    assert forced.finished == [path] and forced.skipped == [] and data.prepared == 4
