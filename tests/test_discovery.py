"""Adding a model = one file: a model file in a `baselines/` directory on the path is found by the
registry, by the conformance suite, and inside joblib worker processes — with no other edit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = "zz_plugin_mean"
MODEL_FILE = textwrap.dedent(f'''
    """Mean template vector → logistic score (a plugin written by the discovery test)."""

    from dataclasses import dataclass

    import numpy as np

    from benchmark.model_api import BagModel, BagScores
    from benchmark.registry import register_model


    @dataclass(frozen=True)
    class MeanConfig:
        shrink: float = 1.0


    @register_model("{PLUGIN}")
    class MeanModel(BagModel):
        """Distance of the bag's mean template vector from the normal training mean."""

        config_class = MeanConfig

        def fit(self, train, val):
            vectors = self.context.templates.vectors
            ids, mask = train.padded(np.flatnonzero(train.labels == 0))
            self.centre_ = vectors[ids[mask]].mean(axis=0)
            self.scale_ = float(np.linalg.norm(vectors - self.centre_, axis=1).max()) + 1e-9
            return self

        def score(self, bags, drop=None):
            vectors = self.context.templates.vectors
            ids, mask = bags.padded(np.arange(len(bags)), drop=drop)
            dist = np.linalg.norm(vectors[ids] - self.centre_, axis=2) / self.scale_
            inst = np.where(mask, dist, -np.inf).astype(np.float32)
            mean = np.where(mask, dist, 0).sum(1) / np.maximum(mask.sum(1), 1)
            return BagScores(np.clip(mean * self.config.shrink, 0, 1), inst)
''')


@pytest.fixture
def plugin_path(tmp_path) -> Path:
    package = tmp_path / "baselines"
    package.mkdir()
    (package / f"{PLUGIN}.py").write_text(MODEL_FILE)
    return tmp_path


def _env(plugin_path: Path) -> dict[str, str]:
    path = os.pathsep.join([str(plugin_path), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def test_registry_and_models_command_find_the_new_file(plugin_path):
    out = subprocess.run([sys.executable, "-m", "benchmark", "models"], cwd=plugin_path,
                         env=_env(plugin_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert PLUGIN in out.stdout and "deeplog" in out.stdout


def test_conformance_suite_runs_the_new_model(plugin_path):
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(REPO / "tests" / "test_conformance.py"), "-k", PLUGIN],
                         cwd=REPO, env=_env(plugin_path), capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:]
    assert " passed" in out.stdout and PLUGIN in subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider",
         str(REPO / "tests" / "test_conformance.py"), "-k", PLUGIN], cwd=REPO,
        env=_env(plugin_path), capture_output=True, text=True, timeout=300).stdout


def test_joblib_workers_run_the_new_model(plugin_path, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO / "tests")!r})
        from conftest import make_tiny_dataset
        from benchmark import grid
        from benchmark.cli import run_all_main
        source = grid.DataSource(prepare=lambda name, **kw: make_tiny_dataset(bags_per_split=24),
                                 identity=lambda name, **kw: {{"card": "tiny"}})
        sys.exit(run_all_main(["--datasets", "tiny", "--models", "{PLUGIN}", "--seeds", "0", "1",
                               "--jobs", "2", "--device", "cpu",
                               "--results-dir", {str(tmp_path / "results")!r}], source))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=plugin_path, env=_env(plugin_path),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "2 finished" in out.stdout
    for seed in (0, 1):
        assert (tmp_path / "results" / "runs" / "tiny" / PLUGIN / f"seed{seed}.json").exists()
