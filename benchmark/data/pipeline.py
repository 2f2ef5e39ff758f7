"""`prepare_dataset`: raw log → PreparedDataset, every stage cached (SPEC §2).

Stages and what their cache key covers (a change re-runs that stage and its dependants only):
  read   raw file identity, format, label rule, masking, max_lines, archive member
         → per line: timestamp, label, unparsed flag, id of its distinct masked content
  parse  read key + Drain settings → template id per distinct content, template texts
  embed  parse key + embedding settings → (T, d) template vectors
  bags   read key + bagging + split settings → bag ranges per split
Bag labels and per-line template ids are recomputed from cached arrays (cheap gathers).
`parse_log` runs the read and parse stages only (`python -m benchmark parse`).

Subsets: `max_lines` (the argument, else the card's) limits the lines read; the choice is logged
and recorded in `summary["subset"]`. `quick` only changes the synthetic dataset (its generator's
`quick_lines`); real datasets keep their card (pass `max_lines` for a smaller subset).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmark.data.bagging import bag_labels, make_bags
from benchmark.data.bagset import BagSet, EvalSplit, PreparedDataset, TemplateTable
from benchmark.data.cache import Entry, StageCache, config_hash, file_identity
from benchmark.data.cards import DatasetCard, load_card
from benchmark.data.embedding import embed_templates
from benchmark.data.errors import DataError
from benchmark.data.parsing import DistinctContents, parse_distinct
from benchmark.data.readers import LogReader, fill_timestamps
from benchmark.data.splitting import SPLITS, split_bags, split_warnings
from benchmark.paths import default_data_dir

log = logging.getLogger(__name__)

STAGE_VERSIONS = {"read": 1, "parse": 1, "embed": 1, "bags": 1}
"""Bump a stage's version when its code changes what it computes (invalidates old entries)."""


def prepare_dataset(name: str | DatasetCard, *, data_file: Path | None = None,
                    data_dir: Path | None = None, max_lines: int | None = None,
                    strict: bool = False, quick: bool = False) -> PreparedDataset:
    """Read, label, parse, embed, bag and split dataset `name` (card `datasets/<name>.toml`, or the
    given card).

    data_file: the raw log (default `<data_dir>/raw/<name>/<card.source.filename>`; synthetic:
    generated there). data_dir: holds raw/ and cache/ (default:
    benchmark.paths.default_data_dir()). strict: an unparsed line or invalid UTF-8 is an error
    instead of a counted skip. A split without a positive or without a negative bag is logged as
    a warning and listed in `summary["warnings"]`.
    """
    stages = _parsed_stages(name, data_file, data_dir, max_lines, strict, quick)
    card, read, cache = stages.card, stages.read, stages.cache
    read_key, parse_key = stages.read_key, stages.parse_key
    texts, line_templates = stages.texts, stages.line_templates()
    counts = np.bincount(line_templates, minlength=len(texts))

    embed_key = config_hash("embed", STAGE_VERSIONS["embed"], parse_key, asdict(card.embedding))
    embed = cache.load("embed", embed_key)
    if embed is None:
        cache.save("embed", embed_key, {"vectors": embed_templates(texts, counts, card.embedding)})
        embed = cache.load("embed", embed_key)
    templates = TemplateTable(texts, embed.arrays["vectors"].astype(np.float32, copy=False))

    bags_key = config_hash("bags", STAGE_VERSIONS["bags"], read_key, asdict(card.bagging),
                           asdict(card.split))
    bags = cache.load("bags", bags_key) or _bags_stage(cache, bags_key, card, read)

    line_labels = read.arrays["labels"].astype(np.int8, copy=False)
    splits = {}
    for split in SPLITS:
        starts, ends = bags.arrays[f"{split}_starts"], bags.arrays[f"{split}_ends"]
        labels = bag_labels(line_labels, starts, ends)
        splits[split] = EvalSplit(BagSet(line_templates, starts, ends, labels, templates),
                                  line_labels)
    summary = _summary(card, stages.path, read.meta, stages.limit, stages.origin, quick,
                       line_labels, templates, splits,
                       {"read": read_key, "parse": parse_key, "embed": embed_key,
                        "bags": bags_key})
    for warning in summary["warnings"]:
        log.warning("%s: %s", card.name, warning)
    return PreparedDataset(card.name, templates, splits, summary)


