"""A record is reused only for the same data content, card, stage versions, generator and subset.

Each test changes one thing and checks the run's hash changes (the run reruns) — or, for a moved
checkout / data directory, that nothing reruns.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest
import tiny_template_model
from data_samples import write_bgl_log

from benchmark import store
from benchmark.cli import run_all_main
from benchmark.data import cache as cache_module
from benchmark.data import pipeline, synthetic
from benchmark.data.cards import load_card
from benchmark.data.identity import content_identity, dataset_identity

MODEL = tiny_template_model.NAME


@pytest.fixture(autouse=True)
def tiny_model():
    tiny_template_model.register()
    yield
    tiny_template_model.unregister()


def ident(card, data_file, tmp_path, **kw):
    options = {"max_lines": None, "quick": False, **kw}
    return dataset_identity(card, data_file=data_file, data_dir=tmp_path, **options)


def test_same_bytes_elsewhere_identify_alike_and_paths_are_not_hashed(tmp_path):
    card = load_card("bgl")
    (tmp_path / "a").mkdir()
    a = write_bgl_log(tmp_path / "a" / "BGL.log")
    b = tmp_path / "b" / "copy.log"
    b.parent.mkdir()
    shutil.copy(a, b)
    assert ident(card, a, tmp_path) == ident(card, b, tmp_path)
    assert str(tmp_path) not in repr(ident(card, a, tmp_path))


def test_edit_with_same_size_and_mtime_changes_identity(tmp_path):
    card = load_card("bgl")
    path = write_bgl_log(tmp_path / "BGL.log")
    before = ident(card, path, tmp_path)
    stat = path.stat()
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] = ord("X") if data[middle] != ord("X") else ord("Y")
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    cache_module._IDENTITIES.clear()  # a new process: nothing memoised
    assert ident(card, path, tmp_path)["content"] != before["content"]


@pytest.mark.parametrize("change", ["card", "stage", "max_lines", "quick"])
def test_card_stage_versions_and_subset_are_part_of_identity(tmp_path, monkeypatch, change):
    card = load_card("bgl")
    path = write_bgl_log(tmp_path / "BGL.log")
    before = ident(card, path, tmp_path)
    kwargs = {}
    if change == "card":
        card = dataclasses.replace(card, bagging=dataclasses.replace(card.bagging,
                                                                     window_seconds=30.0))
    elif change == "stage":
        monkeypatch.setitem(pipeline.STAGE_VERSIONS, "parse", 99)
    else:
        kwargs = {"max_lines": 100} if change == "max_lines" else {"quick": True}
    assert ident(card, path, tmp_path, **kwargs) != before


def test_synthetic_is_identified_by_its_generator(tmp_path, monkeypatch):
    card = load_card("synthetic")
    before = ident(card, None, tmp_path)
    assert before["generator"]["version"] == synthetic.GENERATOR_VERSION
    assert not any((tmp_path / "raw").glob("**/*.log"))  # identity generates nothing
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", synthetic.GENERATOR_VERSION + 1)
    assert ident(card, None, tmp_path) != before
    monkeypatch.undo()
    spec = dataclasses.replace(synthetic.DEFAULT_SPEC, repeat_prob=0.5)
    monkeypatch.setitem(synthetic.PROFILES, "a",
                        dataclasses.replace(synthetic.PROFILES["a"], spec=spec))
    assert ident(card, None, tmp_path) != before
    monkeypatch.undo()
    assert "profile" not in before["card"]["generator"]  # the default profile keeps old hashes
    other = ident(load_card("synthetic-b"), None, tmp_path)
    assert other["card"]["generator"]["profile"] == "b"
    assert other["generator"]["spec"] != before["generator"]["spec"]


def test_not_a_regular_file_is_a_clear_error(tmp_path):
    card = load_card("bgl")
    from benchmark.data.errors import DataError

    with pytest.raises(DataError, match=r"not a regular file \(a directory\)"):
        ident(card, tmp_path, tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"not a regular file \(a FIFO\)"):
        ident(card, fifo, tmp_path)
    assert content_identity(write_bgl_log(tmp_path / "x.log"))["size"] > 0


@pytest.mark.slow
def test_replaced_file_reruns_moved_checkout_does_not(tmp_path, capsys):
    """End to end through the real pipeline with a tiny model on a small BGL-format log."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    log_file = write_bgl_log(home / "data" / "BGL.log", n_lines=900)

    def run(root, data_file):
        return run_all_main(["--datasets", "bgl", "--data-file", f"bgl={data_file}",
                             "--models", MODEL, "--seeds", "0", "--device", "cpu",
                             "--data-dir", str(root / "data"),
                             "--results-dir", str(root / "results")])

    assert run(home, log_file) == 0
    assert "1 finished" in capsys.readouterr().out

    moved = tmp_path / "moved"
    shutil.copytree(home, moved)
    assert run(moved, moved / "data" / "BGL.log") == 0
    assert "0 finished, 1 already recorded" in capsys.readouterr().out

    write_bgl_log(moved / "data" / "BGL.log", n_lines=900, seed=1)  # same name, other bytes
    assert run(moved, moved / "data" / "BGL.log") == 0
    assert "1 finished, 0 already recorded" in capsys.readouterr().out
    record = store.read_record(store.record_path(moved / "results", "bgl", MODEL, 0))
    assert record.dataset_identity["content"] == content_identity(moved / "data" / "BGL.log")
