"""The classical references (counts_lr, counts_iforest) beyond the conformance suite: they fit,
score, evaluate and round-trip their state with torch blocked; their scores are what their
docstrings say (coefficients, σ(w·x + b), scikit-learn's isolation-forest score, the score drop);
and a grid run records them without torch seeding or a checkpoint."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit
from tiny_data import make_tiny_dataset

from baselines.counts_iforest import CountsIForest, CountsIForestConfig
from baselines.counts_lr import CountsLR, CountsLRConfig
from benchmark.count_models import BagLines, count_matrix, log_scaled
from benchmark.data.bagset import NO_DROP
from benchmark.model_api import ModelContext

ROOT = Path(__file__).resolve().parents[2]


def fitted(cls, config, seed: int = 0):
    data = make_tiny_dataset(seed=0, bags_per_split=60)
    model = cls(config, ModelContext(data.templates, seed, "cpu"))
    return model.fit(data.splits["train"].bags, data.splits["val"].bags), data


def test_fit_score_evaluate_and_state_round_trip_without_torch():
    script = textwrap.dedent("""
        import sys

        class NoTorch:  # any `import torch` now raises ImportError
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError(f"torch is blocked ({name})")

        sys.meta_path.insert(0, NoTorch())
        sys.path.insert(0, "tests")
        import numpy as np
        from tiny_data import make_tiny_dataset
        from baselines.counts_iforest import CountsIForest, CountsIForestConfig
        from baselines.counts_lr import CountsLR, CountsLRConfig
        from benchmark.model_api import ModelContext
        from benchmark.protocol import evaluate
        data = make_tiny_dataset(seed=0, bags_per_split=40)
        for cls, config in ((CountsLR, CountsLRConfig()), (CountsIForest, CountsIForestConfig())):
            context = ModelContext(data.templates, 0, "cpu")
            model = cls(config, context).fit(data.splits["train"].bags, data.splits["val"].bags)
            result = evaluate(model, {"val": data.splits["val"], "test": data.splits["test"]})
            arrays, meta = model.state_arrays()
            again = cls(config, context).load_arrays(arrays, meta)
            bags = data.splits["test"].bags
            assert np.array_equal(again.score(bags).instance_scores,
                                  model.score(bags).instance_scores)
            print(cls.name, round(result["metrics"]["auc"], 4))
        assert not [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "counts_lr" in done.stdout and "counts_iforest" in done.stdout


def test_lr_scores_are_its_coefficients_and_sigmoid_of_log_counts():
    model, data = fitted(CountsLR, CountsLRConfig())
    bags = data.splits["test"].bags
    scores = model.score(bags)
    for b in range(5):
        ids = bags.instances(b)
        np.testing.assert_array_equal(scores.instance_scores[b, : len(ids)],
                                      model.coef_[ids].astype(np.float32))
        x = np.zeros(model.n_columns)
        np.add.at(x, ids, 1.0)
        p = expit(np.log1p(x) @ model.coef_ + model.intercept_)
        assert scores.probabilities[b] == pytest.approx(p, rel=1e-12)
    # the planted anomalous templates (22, 23) get the largest coefficients
    assert set(np.argsort(-model.coef_)[:2]) == {22, 23}


def test_lr_keeps_the_c_of_best_validation_f1_and_the_smallest_on_ties():
    model, _ = fitted(CountsLR, CountsLRConfig())
    best = max(model.val_f1_.values())
    tied = [float(c) for c, f1 in model.val_f1_.items() if f1 == best]
    assert model.c_ == min(tied)
    assert set(model.val_f1_) == {"0.01", "0.1", "1", "10", "100"}


def test_dropping_a_line_lowers_its_template_count_by_one():
    model, data = fitted(CountsLR, CountsLRConfig())
    bags = data.splits["test"].bags.subset(np.arange(4))
    drop = np.array([0, NO_DROP, 2, 1])
    dropped = model.score(bags, drop=drop)
    for b in (0, 2, 3):
        ids = np.delete(bags.instances(b), drop[b])
        x = np.zeros(model.n_columns)
        np.add.at(x, ids, 1.0)
        expected = expit(np.log1p(x) @ model.coef_ + model.intercept_)
        assert dropped.probabilities[b] == pytest.approx(expected, rel=1e-12)


def test_iforest_matches_scikit_learn_and_attributes_the_score_drop():
    from sklearn.ensemble import IsolationForest

    model, data = fitted(CountsIForest, CountsIForestConfig())
    train = data.splits["train"].bags
    normal = train.subset(np.flatnonzero(train.labels == 0))
    counts = count_matrix(BagLines(normal, None), len(normal), model.n_columns)
    forest = IsolationForest(n_estimators=100, max_samples=min(256, len(normal)),
                             random_state=0).fit(log_scaled(counts))
    test = data.splits["test"].bags
    test_counts = count_matrix(BagLines(test, None), len(test), model.n_columns)
    scores = model.score(test)
    np.testing.assert_allclose(scores.probabilities, -forest.score_samples(log_scaled(test_counts)),
                               rtol=0, atol=1e-12)
    b = 1
    ids = test.instances(b)
    for i in range(len(ids)):
        x = np.zeros(model.n_columns)
        np.add.at(x, np.delete(ids, i), 1.0)
        without = -forest.score_samples(np.log1p(x)[None, :])[0]
        assert scores.instance_scores[b, i] == pytest.approx(scores.probabilities[b] - without,
                                                             abs=1e-6)


def test_unknown_template_ids_need_add_unknown_template():
    model, data = fitted(CountsLR, CountsLRConfig())
    test = data.splits["test"].bags
    from benchmark.data.bagset import BagSet

    bags = BagSet(np.array([0, 1, data.templates.size], np.int32), np.array([0]), np.array([3]),
                  np.zeros(1, np.int8), test.templates)
    with pytest.raises(ValueError, match=r"counts_lr: template id 24 is outside the 24"):
        model.score(bags)
    model.add_unknown_template()
    assert model.score(bags).instance_scores[0, 2] == 0.0  # its column was 0 in training


@pytest.mark.slow
def test_grid_runs_the_counts_models_without_torch_seeding_or_checkpoint(tmp_path):
    from benchmark import artifacts
    from benchmark.grid import DataSource, GridOptions, run_grid
    from benchmark.store import read_record, record_path

    data = make_tiny_dataset(seed=0, bags_per_split=40)
    source = DataSource(prepare=lambda name, **_: data, identity=lambda name, **_: {"name": name})
    outcome = run_grid(GridOptions(datasets=("tiny",), models=("counts_*",), seeds=(0,),
                                   threads=1, results_dir=tmp_path), source)
    assert not outcome.failed and len(outcome.finished) == 2
    for name in ("counts_lr", "counts_iforest"):
        record = read_record(record_path(tmp_path, "tiny", name, 0))
        assert record.environment["device"] == "cpu" and record.environment["threads"] == 1
        assert "torch_threads" not in record.environment
        saved = artifacts.load_model(artifacts.model_path(tmp_path, "tiny", name, 0))
        assert saved.model.name == name and not (tmp_path / "checkpoints").exists()


def test_cross_domain_refuses_a_named_counts_model(tmp_path):
    from benchmark import cli

    rc = cli.run_all_main(["--cross-domain", "--sources", "bgl", "--target", "zookeeper",
                           "--models", "counts_lr", "--results-dir", str(tmp_path)])
    assert rc == 2