def parse_log(name: str | DatasetCard, *, data_file: Path | None = None,
              data_dir: Path | None = None, max_lines: int | None = None, strict: bool = False,
              quick: bool = False) -> tuple[np.ndarray, tuple[str, ...]]:
    """The read and parse stages of `prepare_dataset` only (same reader, masking, Drain, cache).

    Returns (L,) int32 template id of each line read, in log order, and the template texts (T,).
    """
    stages = _parsed_stages(name, data_file, data_dir, max_lines, strict, quick)
    return stages.line_templates().astype(np.int32, copy=False), stages.texts


@dataclass(frozen=True)
class _Parsed:
    """The read and parse stages' cache entries with the settings that selected them."""

    card: DatasetCard
    path: Path
    limit: int | None
    origin: str | None
    cache: StageCache
    read_key: str
    read: Entry
    parse_key: str
    parse: Entry

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(self.parse.strings["templates"])

    def line_templates(self) -> np.ndarray:
        """(L,) template id of each line."""
        return self.parse.arrays["content_template"][self.read.arrays["content_ids"]]


def _parsed_stages(name: str | DatasetCard, data_file: Path | None, data_dir: Path | None,
                   max_lines: int | None, strict: bool, quick: bool) -> _Parsed:
    """Read (+ labels + masking) and parse stages, each from the cache when it holds them."""
    card = name if isinstance(name, DatasetCard) else load_card(name)
    data_dir = resolve_data_dir(data_dir)
    if max_lines is not None and max_lines <= 0:
        raise DataError(f"--max-lines must be positive, got {max_lines}")
    path = _input_file(card, Path(data_file) if data_file is not None else None, data_dir, quick)
    limit = max_lines if max_lines is not None else card.max_lines
    origin = "--max-lines" if max_lines is not None else ("card" if limit is not None else None)
    log.info("%s: reading %s (%s)", card.name, path,
             f"first {limit:,} lines, from {origin}" if limit else "every line")

    cache = StageCache(data_dir / "cache" / card.name)
    read_key = config_hash("read", STAGE_VERSIONS["read"], file_identity(path), card.format,
                           card.label_rule, card.anomalous_levels,
                           [asdict(m) for m in card.masking], limit, card.source.member)
    read = cache.load("read", read_key) or _read_stage(cache, read_key, card, path, limit, strict)
    if strict:
        _raise_if_unclean(read.meta, path, card.format)

    parse_key = config_hash("parse", STAGE_VERSIONS["parse"], read_key, asdict(card.drain))
    parse = cache.load("parse", parse_key)
    if parse is None:
        content_template, texts = parse_distinct(read.strings["contents"], card.drain)
        cache.save("parse", parse_key, {"content_template": content_template},
                   {"templates": texts})
        parse = cache.load("parse", parse_key)
    return _Parsed(card, path, limit, origin, cache, read_key, read, parse_key, parse)


def resolve_data_dir(data_dir: Path | None) -> Path:
    """`data_dir`, else the default (benchmark.paths.default_data_dir)."""
    return Path(data_dir) if data_dir is not None else default_data_dir()


def input_path(card: DatasetCard, data_file: Path | None, data_dir: Path, quick: bool) -> Path:
    """The raw log a run reads: `data_file`, else the card's file under `<data_dir>/raw/<name>/`
    (synthetic: the generated file's name). Raises DataError when a real file is missing."""
    if data_file is not None:
        if not data_file.exists():
            raise DataError(f"{data_file}: no such file")
        return data_file
    if card.generator is not None:
        gen = card.generator
        n = gen.quick_lines if quick else gen.lines
        return data_dir / "raw" / card.name / f"{card.name}-{n}-seed{gen.seed}.log"
    if card.source.filename is None:
        raise DataError(f"dataset {card.name!r}: the card names no source file; pass --data-file")
    path = data_dir / "raw" / card.name / card.source.filename
    if not path.exists():
        raise DataError(f"{path}: not found; run `python -m benchmark download {card.name}` or "
                        f"put the file there (source: {card.source.url})")
    return path


