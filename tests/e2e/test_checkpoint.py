"""Resumable training: a run interrupted after epoch 2 resumes at epoch 3 and ends bit-identical
to an uninterrupted run (every registered model in process; LogMILP through a real SIGKILL in a
subprocess); a corrupt, truncated, foreign or unsafe checkpoint is reported and never loaded."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_dataset
from records_factory import run_record_path

from benchmark import checkpoint, cli, grid
from benchmark.capabilities import needs_torch
from benchmark.model_api import BagModel, ModelContext
from benchmark.registry import get_model, list_models, model_class, resolve_config
from benchmark.seeding import seed_everything

TESTS_DIR = Path(__file__).resolve().parents[1]
SETTINGS = {"epochs": 4, "patience": 4, "batch_size": 16, "steps_per_epoch": 3}
"""Four short epochs and no early stop before epoch 4, so a resume at epoch 3 has work left."""


class Interrupted(Exception):
    """Stands in for a kill in the in-process tests."""


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One torch thread, as in the runner's workers (and much faster on a loaded machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def config(name: str):
    fields = {f.name for f in dataclasses.fields(model_class(name).config_class)}
    return resolve_config(name, quick=True,
                          overrides={k: v for k, v in SETTINGS.items() if k in fields})


def fit(name: str, data, path: Path | None, seed: int = 0) -> BagModel:
    """One run as the runner does it: seed everything, build, fit on train/val."""
    seed_everything(seed)
    context = ModelContext(templates=data.templates, seed=seed, device=torch.device("cpu"),
                           checkpoint_path=path)
    model = get_model(name, config(name), context)
    return model.fit(data.splits["train"].bags, data.splits["val"].bags)


def interrupt_after(monkeypatch: pytest.MonkeyPatch, epoch: int) -> None:
    """Make checkpoint.save raise right after the checkpoint of `epoch` is on disk."""
    save = checkpoint.save

    def save_then_stop(path, state):
        save(path, state)
        if state.payload["epoch"] == epoch:
            raise Interrupted(epoch)

    monkeypatch.setattr(checkpoint, "save", save_then_stop)


def read_payload(path: Path, raw: bytes | None = None) -> dict:
    """A checkpoint's content (file `path` or its bytes `raw`), read the way checkpoint.load
    does minus the checks."""
    raw = path.read_bytes() if raw is None else raw
    return torch.load(io.BytesIO(raw[len(checkpoint.MAGIC) + 65:]), weights_only=True)


def same_scores(a: BagModel, b: BagModel, data) -> None:
    test = data.splits["test"].bags
    sa, sb = a.score(test), b.score(test)
    np.testing.assert_array_equal(sa.probabilities, sb.probabilities)
    np.testing.assert_array_equal(sa.instance_scores, sb.instance_scores)


@pytest.mark.parametrize("name", [m for m in list_models() if needs_torch(model_class(m))])
def test_resume_after_epoch_2_is_bit_identical(name, tmp_path, monkeypatch, caplog):
    data = make_tiny_dataset(seed=0, bags_per_split=24)
    plain = fit(name, data, None)
    path = tmp_path / "run.pt"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        with pytest.raises(Interrupted):
            fit(name, data, path)
    assert read_payload(path)["payload"]["epoch"] == 2
    with caplog.at_level(logging.INFO, logger="benchmark.trainer"):
        resumed = fit(name, data, path)
    assert "after epoch 2" in caplog.text
    assert resumed.history_.resumed_after == 2
    assert len(resumed.history_.losses) == len(plain.history_.losses)
    assert resumed.history_.losses == plain.history_.losses
    assert resumed.history_.val_scores == plain.history_.val_scores
    assert resumed.history_.best_epoch == plain.history_.best_epoch
    for key, value in plain.net_.state_dict().items():
        assert torch.equal(value, resumed.net_.state_dict()[key]), key
    same_scores(plain, resumed, data)


def test_finished_checkpoint_resumes_without_training(tmp_path, caplog):
    data = make_tiny_dataset(seed=0, bags_per_split=24)
    path = tmp_path / "run.pt"
    first = fit("deeplog", data, path)
    with caplog.at_level(logging.INFO, logger="benchmark.trainer"):
        again = fit("deeplog", data, path)
    assert f"after epoch {len(first.history_.losses)}" in caplog.text
    assert again.history_.losses == first.history_.losses
    same_scores(first, again, data)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _flip_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00not a checkpoint at all")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


class _Plant:
    """Pickled, creates a marker file when unpickled: a payload that must never be loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _unsafe_payload_with_valid_digest(path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"identity": {}, "payload": _Plant(path.with_suffix(".pwned"))}, buffer)
    data = buffer.getvalue()
    path.write_bytes(checkpoint.MAGIC + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)


@pytest.fixture(scope="module")
def interrupted_logmilp(tmp_path_factory):
    """The tiny data, an uninterrupted LogMILP fit, and the checkpoint bytes after epoch 2."""
    data = make_tiny_dataset(seed=0, bags_per_split=24)
    fresh = fit("logmilp", data, None)
    path = tmp_path_factory.mktemp("interrupted") / "run.pt"
    with pytest.MonkeyPatch.context() as patch:
        interrupt_after(patch, 2)
        with pytest.raises(Interrupted):
            fit("logmilp", data, path)
    return data, fresh, path.read_bytes()


