"""`python -m benchmark localize`: a saved model on a user's own log → the suspicious windows and
the lines that most likely caused them.

Steps: load the run's saved model (benchmark.artifacts; its record, when present, must carry the
same config hash); read the log with the trained dataset's card (same reader, format, masking);
map every masked content onto the trained template table (benchmark.data.matching; a content no
trained template fits becomes the model's own unknown template, counted and reported); bag the
lines like the card (benchmark.data.bagging); score every bag; keep the windows with p ≥ the
run's validation threshold τ, highest probability first, each with its time span and its top-k
lines by instance score (highest first; ties in log order). Line numbers are 1-based lines of the
file. Bad input (wrong format, empty file, a `--format` other than the model's) is a DataError
naming the file.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.artifacts import ArtifactError, SavedModel, load_model
from benchmark.capabilities import OpenVocabulary
from benchmark.data.bagging import make_bags
from benchmark.data.bagset import BagSet, TemplateTable
from benchmark.data.cards import DatasetCard, card_from_dict
from benchmark.data.errors import DataError
from benchmark.data.inputs import check_unparsed
from benchmark.data.matching import UNKNOWN, TemplateMatcher
from benchmark.data.parsing import DistinctContents
from benchmark.data.readers import LogReader, fill_timestamps, open_binary
from benchmark.layout import (
    LayoutError,
    ResultsLayout,
    RunKey,
    check_name,
    check_pair,
    check_variant,
)
from benchmark.store import list_variants, read_record

log = logging.getLogger(__name__)

UNKNOWN_TEMPLATE = "<unknown template>"
MAX_UNKNOWN_EXAMPLES = 5


def localize(model: str, trained_on: str, log_file: Path, *, seed: int = 0,
             fmt: str | None = None, top: int = 3, results_dir: Path = Path("results"),
             device: str = "cpu", variant: str | None = None,
             shots: int | None = None) -> dict[str, Any]:
    """The flagged windows of `log_file` under the saved (trained_on, model, seed[, variant])
    run, as a JSON-able dict (see `benchmark.report.localize_html` for the page). With `shots`
    K: the cross-domain run of the pair `trained_on` adapted with K shots (its log is read with
    the target's card)."""
    if top < 1:
        raise DataError(f"--top must be ≥ 1, got {top}")
    try:
        check_name("--model", model)
        if shots is None:
            check_name("--trained-on", trained_on)
        else:
            check_pair("--trained-on", trained_on)
            if shots < 0:
                raise DataError(f"--shots must be ≥ 0, got {shots}")
        if variant is not None:
            check_variant(variant)
        key = RunKey(trained_on, model, seed, variant, shots=shots)
        saved = _load(ResultsLayout(results_dir), key, device)
    except LayoutError as err:
        raise DataError(str(err)) from None
    card = card_from_dict(saved.card, f"{saved.path} (its dataset card)")
    log_file = Path(log_file)
    if fmt is not None and fmt != card.format:
        raise DataError(f"{log_file}: --format {fmt}, but {model} was trained on {trained_on}, "
                        f"a {card.format}-format log: it can only score {card.format} lines")
    lines = _read(log_file, card)
    matcher = TemplateMatcher(saved.templates.texts, card.drain)
    content_template = matcher.match(lines["contents"])
    unknown_contents = np.flatnonzero(content_template == UNKNOWN)
    n_templates = saved.templates.size
    content_template[unknown_contents] = n_templates
    line_templates = content_template[lines["content_ids"]].astype(np.int32)
    unknown_lines = int((line_templates == n_templates).sum())
    templates = saved.templates
    if unknown_lines:
        if not isinstance(saved.model, OpenVocabulary):
            raise DataError(f"{log_file}: {unknown_lines} lines match no template of "
                            f"{trained_on}, and {model}: cannot score templates unseen in "
                            "training (implement add_unknown_template)")
        saved.model.add_unknown_template()
        templates = TemplateTable(templates.texts + (UNKNOWN_TEMPLATE,), np.vstack(
            [templates.vectors, np.zeros((1, templates.dim), templates.vectors.dtype)]))
        log.warning("%s: %d of %d lines (%d distinct masked contents) match no template of "
                    "%s; scored as %s's unknown template", log_file, unknown_lines,
                    len(line_templates), len(unknown_contents), trained_on, model)
    timestamps = lines["timestamps"]
    starts, ends = make_bags(timestamps, card.bagging)
    bags = BagSet(line_templates, starts, ends, np.zeros(len(starts), np.int8), templates)
    scores = saved.model.score(bags)
    flagged = np.flatnonzero(scores.probabilities >= saved.threshold)
    flagged = flagged[np.argsort(-scores.probabilities[flagged], kind="stable")]
    text = _raw_lines(log_file, {int(i) for b in flagged
                                       for i in range(starts[b], ends[b])})
    windows = []
    for rank, b in enumerate(flagged, start=1):
        s, e = int(starts[b]), int(ends[b])
        inst = scores.instance_scores[b, : e - s].astype(np.float64)
        order = np.argsort(-inst, kind="stable")[:top]
        windows.append({
            "rank": rank, "bag": int(b), "probability": float(scores.probabilities[b]),
            "first_line": s + 1, "last_line": e, "lines": e - s,
            "start_time": _iso(timestamps[s]), "end_time": _iso(timestamps[e - 1]),
            "top": [{"line": s + int(i) + 1, "score": float(inst[i]), "text": text[s + int(i)],
                     "template": templates.texts[line_templates[s + int(i)]]} for i in order],
            "context": [{"line": i + 1, "score": float(inst[i - s]), "text": text[i]}
                        for i in range(s, e)],
        })
    examples = [lines["contents"][int(c)] for c in unknown_contents[:MAX_UNKNOWN_EXAMPLES]]
    return {
        "log_file": str(log_file), "format": card.format, "model": model,
        "trained_on": trained_on, "seed": seed, "model_file": str(saved.path),
        "threshold": saved.threshold, "top": top,
        "lines": len(line_templates), "unparsed_lines": lines["stats"]["unparsed_lines"],
        "bags": len(starts), "flagged": len(windows),
        "bagging": asdict(card.bagging),
        "unknown": {"lines": unknown_lines, "distinct_contents": len(unknown_contents),
                    "examples": examples},
        "windows": windows,
    }


def _load(layout: ResultsLayout, key: RunKey, device: str) -> SavedModel:
    path = layout.model(key)
    if key.variant is None and not path.exists():
        others = [v for v in list_variants(layout.root)
                  if layout.model(replace(key, variant=v)).is_file()]
        if others:
            raise DataError(f"{path}: no saved default-config model; saved variant(s) of this "
                            f"run: {', '.join(others)} (pass --variant {others[0]})")
    try:
        saved = load_model(path, device)
    except ArtifactError as err:
        raise DataError(str(err)) from None
    where = layout.record(key)
    record = read_record(where)
    if record is not None and record.config_hash != saved.config_hash:
        raise DataError(f"{path}: saved by another run than the record {where} (config hash "
                        f"{saved.config_hash[:12]}… vs {record.config_hash[:12]}…); rerun it")
    tau = record.threshold.get("value") if record is not None else None
    if isinstance(tau, (int, float)) and float(tau) != saved.threshold:
        raise DataError(f"{path}: its threshold τ = {saved.threshold!r} is not the record's "
                        f"τ = {tau!r} ({where}); refused, rerun it")
    return saved


def _read(path: Path, card: DatasetCard) -> dict[str, Any]:
    """Every line of `path` through the card's reader and masking: distinct masked contents,
    (L,) content ids, (L,) filled float64 timestamps, read stats."""
    reader = LogReader(path, card.format, label_rule=card.label_rule,
                       anomalous_levels=card.anomalous_levels)
    distinct = DistinctContents(card.masking)
    ids, times = [], []
    for chunk in reader:
        ids.append(distinct.add(chunk.contents))
        times.append(chunk.timestamps)
    stats = asdict(reader.stats)
    check_unparsed(stats, path, card.format, card.checks.max_unparsed)
    return {"contents": distinct.contents, "content_ids": np.concatenate(ids),
            "timestamps": fill_timestamps(np.concatenate(times)), "stats": stats}


def _raw_lines(path: Path, wanted: set[int]) -> dict[int, str]:
    """The text (decoded with replacement, end of line stripped) of the 0-based lines `wanted`."""
    out: dict[int, str] = {}
    if not wanted:
        return out
    last = max(wanted)
    with open_binary(path) as stream:
        for index, raw in enumerate(stream):
            if index in wanted:
                out[index] = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if index >= last:
                break
    return out


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(float(seconds), UTC).isoformat(timespec="seconds")
