"""Run records: hashing, atomic writes, and the grid's skip / rerun / --force behaviour."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import tiny_template_model
from conftest import make_tiny_dataset
from records_factory import make_record

from benchmark import store
from benchmark.data.request import DataRequest
from benchmark.grid import DataSource, GridOptions, run_grid
from benchmark.records import SCHEMA_VERSION, checksum_of


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
    store.write_record(path, make_record("tiny", "m", 3, auc=math.nan, f1=0.5))
    raw = json.loads(path.read_text())
    assert raw["metrics"]["auc"] is None and raw["schema_version"] == SCHEMA_VERSION
    assert len(raw["checksum"]) == 64
    back = store.read_record(path)
    assert math.isnan(back.metrics["auc"]) and back.metrics["f1"] == 0.5
    assert [p.name for p in path.parent.iterdir()] == ["seed3.json"]  # no temp file left


def test_failed_write_keeps_previous_record(tmp_path, monkeypatch):
    path = store.record_path(tmp_path, "tiny", "m", 0)
    old = make_record("tiny", "m", 0, config_hash="a" * 64)
    store.write_record(path, old)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", crash)
    with pytest.raises(OSError):
        store.write_record(path, make_record("tiny", "m", 0, config_hash="b" * 64))
    assert store.read_record(path) == old
    assert [p.name for p in path.parent.iterdir()] == ["seed0.json"]


def test_is_finished_and_corrupt_records_are_quarantined(tmp_path, caplog):
    good = store.record_path(tmp_path, "tiny", "m", 0)
    store.write_record(good, make_record("tiny", "m", 0, config_hash="a" * 64))
    bad = store.record_path(tmp_path, "tiny", "m", 1)
    bad.write_text("{truncated")
    assert store.is_finished(good, "a" * 64) and not store.is_finished(good, "b" * 64)
    assert not store.is_finished(bad, "a" * 64)
    assert not bad.exists() and bad.with_name("seed1.json.bad").exists()
    assert not store.is_finished(store.record_path(tmp_path, "x", "m", 0), "a" * 64)
    assert [r.seed for r in store.load_records(tmp_path)] == [0]
    assert "not valid JSON" in caplog.text


def _edit(path, change):
    body = json.loads(path.read_text())
    change(body)
    path.write_text(json.dumps(body))


@pytest.mark.parametrize("change, reason", [
    (lambda b: b["metrics"].__setitem__("f1", 0.999), "checksum mismatch"),
    (lambda b: b.pop("metrics"), "checksum mismatch"),
    (lambda b: b.__setitem__("schema_version", 1), "schema version 1"),
])
def test_edited_records_are_quarantined_and_never_reported(tmp_path, caplog, change, reason):
    path = store.record_path(tmp_path, "tiny", "m", 0)
    store.write_record(path, make_record("tiny", "m", 0, config_hash="a" * 64))
    _edit(path, change)
    assert store.load_records(tmp_path) == []
    assert reason in caplog.text and path.with_name("seed0.json.bad").exists()


@pytest.mark.parametrize("field, value, reason", [
    ("seed", "zero", "seed must be an integer"),
    ("metrics", {"auc": "abc"}, "metrics missing"),
    ("config_hash", "short", "config_hash must be 64 hex digits"),
])
def test_schema_is_checked_even_with_a_validchecksum_of(tmp_path, caplog, field, value, reason):
    path = store.record_path(tmp_path, "tiny", "m", 0)
    store.write_record(path, make_record("tiny", "m", 0))
    body = json.loads(path.read_text())
    body.pop("checksum")
    body[field] = value
    body["checksum"] = checksum_of(body)
    path.write_text(json.dumps(body))
    assert store.read_record(path) is None and reason in caplog.text


def test_metric_out_of_range_and_non_utf8_and_moved_records(tmp_path, caplog):
    path = store.record_path(tmp_path, "tiny", "m", 0)
    store.write_record(path, make_record("tiny", "m", 0, f1=0.5))
    body = json.loads(path.read_text())
    body.pop("checksum")
    body["metrics"]["f1"] = "abc"
    body["checksum"] = checksum_of(body)
    path.write_text(json.dumps(body))
    assert store.read_record(path) is None and "metric f1 must be a number" in caplog.text

    garbage = store.record_path(tmp_path, "tiny", "m", 1)
    garbage.write_bytes(b'{"seed": "\xff\xfe' + bytes([0xFF, 0xFE]) + b'"}')
    assert store.read_record(garbage) is None and "not UTF-8" in caplog.text

    moved = store.record_path(tmp_path, "tiny", "m", 2)
    store.write_record(moved, make_record("tiny", "m", 7))
    assert store.read_record(moved) is None and "not the run its path names" in caplog.text


def test_stale_temp_files_are_removed(tmp_path):
    run_dir = store.record_path(tmp_path, "tiny", "m", 0).parent
    run_dir.mkdir(parents=True)
    stale = run_dir / ".seed0.json.abc123.tmp"
    stale.write_text("{half")
    assert store.clean_stale_temp(tmp_path) == 1 and not stale.exists()


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

        return DataSource(prepare=prepare, identity=lambda name, **kw: {"card": dict(self.card)})


def grid(tmp_path, model, quick=False, **kw) -> GridOptions:
    return GridOptions(datasets=("tiny",), models=(model,), seeds=(0,), device="cpu",
                       results_dir=tmp_path, data=DataRequest(quick=quick), **kw)


def test_same_hash_skips_changed_config_reruns_force_reruns(tmp_path, tiny_model):
    data = CountingSource()
    first = run_grid(grid(tmp_path, tiny_model), data.source())
    path = store.record_path(tmp_path, "tiny", tiny_model, 0)
    assert first.finished == [path] and data.prepared == 1
    hash0 = store.read_record(path).config_hash

    again = run_grid(grid(tmp_path, tiny_model), data.source())
    assert again.finished == [] and again.skipped == [path] and data.prepared == 1

    default_bytes = path.read_bytes()
    quick = run_grid(grid(tmp_path, tiny_model, quick=True), data.source())  # other config
    quick_path = store.record_path(tmp_path, "tiny", tiny_model, 0, "quick")
    assert quick.finished == [quick_path] and data.prepared == 2
    record = store.read_record(quick_path)
    assert record.config_hash != hash0 and record.config["epochs"] == 4
    assert path.read_bytes() == default_bytes  # the default config's record is untouched

    data.card = {"window": 30}  # the dataset card changed: stale hash → rerun
    assert run_grid(grid(tmp_path, tiny_model, quick=True), data.source()).finished == [
        quick_path]

    forced = run_grid(grid(tmp_path, tiny_model, quick=True, force=True), data.source())
    assert forced.finished == [quick_path] and forced.skipped == [] and data.prepared == 4
