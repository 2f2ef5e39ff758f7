"""`RunRecord`: the one schema of a run's record, written by the grid and read by the report.

A record is JSON: every field below plus `checksum` = sha256 of the canonical JSON of the other
fields. `RunRecord.from_json` checks the schema version, the checksum, every field's type, that
metrics are numbers in [0, 1] or null (= undefined, read back as NaN), and raises `BadRecord` with
the reason otherwise; the store quarantines such a file and its run is redone. Nothing here
imports torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from benchmark.configs import OMIT_DEFAULT

SCHEMA_VERSION = 2
"""Bumped whenever a field is added, removed or changes meaning."""

REQUIRED_METRICS = ("auc", "precision", "recall", "f1", "threshold", "val_f1")
CHANCE_AUC = 0.5
"""A validation AUC below this ranks validation bags upside down: the run is below chance."""
MAX_SEED = 2**32 - 1
_HASH = re.compile(r"[0-9a-f]{64}")


class BadRecord(ValueError):
    """A record file that is unreadable, of another schema, edited, or malformed."""


@dataclass(frozen=True)
class RunRecord:
    """One finished (dataset, model, seed) run.

    metrics: name → value in [0, 1], NaN = undefined on that split (keys from benchmark.protocol:
    auc, ap (absent from older records), precision, recall, f1, threshold, val_f1, loc@k, sr,
    sr@δ). config: the resolved config as a dict; config_overrides: the fields set with `--set`;
    dataset_identity: what the config hash covers of the data (content identity, card, stage
    versions, subset); history: per-epoch training losses / validation scores (None for untrained
    models); environment: device, threads, library versions, python, git commit (recorded, not
    hashed).
    """

    dataset: str
    model: str
    seed: int
    config_hash: str
    protocol_version: int
    paper_row: str
    config_class: str
    config: dict[str, Any]
    config_overrides: dict[str, Any]
    dataset_identity: dict[str, Any]
    data_summary: dict[str, Any]
    metrics: dict[str, float]
    threshold: dict[str, Any]
    counts: dict[str, int]
    pr_curve: dict[str, Any] | None
    notes: list[str]
    history: dict[str, Any] | None
    timings: dict[str, float]
    environment: dict[str, Any]
    finished_at: str
    schema_version: int = SCHEMA_VERSION
    extras: dict[str, Any] = field(default_factory=dict)
    """Protocol-specific keys (e.g. label budget, labeller) that identify the run further."""

    @property
    def quick(self) -> bool:
        return bool(self.dataset_identity.get("quick", False))

    @property
    def below_chance(self) -> bool:
        """Validation AUC (metric `val_auc`) < 0.5; False when absent (older records) or
        undefined."""
        return is_below_chance(self.metrics.get("val_auc"))

    def to_json(self) -> str:
        """The record file's text: fields + checksum, NaN stored as null."""
        body = plain(dataclasses.asdict(self))
        body["checksum"] = checksum_of(body)
        return json.dumps(body, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        """Parse and verify a record file's text; raises BadRecord with the reason."""
        try:
            body = json.loads(text)
        except json.JSONDecodeError as err:
            raise BadRecord(f"not valid JSON ({err})") from None
        if not isinstance(body, dict):
            raise BadRecord("not a JSON object")
        version = body.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BadRecord(f"schema version {version!r}, this code reads {SCHEMA_VERSION} "
                            "(an older record: the run is redone)")
        stored = body.pop("checksum", None)
        if stored != checksum_of(body):
            raise BadRecord("checksum mismatch: the record was edited or damaged")
        names = {f.name for f in dataclasses.fields(cls)}
        if set(body) != names:
            missing, extra = sorted(names - set(body)), sorted(set(body) - names)
            raise BadRecord(f"fields missing {missing} / unexpected {extra}")
        _check_types(body)
        body["metrics"] = {k: math.nan if v is None else float(v)
                           for k, v in body["metrics"].items()}
        return cls(**body)


def is_below_chance(val_auc: float | None) -> bool:
    """True when a validation AUC is defined and below CHANCE_AUC."""
    return val_auc is not None and math.isfinite(val_auc) and val_auc < CHANCE_AUC


def _check_types(body: dict[str, Any]) -> None:
    for key in ("dataset", "model", "config_class", "finished_at", "paper_row"):
        if not isinstance(body[key], str) or not body[key]:
            raise BadRecord(f"{key} must be a non-empty string")
    seed = body["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise BadRecord(f"seed must be an integer in 0..2^32-1, got {seed!r}")
    if not isinstance(body["config_hash"], str) or not _HASH.fullmatch(body["config_hash"]):
        raise BadRecord("config_hash must be 64 hex digits")
    if isinstance(body["protocol_version"], bool) or not isinstance(body["protocol_version"], int):
        raise BadRecord("protocol_version must be an integer")
    for key in ("config", "config_overrides", "dataset_identity", "data_summary", "threshold",
                "counts", "timings", "environment", "extras"):
        if not isinstance(body[key], dict):
            raise BadRecord(f"{key} must be an object")
    for key in ("pr_curve", "history"):
        if body[key] is not None and not isinstance(body[key], dict):
            raise BadRecord(f"{key} must be an object or null")
    if not isinstance(body["notes"], list) or not all(isinstance(n, str) for n in body["notes"]):
        raise BadRecord("notes must be a list of strings")
    metrics = body["metrics"]
    if not isinstance(metrics, dict):
        raise BadRecord("metrics must be an object")
    missing = [m for m in REQUIRED_METRICS if m not in metrics]
    if missing:
        raise BadRecord(f"metrics missing {missing}")
    for name, value in metrics.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise BadRecord(f"metric {name} must be a number in [0, 1] or null, got {value!r}")


def checksum_of(body: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a record body (without its `checksum` field)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def plain(obj: Any) -> Any:
    """JSON-able copy (records, config hashes): dataclasses → dicts, tuples → lists,
    paths → str, NaN/inf → None; a field marked `configs.option` is left out while it holds
    its default."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not _omitted(f, getattr(obj, f.name))}
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return plain(obj.item())
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a run record")


def _omitted(f: dataclasses.Field, value: Any) -> bool:
    """True for a field marked `configs.option` (OMIT_DEFAULT) that holds its default."""
    if not f.metadata.get(OMIT_DEFAULT):
        return False
    if f.default_factory is not dataclasses.MISSING:
        return value == f.default_factory()
    return value == f.default
