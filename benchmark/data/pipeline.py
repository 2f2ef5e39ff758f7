"""`prepare_dataset`: raw log → PreparedDataset, every stage cached.

Order: the input is checked at the door (a regular file; the card's default raw file MD5-checked
once per content), read, checked (unparsed fraction, time order, --strict), bagged and split
(too few bags is an error naming the file), then parsed and embedded.

Stages and what their cache key covers (a change re-runs that stage and its dependants only):
  read   input content identity (size + SHA-256 of every byte), format, label rule, masking,
         max_lines, archive member → per line: timestamp, label, unparsed flag, id of its
         distinct masked content
  bags   read key + bagging + split settings → bag ranges per split
  parse  read key + Drain settings → template id per distinct content, template texts (another
         parser of a data variant: read key + parser [+ ground-truth file identity] → template
         id per line, benchmark.data.parsers)
  embed  parse key + embedding settings [+ vector kind of a variant] → (T, d) float32 vectors
A data variant (benchmark.data.variants: `--window`, `--stride`, `--max-instances`, `--parser`,
`--vectors`) changes the card's bagging / Drain settings, the parser or the vector kind; its
stages get their own keys, so each variant prepares its data once and the default's entries
stay as they are. With `templates` (a Loghub `*_structured.csv`) the parse's grouping accuracy
is `summary["parse"]["ga"]`.
Bag labels and per-line template ids are recomputed from cached arrays (cheap gathers).
`parse_log` runs the read and parse stages only (`python -m benchmark parse`).

Finding the read entry needs the identity before reading, and hashing must not cost a second
read: the entry is looked up by a cheap key (size + first/last 64 KiB + settings) and used only
if the content identity recorded in it equals the file's (one hashing pass, memoised per
process); otherwise the file is read again with the SHA-256 computed on the stream the reader
consumes. Downstream keys derive from the verified identity, never from the cheap key. Every
entry is checked against its manifest and for consistency on load (`cache.StageCache.load`); an
invalid one is reported and rebuilt.

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
from benchmark.data.cache import (
    HASH_NAME,
    CacheInvalid,
    Entry,
    StageCache,
    config_hash,
    content_identity,
    known_identity,
    lookup_identity,
    regular_file_stat,
)
from benchmark.data.cards import DatasetCard, load_card
from benchmark.data.download import verify_raw_file
from benchmark.data.embedding import embed_templates
from benchmark.data.errors import DataError
from benchmark.data.inputs import check_time_order, check_unparsed, raise_if_unclean, too_few_bags
from benchmark.data.leakage import audit_splits, check_audit
from benchmark.data.parsing import DistinctContents, parse_distinct
from benchmark.data.readers import LogReader, fill_timestamps
from benchmark.data.splitting import SPLITS, split_bags, split_warnings
from benchmark.data.variants import PrepVariant
from benchmark.data.vectors import template_vectors, vector_dim
from benchmark.paths import default_data_dir

log = logging.getLogger(__name__)

STAGE_VERSIONS = {"read": 2, "parse": 2, "embed": 2, "bags": 2}
"""Bump a stage's version when its code changes what it computes (invalidates old entries)."""
READ_ARRAYS = ("timestamps", "labels", "unparsed", "content_ids")
BAG_ARRAYS = tuple(f"{split}_{end}" for split in SPLITS for end in ("starts", "ends"))