def _input_file(card: DatasetCard, data_file: Path | None, data_dir: Path, quick: bool) -> Path:
    """`input_path`, generating the synthetic file first when it does not exist yet."""
    path = input_path(card, data_file, data_dir, quick)
    if data_file is None and card.generator is not None and not path.exists():
        from benchmark.data.synthetic import write_synthetic_log

        gen = card.generator
        n = gen.quick_lines if quick else gen.lines
        log.info("generating %s (%d lines, seed %d)", path, n, gen.seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_synthetic_log(path, n, gen.seed)
    return path


def _read_stage(cache: StageCache, key: str, card: DatasetCard, path: Path, limit: int | None,
                strict: bool) -> Entry:
    reader = LogReader(path, card.format, member=card.source.member, label_rule=card.label_rule,
                       anomalous_levels=card.anomalous_levels, max_lines=limit, strict=strict)
    distinct = DistinctContents(card.masking)
    times, labels, unparsed, content_ids = [], [], [], []
    with tqdm(desc=f"read {path.name}", unit=" lines", unit_scale=True, leave=False,
              disable=None) as bar:
        for chunk in reader:
            content_ids.append(distinct.add(chunk.contents))
            times.append(chunk.timestamps)
            labels.append(chunk.labels)
            unparsed.append(chunk.unparsed)
            bar.update(len(chunk.labels))
    stats = reader.stats
    arrays = {"timestamps": fill_timestamps(np.concatenate(times)),
              "labels": np.concatenate(labels), "unparsed": np.concatenate(unparsed),
              "content_ids": np.concatenate(content_ids)}
    meta = asdict(stats) | {"file": str(path), "distinct_contents": len(distinct)}
    log.info("read %d lines, %d distinct masked contents", stats.lines, len(distinct))
    cache.save("read", key, arrays, {"contents": distinct.contents}, meta)
    return cache.load("read", key)


def _raise_if_unclean(meta: dict[str, Any], path: Path, fmt: str) -> None:
    if meta["first_unparsed"]:
        raise DataError(f"{path}:{meta['first_unparsed'][0]}: line does not match the {fmt} "
                        f"format ({meta['unparsed_lines']} such lines; --strict)")
    if meta["first_invalid_utf8"]:
        raise DataError(f"{path}:{meta['first_invalid_utf8'][0]}: invalid UTF-8 "
                        f"({meta['invalid_utf8_lines']} such lines; --strict)")


def _bags_stage(cache: StageCache, key: str, card: DatasetCard, read: Entry) -> Entry:
    timestamps = read.arrays["timestamps"]
    starts, ends = make_bags(timestamps, card.bagging)
    splits = split_bags(starts, ends, len(timestamps), card.split)
    for name, (s, _) in splits.items():
        if len(s) == 0:
            raise DataError(f"the {name} split holds no bag ({len(starts)} bags in all); "
                            "more lines or smaller windows needed")
    arrays = {}
    for name, (s, e) in splits.items():
        arrays[f"{name}_starts"], arrays[f"{name}_ends"] = s, e
    cache.save("bags", key, arrays, meta={"windows": int(len(starts))})
    return cache.load("bags", key)


def _summary(card: DatasetCard, path: Path, meta: dict[str, Any], limit: int | None,
             origin: str | None, quick: bool, line_labels: np.ndarray, templates: TemplateTable,
             splits: dict[str, EvalSplit], keys: dict[str, str]) -> dict[str, Any]:
    lengths = np.concatenate([s.bags.lengths for s in splits.values()])
    split_counts = {name: {"bags": len(s.bags), "positive_bags": int(s.bags.labels.sum())}
                    for name, s in splits.items()}
    source = card.source.url or (f"generated by benchmark.data.synthetic (seed "
                                 f"{card.generator.seed})" if card.generator else None)
    return {
        "dataset": card.name,
        "lines": int(meta["lines"]),
        "unparsed_lines": int(meta["unparsed_lines"]),
        "invalid_utf8_lines": int(meta["invalid_utf8_lines"]),
        "anomalous_lines": int(line_labels.sum()),
        "distinct_contents": int(meta["distinct_contents"]),
        "templates": templates.size,
        "splits": split_counts,
        "warnings": split_warnings(split_counts),
        "instances_per_bag": {"min": int(lengths.min()), "median": float(np.median(lengths)),
                              "max": int(lengths.max())},
        "subset": {"max_lines": limit, "max_lines_from": origin, "truncated": bool(
            meta["truncated"]), "file": os.fspath(path),
            "member": card.source.member if _is_archive(path) else None,
            "quick": quick},
        "source": source,
        "bagging": asdict(card.bagging),
        "split": asdict(card.split),
        "cache_keys": keys,
    }


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith((".zip", ".tar.gz", ".tgz"))
