"""What a run leaves beside its record: the fitted model and the test split's scores.

Layout (next to `results/runs/<dataset>/<model>/seed<k>.json`; a quick or `--set` run adds its
variant folder after `<model>/`, see benchmark.layout):
- `results/models/<dataset>/<model>/seed<k>.pt` (git-ignored): the fitted model's state in the
  form the model declares (benchmark.capabilities; `state_format`): "torch" =
  `TrainedBagModel.state_for_saving` (network weights + the learned state the network is built
  from), "arrays" = a `TorchFreeModel`'s NumPy arrays (stored as tensors) + JSON values; the
  resolved config and its hash, the validation threshold τ, the dataset card and
  identity the run was hashed with, and the trained template table (texts + vectors, with their
  SHA-256 identity) — a self-contained file: `localize` needs no data. A probe of test bags with
  their probabilities checks on load that the rebuilt model scores as the fitted one did.
  Loaded with `torch.load(weights_only=True)` (it can run no code).
- `results/models/<dataset>/<model>/seed<k>.scores.npz` (committed for shipped results): the
  test split's `protocol.TestScores` (exact float64 probabilities, the models' float32 instance
  scores of real instances only, flattened bag after bag), plus the record's config hash. The
  report recomputes Loc@k and SR@δ from it for any k and δ (benchmark.report.rescore; no torch).

Both are written atomically (temp file in the same directory, fsync, `os.replace`).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from benchmark.atomic import atomic_write_bytes
from benchmark.capabilities import TorchFreeModel, TorchStateModel, needs_torch
from benchmark.data.bagset import TemplateTable
from benchmark.layout import model_path as model_path  # re-exported (paths: benchmark.layout)
from benchmark.layout import read_regular
from benchmark.layout import scores_path as scores_path
from benchmark.protocol import TestScores
from benchmark.sealed import SealError, seal, unseal

if TYPE_CHECKING:  # the report reads score files without torch
    import torch

MODEL_FILE_VERSION = 2
MODEL_MAGIC = b"logmilp-bench model v2\n"
"""Model files are sealed (benchmark.sealed): this header, the sha256 of the payload, the payload
(a `torch.save` of the dict below, whatever the model's state format); the digest is checked
before anything is deserialised."""
SCORES_FILE_VERSION = 1
PROBE_BAGS = 16
PROBE_TOLERANCE = 1e-5
"""Largest |p_loaded − p_saved| accepted on the probe bags (batch composition may change the
last bits of some models' outputs, never more)."""
SCORE_ARRAYS = ("probabilities", "labels", "lengths", "instance_scores", "line_labels",
                "positive", "perturbed")


class ArtifactError(Exception):
    """A saved model or score file that is missing, unreadable, corrupt or does not fit."""


def template_identity(templates: TemplateTable) -> dict[str, Any]:
    """{"templates", "dim", "texts_sha256", "vectors_sha256"} of a template table: what a saved
    model was trained on (texts from the parse, vectors from the embedding stage)."""
    texts = json.dumps(list(templates.texts), ensure_ascii=False).encode()
    vectors = np.ascontiguousarray(templates.vectors, dtype=np.float32)
    return {"templates": templates.size, "dim": templates.dim,
            "texts_sha256": hashlib.sha256(texts).hexdigest(),
            "vectors_sha256": hashlib.sha256(vectors.tobytes()).hexdigest()}


# ---------------------------------------------------------------- fitted models

@dataclass(frozen=True)
class SavedModel:
    """A loaded model file: the fitted model and what it was trained with."""

    model: Any
    """The rebuilt model (a TorchStateModel or TorchFreeModel, benchmark.capabilities)."""
    dataset: str
    model_name: str
    seed: int
    config_hash: str
    threshold: float
    card: dict[str, Any]
    dataset_identity: dict[str, Any]
    templates: TemplateTable
    path: Path


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """`write(buffer)` into memory, then benchmark.atomic.atomic_write_bytes."""
    buffer = io.BytesIO()
    write(buffer)
    atomic_write_bytes(path, buffer.getvalue())


def save_model(path: Path, model: Any, *, dataset: str, seed: int,
               config_hash: str, dataset_identity: dict[str, Any], threshold: float,
               probe: tuple[Any, np.ndarray]) -> None:
    """Write the fitted `model` atomically. probe: (BagSet of test bags, their (n,) float64
    probabilities from the test pass), checked on load."""
    import torch

    from benchmark.records import plain

    templates = model.context.templates
    probe_bags, probe_p = probe
    ids = [np.asarray(probe_bags.instances(b), np.int64) for b in range(len(probe_bags))]
    payload = {
        "version": MODEL_FILE_VERSION,
        "dataset": dataset, "model": model.name, "seed": int(seed), "config_hash": config_hash,
        "config": json.dumps(plain(model.config)),
        "dataset_identity": json.dumps(plain(dataset_identity)),
        "threshold": float(threshold),
        "templates": {"texts": list(templates.texts),
                      "vectors": torch.from_numpy(np.array(templates.vectors, np.float32))},
        "template_identity": template_identity(templates),
        **_state_payload(model),
        "probe": {"ids": torch.from_numpy(np.concatenate(ids) if ids else np.zeros(0, np.int64)),
                  "lengths": torch.tensor([len(i) for i in ids], dtype=torch.int64),
                  "probabilities": torch.from_numpy(np.asarray(probe_p, np.float64))},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), seal(MODEL_MAGIC, buffer.getvalue()))


def load_model(path: Path, device: torch.device | str = "cpu",
               expect_templates: TemplateTable | None = None) -> SavedModel:
    """Load and check a model file: version, template table against its stored identity (and
    against `expect_templates` when given), weights strictly, and the probe bags' probabilities.
    Raises ArtifactError naming the file and the reason. The file's sha256 (benchmark.sealed) is
    checked before anything is deserialised: a flipped bit or an edited τ is refused."""
    import torch

    path = Path(path)
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no saved model (run the grid for this dataset, model and "
                            "seed first, e.g. `python run_all.py --quick --models MODEL`)"
                            ) from None
    except OSError as err:
        raise ArtifactError(f"{path}: unreadable ({err.strerror or err})") from None
    try:
        data = unseal(MODEL_MAGIC, raw)
    except SealError as err:
        raise ArtifactError(f"{path}: refused: {err}; rerun the run to save it again"
                            ) from None
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ArtifactError(f"{path}: not a loadable model file ({type(err).__name__}: "
                            f"{err})") from None
    if not isinstance(payload, dict) or payload.get("version") != MODEL_FILE_VERSION:
        raise ArtifactError(f"{path}: not a model file of version {MODEL_FILE_VERSION}")
    try:
        return _rebuild(path, payload, device, expect_templates)
    except (KeyError, TypeError, AttributeError, IndexError) as err:
        raise ArtifactError(f"{path}: incomplete model file ({type(err).__name__}: {err})"
                            ) from None


def _rebuild(path: Path, payload: dict, device: torch.device | str,
             expect_templates: TemplateTable | None) -> SavedModel:
    """The checked SavedModel of a verified payload (see load_model)."""
    import torch

    from benchmark.data.bagset import BagSet
    from benchmark.model_api import ModelContext
    from benchmark.registry import get_model, model_class, resolve_config

    vectors = payload["templates"]["vectors"].numpy()
    templates = TemplateTable(tuple(payload["templates"]["texts"]), vectors)
    identity = template_identity(templates)
    if identity != payload["template_identity"]:
        raise ArtifactError(f"{path}: its template table does not match its recorded identity "
                            "(corrupt file)")
    if expect_templates is not None and template_identity(expect_templates) != identity:
        raise ArtifactError(
            f"{path}: trained on another template table ({identity['templates']} templates, "
            f"texts {identity['texts_sha256'][:12]}…, vectors {identity['vectors_sha256'][:12]}…)"
            f" than the prepared dataset's ({expect_templates.size} templates, texts "
            f"{template_identity(expect_templates)['texts_sha256'][:12]}…); rerun the model")
    name = payload["model"]
    try:
        cls = model_class(name)
        config = resolve_config(name, overrides=json.loads(payload["config"]))
    except (KeyError, ValueError) as err:
        raise ArtifactError(f"{path}: model {name!r} cannot be rebuilt here: {err}") from None
    context = ModelContext(templates=templates, seed=int(payload["seed"]),
                           device=torch.device(device) if needs_torch(cls) else "cpu")
    model = get_model(name, config, context)
    try:
        _load_state(model, payload)
    except (RuntimeError, KeyError) as err:
        raise ArtifactError(f"{path}: the saved weights do not fit {name}'s network "
                            f"({err}); code changed since the run? rerun it") from None
    probe = payload["probe"]
    lengths = probe["lengths"].numpy()
    if len(lengths):
        ends = np.cumsum(lengths)
        bags = BagSet(probe["ids"].numpy().astype(np.int32), ends - lengths, ends,
                      np.zeros(len(lengths), np.int8), templates)
        got = model.bag_probabilities(bags)
        worst = float(np.max(np.abs(got - probe["probabilities"].numpy())))
        if not worst <= PROBE_TOLERANCE:
            raise ArtifactError(f"{path}: the loaded model does not reproduce its run's test "
                                f"probabilities (largest difference {worst:.3g}); code changed "
                                "since the run? rerun it")
    identity_dict = json.loads(payload["dataset_identity"])
    return SavedModel(model, payload["dataset"], name, int(payload["seed"]),
                      payload["config_hash"], float(payload["threshold"]),
                      scored_card(identity_dict), identity_dict, templates, path)


def scored_card(identity: dict[str, Any]) -> dict[str, Any]:
    """The card of the data a saved model scores: its dataset identity's, or for a
    cross-domain run (benchmark.crossdomain) its target's."""
    cross = identity.get("cross_domain")
    if isinstance(cross, dict):
        return cross.get("target", {}).get("card", {})
    return identity.get("card", {})


def _state_payload(model: Any) -> dict[str, Any]:
    """{"state_format", "state"}: what the model declares (benchmark.capabilities)."""
    import torch

    if isinstance(model, TorchFreeModel):
        arrays, meta = model.state_arrays()
        return {"state_format": "arrays", "state": {
            "arrays": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()},
            "meta": json.dumps(meta)}}
    if isinstance(model, TorchStateModel):
        return {"state_format": "torch", "state": model.state_for_saving()}
    raise ArtifactError(f"{type(model).__name__} declares no savable state "
                        "(benchmark.capabilities)")