def prepare_dataset(name: str | DatasetCard, *, data_file: Path | None = None,
                    data_dir: Path | None = None, max_lines: int | None = None,
                    strict: bool = False, quick: bool = False, max_unparsed: float | None = None,
                    verify: bool = True, variant: PrepVariant | None = None,
                    templates: Path | None = None) -> PreparedDataset:
    """Read, label, parse, embed, bag and split dataset `name` (card `datasets/<name>.toml`, or
    the given card).

    data_file: the raw log (default `<data_dir>/raw/<name>/<card.source.filename>`; synthetic:
    generated there). data_dir: holds raw/ and cache/ (default:
    benchmark.paths.default_data_dir()). strict: an unparsed line, invalid UTF-8 or time going
    backwards is an error instead of a counted, reported skip. max_unparsed: the largest
    fraction of unparsed lines accepted (default: the card's `checks.max_unparsed`, 5 %).
    verify: MD5-check the card's default raw file (once per content) before use. Every problem
    with the input is a DataError naming the file. A split without a positive or without a
    negative bag is logged as a warning and listed in `summary["warnings"]`. The split's leakage
    audit (benchmark.data.leakage) is `summary["leakage"]`; bags sharing lines across splits are
    a DataError. variant: a data variant (benchmark.data.variants; None = the card's settings).
    templates: a Loghub `*_structured.csv` of the input: the parse of `--parser ground-truth`,
    and for any parser its grouping accuracy in `summary["parse"]["ga"]`.
    """
    variant, truth = variant or PrepVariant(), templates
    card = name if isinstance(name, DatasetCard) else load_card(name)
    stages = _parsed_stages(variant.apply(card), data_file, data_dir, max_lines, strict, quick,
                            max_unparsed, verify, variant, truth)
    card, read, cache, path = stages.card, stages.read, stages.cache, stages.path
    n_lines = len(read.arrays["timestamps"])
    bags_key = config_hash("bags", STAGE_VERSIONS["bags"], stages.read_key,
                           asdict(card.bagging), asdict(card.split))
    bags = (cache.load("bags", bags_key, BAG_ARRAYS, check=lambda e: _check_bags(e, n_lines))
            or _bags_stage(cache, bags_key, card, read, path))

    texts, line_templates = stages.texts, stages.line_templates()
    counts = np.bincount(line_templates, minlength=len(texts))
    kind = variant.vector_kind()
    embed_key = config_hash("embed", STAGE_VERSIONS["embed"], stages.parse_key,
                            asdict(card.embedding), *([] if kind == "word2vec" else [kind]))
    dim = vector_dim(kind, card.embedding)
    embed = cache.load("embed", embed_key, ("vectors",),
                       check=lambda e: _check_embed(e, len(texts), dim))
    if embed is None:
        vectors = (embed_templates(texts, counts, card.embedding).astype(np.float32, copy=False)
                   if kind == "word2vec" else template_vectors(kind, texts, counts,
                                                                card.embedding))
        embed = cache.save("embed", embed_key, {"vectors": vectors})
    templates = TemplateTable(texts, embed.arrays["vectors"])

    line_labels = read.arrays["labels"].astype(np.int8, copy=False)
    splits = {}
    for split in SPLITS:
        starts, ends = bags.arrays[f"{split}_starts"], bags.arrays[f"{split}_ends"]
        labels = bag_labels(line_labels, starts, ends)
        splits[split] = EvalSplit(BagSet(line_templates, starts, ends, labels, templates),
                                  line_labels)
    summary = _summary(card, path, read.meta, stages.limit, stages.origin, quick, line_labels,
                       templates, splits,
                       {"read": stages.read_key, "parse": stages.parse_key, "embed": embed_key,
                        "bags": bags_key})
    summary["input"] = dict(stages.identity)
    summary["parse"] = _parse_summary(variant, card, line_templates, len(texts), truth)
    summary["bag_stats"] = _bag_stats(splits)
    summary["time_steps_back"] = stages.steps_back
    summary["leakage"] = audit_splits({name: split.bags for name, split in splits.items()})
    check_audit(summary["leakage"], card.name)
    for warning in summary["warnings"]:
        log.warning("%s: %s", card.name, warning)
    return PreparedDataset(card.name, templates, splits, summary)


