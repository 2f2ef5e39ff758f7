"""End-of-epoch training checkpoints: one self-verifying file per run, written atomically.

Layout: `<results_dir>/checkpoints/<dataset>/<model>/seed<k>-<config_hash[:16]>.pt` (git-ignored).
File format: the line `logmilp-bench checkpoint v1`, the sha256 hex of the payload, then the
payload, a `torch.save` of a dict of tensors and plain Python values only (loaded with
`weights_only=True`, so it can run no code). A file with the wrong header, a digest mismatch
(truncation, bit rot), an unloadable payload, or an identity (model, seed, file name, training
settings) other than the run's own is reported with `logging.warning` and ignored, never loaded.

What a checkpoint holds (see `TrainState`): epoch (1-based, the last finished one), whether
training stopped, net/optimiser/GradScaler state, the sampler generator state, the global Python,
NumPy, torch (and CUDA) RNG states, best score, best weights, epochs waited, the history, and
`extra`: the state of any model-owned stateful object (e.g. LogBERT's masking generator), each an
object with `get_state()`/`set_state(state)` like `torch.Generator`.
"""

from __future__ import annotations

import io
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.atomic import atomic_write_bytes
from benchmark.layout import checkpoint_path as checkpoint_path  # re-exported
from benchmark.layout import read_regular
from benchmark.sealed import SealError, seal, unseal

log = logging.getLogger(__name__)

MAGIC = b"logmilp-bench checkpoint v1\n"


@dataclass
class TrainState:
    """Everything `train_network` needs to continue after `epoch` as if never interrupted.

    identity: model name, seed, checkpoint file name and training settings, checked on load.
    payload: the rest (tensors and plain values), restored by the trainer.
    """

    identity: dict[str, Any]
    payload: dict[str, Any]


def save(path: Path, state: TrainState) -> None:
    """Write `state` to `path` atomically (temp file in the same directory, fsync, os.replace)."""
    buffer = io.BytesIO()
    torch.save({"identity": state.identity, "payload": state.payload}, buffer)
    atomic_write_bytes(Path(path), seal(MAGIC, buffer.getvalue()))


def load(path: Path, identity: dict[str, Any]) -> TrainState | None:
    """The verified checkpoint at `path` whose identity equals `identity`, else None.

    A missing file is silently None; any other reason to refuse the file is logged as a warning.
    """
    path = Path(path)
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        return None
    except OSError as err:
        return _refuse(path, f"unreadable ({err})")
    try:
        data = unseal(MAGIC, raw)
    except SealError as err:
        reason = str(err)
        return _refuse(path, "not a checkpoint file (bad header)" if "header" in reason
                       else "sha256 mismatch (truncated or corrupt)")
    try:
        content = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means: do not use it
        return _refuse(path, f"payload does not load ({type(err).__name__}: {err})")
    if not isinstance(content, dict) or not {"identity", "payload"} <= content.keys():
        return _refuse(path, "payload lacks identity/payload")
    if content["identity"] != identity:
        return _refuse(path, f"written by another run ({content['identity']} ≠ {identity})")
    return TrainState(identity=content["identity"], payload=content["payload"])


def remove(path: Path | None) -> None:
    """Delete a run's checkpoint (no error when absent) and its directories left empty, up to
    `checkpoints/`."""
    if path is None:
        return
    path = Path(path)
    path.unlink(missing_ok=True)
    if "checkpoints" not in path.parent.parts:
        return  # a checkpoint outside a results folder: leave its directory alone
    for directory in path.parents:  # up to and including `checkpoints/`, however deep the run
        try:
            directory.rmdir()
        except OSError:  # not empty (another run's checkpoint) or already gone
            break
        if directory.name == "checkpoints":
            break


def global_rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU, and every CUDA device if initialised) global RNG states."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any]) -> None:
    """Restore what `global_rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def _refuse(path: Path, reason: str) -> None:
    log.warning("ignoring checkpoint %s: %s; training starts from epoch 1", path, reason)
    return None
