"""Leakage audit of a train / validation / test split, run at data preparation.

`audit_splits` checks the bags of the three splits (line ranges into one log):
- **overlap** (an error): lines that belong to bags of two splits, and the bags holding them;
  the split rules (benchmark.data.splitting) should make this impossible, so a non-zero count
  means a bug or a hand-made split, and `check_audit` raises;
- **duplicates** (counted): test (and validation) bags whose template sequence is identical to
  a training bag's, and how many of them are positive: a model may be scored on bags it was,
  in content, trained on;
- **unseen templates** (counted): templates that first occur in validation or in test (and the
  lines carrying them): what a model never saw in training;
- **chronological**: whether every training line precedes every validation line and every
  validation line precedes every test line (lines are in log order).
The result is a JSON-able dict stored in the prepared dataset's summary (and so in every run
record's `data_summary["leakage"]`) and printed by `python -m benchmark describe`.
"""

from __future__ import annotations

import hashlib

import numpy as np

from benchmark.data.bagset import BagSet
from benchmark.data.errors import DataError

SPLIT_ORDER = ("train", "val", "test")


def audit_splits(splits: dict[str, BagSet]) -> dict:
    """The audit of {"train", "val", "test"} → BagSet (one shared line array)."""
    size = 1 + max((int(b.ends.max()) for b in splits.values() if len(b)), default=0)
    covered = {name: _coverage(bags, size) for name, bags in splits.items()}
    overlap_lines = int(np.sum(sum((c > 0).astype(np.int64) for c in covered.values()) > 1))
    overlap_bags = {}
    for name, bags in splits.items():
        others = sum((covered[o] > 0).astype(np.int64) for o in splits if o != name)
        taken = np.concatenate([[0], np.cumsum(others > 0)])
        overlap_bags[name] = int(np.sum(taken[bags.ends] - taken[bags.starts] > 0))
    train_keys = {_sequence_key(splits["train"], b) for b in range(len(splits["train"]))}
    duplicates = {}
    for name in ("val", "test"):
        bags = splits[name]
        dup = np.array([_sequence_key(bags, b) in train_keys for b in range(len(bags))], bool)
        duplicates[name] = {"bags": int(dup.sum()), "positive_bags": int(np.sum(
            dup & (np.asarray(bags.labels) > 0))), "of": len(bags)}
    seen = _templates(splits["train"])
    unseen = {}
    for name in ("val", "test"):
        ids = _line_ids(splits[name])
        new = np.setdiff1d(np.unique(ids), seen)
        unseen[name] = {"templates": int(len(new)), "lines": int(np.isin(ids, new).sum())}
        seen = np.union1d(seen, new)
    audit = {
        "overlap_lines": overlap_lines,
        "overlap_bags": overlap_bags,
        "duplicate_sequences_in_train": duplicates,
        "unseen_templates": unseen,
        "chronological": _chronological(splits),
    }
    audit["errors"] = _errors(audit)
    return audit


def check_audit(audit: dict, dataset: str) -> None:
    """Raise DataError when the audit found an error (bags overlapping across splits)."""
    if audit["errors"]:
        raise DataError(f"{dataset}: leakage audit: {'; '.join(audit['errors'])}")


def format_audit(audit: dict) -> list[str]:
    """Human-readable lines of an audit (for `describe`)."""
    dup, unseen = audit["duplicate_sequences_in_train"], audit["unseen_templates"]
    lines = [
        f"overlap across splits: {audit['overlap_lines']:,} lines, bags "
        + ", ".join(f"{k} {v:,}" for k, v in audit["overlap_bags"].items()),
        *(f"{name} bags repeating a training bag's template sequence: {d['bags']:,} of "
          f"{d['of']:,} ({d['positive_bags']:,} positive)" for name, d in dup.items()),
        *(f"templates first seen in {name}: {u['templates']:,} ({u['lines']:,} lines)"
          for name, u in unseen.items()),
        f"split strictly chronological: {'yes' if audit['chronological'] else 'no'}",
    ]
    lines += [f"error: {e}" for e in audit["errors"]]
    return lines


def audit_note(dataset: str, audit: dict) -> str:
    """One table-note sentence of an audit."""
    test, unseen = audit["duplicate_sequences_in_train"]["test"], audit["unseen_templates"]
    return (f"Leakage audit ({dataset}): {audit['overlap_lines']} lines shared across splits; "
            f"{test['bags']} of {test['of']} test bags ({test['positive_bags']} positive) repeat "
            f"a training bag's template sequence; templates first seen in validation "
            f"{unseen['val']['templates']}, in test {unseen['test']['templates']}; split "
            f"{'strictly chronological' if audit['chronological'] else 'not chronological'}.")


def _coverage(bags: BagSet, size: int) -> np.ndarray:
    """(size,) how many bags of `bags` hold each line."""
    diff = np.zeros(size + 1, np.int64)
    np.add.at(diff, np.asarray(bags.starts), 1)
    np.add.at(diff, np.asarray(bags.ends), -1)
    return np.cumsum(diff)[:size]


def _sequence_key(bags: BagSet, b: int) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(bags.instances(b), np.int64).tobytes(),
                           digest_size=16).digest()


def _line_ids(bags: BagSet) -> np.ndarray:
    if len(bags) == 0:
        return np.zeros(0, np.int64)
    return np.concatenate([bags.instances(b) for b in range(len(bags))]).astype(np.int64)


def _templates(bags: BagSet) -> np.ndarray:
    return np.unique(_line_ids(bags))


def _chronological(splits: dict[str, BagSet]) -> bool:
    parts = [splits[name] for name in SPLIT_ORDER if len(splits[name])]
    pairs = zip(parts, parts[1:], strict=False)
    return all(int(a.ends.max()) <= int(b.starts.min()) for a, b in pairs)


def _errors(audit: dict) -> list[str]:
    if not audit["overlap_lines"]:
        return []
    bags = ", ".join(f"{k} {v}" for k, v in audit["overlap_bags"].items() if v)
    return [f"{audit['overlap_lines']} line(s) belong to bags of two splits (bags: {bags}); "
            "a split must not share lines"]
