"""Adding a model = one file: a model file in a `baselines/` directory on the path is found by the
registry, by the conformance suite, and inside joblib worker processes — with no other edit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = "zz_plugin_mean"
MODEL_FILE = textwrap.dedent(f'''
    """Per-template logit with max pooling (a model file written by the discovery test)."""

    from dataclasses import dataclass

    import torch
    from torch import nn

    from benchmark.registry import register_model
    from benchmark.trained_model import TrainedBagModel
    from benchmark.trainer import TrainSettings


    @dataclass(frozen=True)
    class MaxLogitConfig(TrainSettings):
        epochs: int = 5
        lr: float = 0.1


    @register_model("{PLUGIN}")
    class MaxLogit(TrainedBagModel):
        """One learned logit per template; the bag takes its largest (discovery test)."""

        config_class = MaxLogitConfig
        trains_on = "all"
        drop_mode = "delete"
        paper_row = "{PLUGIN}"

        def build_network(self, train, val):
            return nn.Embedding(train.templates.size, 1)

        def _logits(self, batch):
            inst = self.net_(batch.ids).squeeze(-1).masked_fill(~batch.mask, -1e4)
            return inst.max(dim=1).values, inst.masked_fill(~batch.mask, float("-inf"))

        def batch_loss(self, batch):
            bag, _ = self._logits(batch)
            return nn.functional.binary_cross_entropy_with_logits(bag, batch.labels)

        def batch_scores(self, batch):
            bag, inst = self._logits(batch)
            return torch.sigmoid(bag), inst
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
                          str(REPO / "tests" / "models" / "test_conformance.py"), "-k", PLUGIN],
                         cwd=REPO, env=_env(plugin_path), capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:]
    assert " passed" in out.stdout and PLUGIN in subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider",
         str(REPO / "tests" / "models" / "test_conformance.py"), "-k", PLUGIN], cwd=REPO,
        env=_env(plugin_path), capture_output=True, text=True, timeout=300).stdout


@pytest.mark.slow
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