@pytest.mark.parametrize("damage, reason", [
    (_truncate, "sha256 mismatch"),
    (_flip_byte, "sha256 mismatch"),
    (_garbage, "bad header"),
    (_empty, "bad header"),
    (_unsafe_payload_with_valid_digest, "payload does not load"),
])
def test_damaged_checkpoint_is_reported_and_ignored(damage, reason, interrupted_logmilp,
                                                    tmp_path, caplog):
    data, fresh, intact = interrupted_logmilp
    path = tmp_path / "run.pt"
    path.write_bytes(intact)
    damage(path)
    with caplog.at_level(logging.INFO):
        restarted = fit("logmilp", data, path)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and reason in warnings[0].getMessage()
    assert str(path) in warnings[0].getMessage() and "epoch 1" in warnings[0].getMessage()
    assert "resuming" not in caplog.text
    assert not path.with_suffix(".pwned").exists()
    assert restarted.history_.resumed_after == 0
    assert restarted.history_.losses == fresh.history_.losses
    same_scores(fresh, restarted, data)
    assert read_payload(path)["payload"]["epoch"] == len(fresh.history_.losses)  # rewritten


def test_checkpoint_of_another_run_is_not_resumed(interrupted_logmilp, tmp_path, caplog):
    data, _, intact = interrupted_logmilp
    path = tmp_path / "run.pt"
    path.write_bytes(intact)  # seed 0's checkpoint
    fresh = fit("logmilp", data, None, seed=1)
    with caplog.at_level(logging.WARNING):
        other = fit("logmilp", data, path, seed=1)
    assert "written by another run" in caplog.text
    assert other.history_.resumed_after == 0
    same_scores(fresh, other, data)


def test_checkpoint_that_does_not_fit_the_net_is_ignored(interrupted_logmilp, tmp_path, caplog):
    data, fresh, intact = interrupted_logmilp
    content = read_payload(Path(tmp_path / "intact.pt"), intact)
    net = content["payload"]["net"]
    key = next(iter(net))
    net[key] = torch.zeros(*net[key].shape, 2)  # same identity, another architecture
    path = tmp_path / "run.pt"
    checkpoint.save(path, checkpoint.TrainState(content["identity"], content["payload"]))
    with caplog.at_level(logging.WARNING):
        restarted = fit("logmilp", data, path)
    assert "does not fit this run" in caplog.text and "epoch 1" in caplog.text
    assert restarted.history_.resumed_after == 0
    assert restarted.history_.losses == fresh.history_.losses
    same_scores(fresh, restarted, data)


def test_save_is_atomic_and_load_verifies(tmp_path):
    path = tmp_path / "a" / "b.pt"
    identity = {"model": "m", "seed": 0}
    checkpoint.save(path, checkpoint.TrainState(identity, {"epoch": 1, "x": torch.arange(3)}))
    assert [p.name for p in path.parent.iterdir()] == ["b.pt"]  # no temp file left behind
    state = checkpoint.load(path, identity)
    assert state.payload["epoch"] == 1 and torch.equal(state.payload["x"], torch.arange(3))
    assert checkpoint.load(tmp_path / "missing.pt", identity) is None


def _argv(results: Path, *extra: str) -> list[str]:
    return ["--datasets", "tiny", "--models", "logmilp", "--seeds", "0", "--device", "cpu",
            "--results-dir", str(results), "--set", "logmilp.epochs=4",
            "--set", "logmilp.patience=4", "--set", "logmilp.steps_per_epoch=3", *extra]


def _tiny_source() -> grid.DataSource:
    return grid.DataSource(prepare=lambda name, **_: make_tiny_dataset(bags_per_split=24),
                             identity=lambda name, **_: {"card": "tiny"})


@pytest.mark.slow
def test_sigkill_after_epoch_2_resumes_at_epoch_3(tmp_path, caplog):
    killed_dir, plain_dir = tmp_path / "killed", tmp_path / "plain"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TESTS_DIR.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(TESTS_DIR / "kill_at_epoch.py"), "2",
                           *_argv(killed_dir)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not list((killed_dir / "runs").rglob("seed0.json"))
    [ckpt] = (killed_dir / "checkpoints" / "tiny" / "logmilp").glob("seed0-*.pt")
    assert read_payload(ckpt)["payload"]["epoch"] == 2

    with caplog.at_level(logging.INFO, logger="benchmark.trainer"):
        assert cli.run_all_main(_argv(killed_dir, "--keep-checkpoints"), _tiny_source()) == 0
    assert f"resuming from checkpoint {ckpt} after epoch 2" in caplog.text
    final = read_payload(ckpt)["payload"]
    assert final["epoch"] == 4 and final["history"]["resumed_after"] == 2

    assert cli.run_all_main(_argv(plain_dir), _tiny_source()) == 0
    assert not (plain_dir / "checkpoints").exists()  # removed once the record is written
    resumed = json.loads(run_record_path(killed_dir, "tiny", "logmilp", 0).read_text())
    plain = json.loads(run_record_path(plain_dir, "tiny", "logmilp", 0).read_text())
    assert resumed["config_hash"] == plain["config_hash"]
    assert resumed["metrics"] == plain["metrics"]
    assert resumed["pr_curve"] == plain["pr_curve"]
