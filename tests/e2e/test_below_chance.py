"""The below-chance guard: a run whose validation AUC is below 0.5 says so in its record (metric
`val_auc`, a note), logs a warning, and the report tables mark its cells."""

from __future__ import annotations

import logging
import math

import pytest
import tiny_template_model
from test_runner import Data

from benchmark import cli, store
from benchmark.records import is_below_chance

INVERTED = tiny_template_model.INVERTED_NAME
PLAIN = tiny_template_model.NAME


@pytest.fixture(scope="module", autouse=True)
def tiny_models():
    tiny_template_model.register()
    tiny_template_model.register_inverted()
    yield
    tiny_template_model.unregister_inverted()
    tiny_template_model.unregister()


@pytest.mark.parametrize(("value", "below"), [(0.49, True), (0.0, True), (0.5, False),
                                              (0.9, False), (math.nan, False), (None, False)])
def test_below_chance_is_a_defined_auc_under_one_half(value, below):
    assert is_below_chance(value) is below


def test_inverted_model_is_flagged_in_record_log_and_tables(tmp_path, caplog):
    args = ["--datasets", "tiny", "--models", PLAIN, INVERTED, "--seeds", "0", "--device", "cpu",
            "--results-dir", str(tmp_path)]
    with caplog.at_level(logging.WARNING):
        assert cli.run_all_main(args, Data().source()) == 0

    inverted = store.read_record(store.record_path(tmp_path, "tiny", INVERTED, 0))
    plain = store.read_record(store.record_path(tmp_path, "tiny", PLAIN, 0))
    assert plain.metrics["val_auc"] > 0.75 and not plain.below_chance
    assert inverted.metrics["val_auc"] < 0.25 and inverted.below_chance
    assert inverted.metrics["auc"] < 0.5  # the test ranking is upside down too
    assert any(n.startswith("below chance: validation AUC") for n in inverted.notes)
    assert not any("below chance" in n for n in plain.notes)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(INVERTED in w and "below chance" in w for w in warnings)

    table = (tmp_path / "tables" / "table1.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()
            if line.startswith("| zz_tiny")}
    assert "✗0" in rows[INVERTED].split("|")[2] and rows[INVERTED].count(" ✗") >= 3
    assert "✗" not in rows[PLAIN]
    assert "✗ = below chance" in table
    assert "$\\times$0" in (tmp_path / "tables" / "table1.tex").read_text()  # seeds cell