def parse_log(name: str | DatasetCard, *, data_file: Path | None = None,
              data_dir: Path | None = None, max_lines: int | None = None, strict: bool = False,
              quick: bool = False, variant: PrepVariant | None = None,
              templates: Path | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """The read and parse stages of `prepare_dataset` only (same reader, masking, Drain, cache,
    same checks at the door); `variant` / `templates` choose the parser as in prepare_dataset.

    Returns (L,) int32 template id of each line read, in log order, and the template texts (T,).
    """
    variant = variant or PrepVariant()
    card = name if isinstance(name, DatasetCard) else load_card(name)
    stages = _parsed_stages(variant.apply(card), data_file, data_dir, max_lines, strict, quick,
                            None, True, variant, templates)
    return stages.line_templates().astype(np.int32, copy=False), stages.texts


@dataclass(frozen=True)
class _Parsed:
    """The read and parse stages' cache entries with the settings that selected them."""

    card: DatasetCard
    path: Path
    limit: int | None
    origin: str | None
    cache: StageCache
    identity: dict[str, Any]
    steps_back: dict[str, Any]
    read_key: str
    read: Entry
    parse_key: str
    parse: Entry

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(self.parse.strings["templates"])

    def line_templates(self) -> np.ndarray:
        """(L,) template id of each line."""
        if "line_template" in self.parse.arrays:  # a per-line parser (benchmark.data.parsers)
            return self.parse.arrays["line_template"]
        return self.parse.arrays["content_template"][self.read.arrays["content_ids"]]


def _parsed_stages(name: str | DatasetCard, data_file: Path | None, data_dir: Path | None,
                   max_lines: int | None, strict: bool, quick: bool,
                   max_unparsed: float | None, verify: bool, variant: PrepVariant,
                   templates: Path | None) -> _Parsed:
    """Checks at the door, then the read (+ labels + masking) and parse stages, each from the
    cache when it holds a verified entry."""
    card = name if isinstance(name, DatasetCard) else load_card(name)
    data_dir = resolve_data_dir(data_dir)
    if max_lines is not None and max_lines <= 0:
        raise DataError(f"--max-lines must be positive, got {max_lines}")
    if max_unparsed is not None and not 0 <= max_unparsed <= 1:
        raise DataError(f"--max-unparsed must be a fraction in [0, 1], got {max_unparsed}")
    allowed = card.checks.max_unparsed if max_unparsed is None else max_unparsed
    path = _input_file(card, Path(data_file) if data_file is not None else None, data_dir, quick)
    cache = StageCache(data_dir / "cache" / card.name)
    if verify and data_file is None and card.source.md5 is not None:
        verify_raw_file(card.name, path, card.source.md5, cache.root / "md5-verdicts.json")
    limit = max_lines if max_lines is not None else card.max_lines
    origin = "--max-lines" if max_lines is not None else ("card" if limit is not None else None)
    log.info("%s: reading %s (%s)", card.name, path,
             f"first {limit:,} lines, from {origin}" if limit else "every line")

    settings = (card.format, card.label_rule, card.anomalous_levels,
                [asdict(m) for m in card.masking], limit, card.source.member)
    lookup_key = config_hash("read", STAGE_VERSIONS["read"], lookup_identity(path), *settings)
    read = cache.load("read", lookup_key, READ_ARRAYS, ("contents",), _check_read)
    if read is not None:
        actual = content_identity(path)
        if read.meta["input"] != actual:
            log.warning("%s: content differs from the one cache entry %s was read from "
                        "(%s %s…, now %s…); reading it again", path,
                        cache.path("read", lookup_key), HASH_NAME,
                        read.meta["input"][HASH_NAME][:12], actual[HASH_NAME][:12])
            read = None
    if read is None:
        read = _read_stage(cache, lookup_key, card, path, limit, strict)
    identity = read.meta["input"]
    read_key = config_hash("read", STAGE_VERSIONS["read"], identity, *settings)
    if strict:
        raise_if_unclean(read.meta, path, card.format)
    check_unparsed(read.meta, path, card.format, allowed)
    steps_back = check_time_order(read.arrays["timestamps"], path,
                                  card.checks.max_time_backstep_seconds, strict)

    n_contents = len(read.strings["contents"])
    if variant.parser_name() != "drain":
        parse_key, parse = _line_parse_stage(cache, read_key, read, card, variant, templates)
        return _Parsed(card, path, limit, origin, cache, identity, steps_back, read_key, read,
                       parse_key, parse)
    parse_key = config_hash("parse", STAGE_VERSIONS["parse"], read_key, asdict(card.drain))
    parse = cache.load("parse", parse_key, ("content_template",), ("templates",),
                       lambda e: _check_template_ids(e, "content_template", n_contents))
    if parse is None:
        content_template, texts = parse_distinct(read.strings["contents"], card.drain)
        parse = cache.save("parse", parse_key, {"content_template": content_template},
                           {"templates": texts})
    return _Parsed(card, path, limit, origin, cache, identity, steps_back, read_key, read,
                   parse_key, parse)


def _line_parse_stage(cache: StageCache, read_key: str, read: Entry, card: DatasetCard,
                      variant: PrepVariant, templates: Path | None) -> tuple[str, Entry]:
    """The parse stage of a per-line parser (tipping, ground truth): its key and entry."""
    from benchmark.data.parsers import tipping_parse, truth_parse

    n_lines = len(read.arrays["content_ids"])
    settings = variant.identity(card, templates)
    key = config_hash("parse", STAGE_VERSIONS["parse"], read_key, settings)
    parse = cache.load("parse", key, ("line_template",), ("templates",),
                       lambda e: _check_template_ids(e, "line_template", n_lines))
    if parse is not None:
        return key, parse
    if variant.parser_name() == "ground-truth":
        ids, texts = truth_parse(Path(templates), n_lines)
    else:
        ids, texts = tipping_parse(read.strings["contents"], read.arrays["content_ids"],
                                   variant.parser.option("threshold", 0.5))
    return key, cache.save("parse", key, {"line_template": ids}, {"templates": texts},
                           meta={"parser": str(variant.parser)})


def _parse_summary(variant: PrepVariant, card: DatasetCard, line_templates: np.ndarray,
                   n_templates: int, templates: Path | None) -> dict[str, Any]:
    """{"parser", "templates", "ga", "truth_templates"}: the parse and, with a ground-truth
    file, its grouping accuracy (benchmark.data.grouping)."""
    from benchmark.data.grouping import parse_scores

    scores = parse_scores(line_templates, n_templates,
                          Path(templates) if templates is not None else None)
    return {"parser": variant.axes(card)["parser"], **{k: scores[k] for k in
                                                        ("templates", "ga", "truth_templates")}}


def _bag_stats(splits: dict[str, EvalSplit]) -> dict[str, float]:
    """Mean bag length (lines) and share of positive bags over every split's bags."""
    lengths = np.concatenate([s.bags.lengths for s in splits.values()])
    labels = np.concatenate([s.bags.labels for s in splits.values()])
    return {"mean_length": float(lengths.mean()), "positive_share": float(labels.mean())}


def resolve_data_dir(data_dir: Path | None) -> Path:
    """`data_dir`, else the default (benchmark.paths.default_data_dir)."""
    return Path(data_dir) if data_dir is not None else default_data_dir()


def input_path(card: DatasetCard, data_file: Path | None, data_dir: Path, quick: bool) -> Path:
    """The raw log a run reads: `data_file`, else the card's file under `<data_dir>/raw/<name>/`
    (synthetic: the generated file's name, which may not exist yet). A real input is checked to
    be a regular file (os.stat: a FIFO never blocks); DataError names it otherwise."""
    if data_file is not None:
        regular_file_stat(data_file)
        return data_file
    if card.generator is not None:
        gen = card.generator
        n = gen.quick_lines if quick else gen.lines
        return data_dir / "raw" / card.name / f"{card.name}-{n}-seed{gen.seed}.log"
    if card.source.filename is None:
        raise DataError(f"dataset {card.name!r}: the card names no source file; pass --data-file")
    path = data_dir / "raw" / card.name / card.source.filename
    if not os.path.lexists(path):
        raise DataError(f"{path}: not found; run `python -m benchmark download {card.name}` or "
                        f"put the file there (source: {card.source.url})")
    regular_file_stat(path)
    return path


def _input_file(card: DatasetCard, data_file: Path | None, data_dir: Path, quick: bool) -> Path:
    """`input_path`, generating the synthetic file first when it does not exist yet."""
    path = input_path(card, data_file, data_dir, quick)
    if data_file is None and card.generator is not None:
        if not path.exists():
            from benchmark.data.synthetic import write_synthetic_log

            gen = card.generator
            n = gen.quick_lines if quick else gen.lines
            log.info("generating %s (%d lines, seed %d)", path, n, gen.seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_synthetic_log(path, n, gen.seed, profile=gen.profile)
        regular_file_stat(path)
    return path


def _read_stage(cache: StageCache, key: str, card: DatasetCard, path: Path, limit: int | None,
                strict: bool) -> Entry:
    known = known_identity(path)
    reader = LogReader(path, card.format, member=card.source.member, label_rule=card.label_rule,
                       anomalous_levels=card.anomalous_levels, max_lines=limit, strict=strict,
                       hash_input=known is None)
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
    identity = known or reader.identity or content_identity(path)  # archives: hashed apart
    meta = asdict(stats) | {"file": str(path), "distinct_contents": len(distinct),
                            "input": identity}
    log.info("read %d lines, %d distinct masked contents", stats.lines, len(distinct))
    return cache.save("read", key, arrays, {"contents": distinct.contents}, meta)


def _bags_stage(cache: StageCache, key: str, card: DatasetCard, read: Entry, path: Path) -> Entry:
    timestamps = read.arrays["timestamps"]
    starts, ends = make_bags(timestamps, card.bagging)
    try:
        splits = split_bags(starts, ends, len(timestamps), card.split)
    except DataError as exc:
        raise too_few_bags(path, len(timestamps), len(starts), str(exc)) from None
    for name, (s, _) in splits.items():
        if len(s) == 0:
            raise too_few_bags(path, len(timestamps), len(starts), f"the {name} split holds no "
                               "bag; more lines or smaller windows needed")
    arrays = {}
    for name, (s, e) in splits.items():
        arrays[f"{name}_starts"] = np.asarray(s, np.int64)
        arrays[f"{name}_ends"] = np.asarray(e, np.int64)
    return cache.save("bags", key, arrays, meta={"windows": int(len(starts))})


def _check_read(entry: Entry) -> None:
    """Consistency of a read entry: per-line arrays of one length, content ids in range, meta
    agreeing with the arrays (the manifest checksums caught edits already)."""
    a, meta = entry.arrays, entry.meta
    n = len(a["timestamps"])
    for name in READ_ARRAYS:
        if a[name].shape != (n,):
            raise CacheInvalid(f"{name} has shape {a[name].shape}, expected ({n},)")
    identity = meta.get("input")
    if not isinstance(identity, dict) or not isinstance(identity.get(HASH_NAME), str):
        raise CacheInvalid("no input content identity recorded")
    if meta.get("lines") != n or meta.get("unparsed_lines") != int(a["unparsed"].sum()):
        raise CacheInvalid("line counts in meta.json disagree with the arrays")
    n_contents = len(entry.strings["contents"])
    ids = a["content_ids"]
    if n and (ids.min() < 0 or ids.max() >= n_contents):
        raise CacheInvalid(f"content ids outside [0, {n_contents})")
    if np.isnan(a["timestamps"]).any():
        raise CacheInvalid("timestamps hold NaN")


def _check_bags(entry: Entry, n_lines: int) -> None:
    """Every split non-empty, 0 <= start < end <= lines, starts sorted."""
    for split in SPLITS:
        starts, ends = entry.arrays[f"{split}_starts"], entry.arrays[f"{split}_ends"]
        if starts.ndim != 1 or starts.shape != ends.shape or len(starts) == 0:
            raise CacheInvalid(f"{split} bag ranges have shapes {starts.shape}, {ends.shape}")
        if starts.min() < 0 or ends.max() > n_lines or np.any(ends <= starts) or np.any(
                np.diff(starts) < 0):
            raise CacheInvalid(f"{split} bag ranges outside [0, {n_lines}] or unordered")


def _check_template_ids(entry: Entry, key: str, n: int) -> None:
    """`entry.arrays[key]` holds n template ids (one per distinct content or per line), each in
    [0, templates)."""
    ids, texts = entry.arrays[key], entry.strings["templates"]
    if ids.shape != (n,) or not texts:
        raise CacheInvalid(f"{key} has shape {ids.shape}, expected ({n},)")
    if n and (ids.min() < 0 or ids.max() >= len(texts)):
        raise CacheInvalid(f"template ids outside [0, {len(texts)})")


def _check_embed(entry: Entry, n_templates: int, dim: int) -> None:
    """(templates, dim) finite float32 vectors."""
    vectors = entry.arrays["vectors"]
    if vectors.shape != (n_templates, dim) or vectors.dtype != np.float32:
        raise CacheInvalid(f"vectors are {vectors.dtype}{vectors.shape}, expected "
                           f"float32({n_templates}, {dim})")
    if not np.isfinite(vectors).all():
        raise CacheInvalid("vectors hold NaN or inf")


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