def _load_state(model: Any, payload: dict[str, Any]) -> None:
    """Load the payload's state into `model` in the format it was saved in (files written
    before `state_format` existed hold "torch"). RuntimeError when the model cannot take it."""
    state_format = payload.get("state_format", "torch")
    if state_format == "arrays" and isinstance(model, TorchFreeModel):
        state = payload["state"]
        model.load_arrays({k: v.numpy() for k, v in state["arrays"].items()},
                          json.loads(state["meta"]))
    elif state_format == "torch" and isinstance(model, TorchStateModel):
        model.load_state(payload["state"])
    else:
        raise RuntimeError(f"{type(model).__name__} cannot load a {state_format!r} state")


# ---------------------------------------------------------------- test scores

def save_scores(path: Path, scores: TestScores, config_hash: str) -> None:
    """Write the test split's scores atomically (compressed npz, exact dtypes)."""
    arrays = {name: getattr(scores, name) for name in SCORE_ARRAYS}
    arrays["threshold"] = np.float64(scores.threshold)
    arrays["config_hash"] = np.asarray(config_hash)
    arrays["version"] = np.int64(SCORES_FILE_VERSION)
    _atomic_write(Path(path), lambda f: np.savez_compressed(f, **arrays))


def load_scores(path: Path, config_hash: str | None = None) -> TestScores:
    """Read and check a score file (arrays, shapes, version; the record's `config_hash` when
    given). Raises ArtifactError naming the file and the reason."""
    path = Path(path)
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no score file") from None
    except OSError as err:
        raise ArtifactError(f"{path}: unreadable score file ({err.strerror or err})") from None
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as err:  # noqa: BLE001 - zip/format errors of a damaged file
        raise ArtifactError(f"{path}: unreadable score file ({err})") from None
    missing = [n for n in (*SCORE_ARRAYS, "threshold", "config_hash", "version")
               if n not in arrays]
    if missing:
        raise ArtifactError(f"{path}: missing arrays {missing}")
    if int(arrays["version"]) != SCORES_FILE_VERSION:
        raise ArtifactError(f"{path}: score file version {int(arrays['version'])}, this code "
                            f"reads {SCORES_FILE_VERSION}")
    if config_hash is not None and str(arrays["config_hash"]) != config_hash:
        raise ArtifactError(f"{path}: written by another run (config hash "
                            f"{str(arrays['config_hash'])[:12]}…, record {config_hash[:12]}…)")
    scores = TestScores(**{n: arrays[n] for n in SCORE_ARRAYS},
                        threshold=float(arrays["threshold"]))
    _check_scores(scores, path)
    return scores


def _check_scores(s: TestScores, path: Path) -> None:
    b, n = len(s.probabilities), int(s.lengths.sum()) if len(s.lengths) else 0
    problems = []
    if s.labels.shape != (b,) or s.lengths.shape != (b,):
        problems.append("per-bag arrays differ in length")
    if s.instance_scores.shape != (n,) or s.line_labels.shape != (n,):
        problems.append(f"instance arrays are not {n} long (the sum of the bag lengths)")
    if s.perturbed.shape != s.positive.shape or (len(s.positive) and (
            s.positive.min() < 0 or s.positive.max() >= b)):
        problems.append("positive bags / perturbed probabilities do not fit")
    if s.probabilities.dtype != np.float64 or s.perturbed.dtype != np.float64:
        problems.append("probabilities are not float64")
    if not math.isfinite(s.threshold):
        problems.append("threshold is not finite")
    if problems:
        raise ArtifactError(f"{path}: {'; '.join(problems)}")
