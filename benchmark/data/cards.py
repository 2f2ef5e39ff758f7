"""Dataset cards: `datasets/<name>.toml` read into typed, frozen dataclasses.

A card says where the raw log comes from (`SourceSpec`), how to read and label it (`format`,
`label_rule`, `anomalous_levels`), how to mask and parse it (`MaskRule`s, `DrainSpec`), how to
embed templates (`EmbeddingSpec`), how to cut bags (`BaggingSpec`) and split them (`SplitSpec`),
how many lines to read by default (`max_lines`, None = all) and the input sanity limits
(`CheckSpec`: unparsed fraction, time going backwards). Unknown keys are errors, so a typo
in a card never silently falls back to a default.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from benchmark.data.errors import DataError
from benchmark.data.formats import known_formats
from benchmark.paths import cards_dir as default_cards_dir

LABEL_RULES = ("first_field", "level")


@dataclass(frozen=True)
class SourceSpec:
    """Where the raw file comes from. `filename` is the name under `<data_dir>/raw/<dataset>/`;
    `member` the log inside a .zip/.tar.gz (None for a plain or gzip-compressed log); `url`/`md5`
    None when unknown (synthetic has no download)."""

    url: str | None = None
    md5: str | None = None
    filename: str | None = None
    member: str | None = None


@dataclass(frozen=True)
class MaskRule:
    """Replace every match of `regex` by `<name>` before parsing. The regex must be valid for both
    RE2 (pyarrow, the pipeline) and Python `re` (drain3's masker, the reference): no lookaround,
    no backreferences. Rules apply in card order."""

    name: str
    regex: str


@dataclass(frozen=True)
class DrainSpec:
    depth: int = 4
    sim_th: float = 0.5
    max_children: int = 100


@dataclass(frozen=True)
class EmbeddingSpec:
    """Word2Vec on template token sequences. `corpus_sentences`: size of the
    frequency-weighted training corpus (each template repeated ∝ its line count, at least once)."""

    dim: int = 100
    seed: int = 0
    epochs: int = 5
    window: int = 5
    corpus_sentences: int = 20000


@dataclass(frozen=True)
class BaggingSpec:
    """`mode = "time"`: windows of `window_seconds` every `stride_seconds`; `mode = "count"`:
    windows of `window_lines` every `stride_lines`. Stride ≤ window (every line lands in a bag)."""

    mode: str = "time"
    window_seconds: float | None = None
    stride_seconds: float | None = None
    window_lines: int | None = None
    stride_lines: int | None = None
    max_instances: int = 128


@dataclass(frozen=True)
class SplitSpec:
    """`method`: "chronological" (by bag start) or "random" (seeded bag permutation)."""

    method: str = "chronological"
    train: float = 0.6
    val: float = 0.2
    test: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class CheckSpec:
    """Input sanity limits. `max_unparsed`: largest fraction of lines that may fail the format
    (more is an error: wrong file for the dataset); `max_time_backstep_seconds`: a line whose
    timestamp is more than this before the previous line's is counted as time going backwards
    (a warning with counts; an error under --strict)."""

    max_unparsed: float = 0.05
    max_time_backstep_seconds: float = 60.0


@dataclass(frozen=True)
class GeneratorSpec:
    """Synthetic dataset only: lines written by default / with --quick, the generator seed and
    profile (benchmark.data.synthetic.PROFILES: "a" the default system, "b" a second one)."""

    lines: int = 200000
    quick_lines: int = 20000
    seed: int = 0
    profile: str = "a"


@dataclass(frozen=True)
class DatasetCard:
    name: str
    description: str
    format: str
    label_rule: str
    source: SourceSpec
    anomalous_levels: tuple[str, ...] = ("ERROR",)
    masking: tuple[MaskRule, ...] = ()
    drain: DrainSpec = field(default_factory=DrainSpec)
    embedding: EmbeddingSpec = field(default_factory=EmbeddingSpec)
    bagging: BaggingSpec = field(default_factory=BaggingSpec)
    split: SplitSpec = field(default_factory=SplitSpec)
    checks: CheckSpec = field(default_factory=CheckSpec)
    max_lines: int | None = None
    generator: GeneratorSpec | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able view (for config hashes and run records). The default generator profile
        "a" is left out, so cards written before profiles existed keep their hash."""
        out = asdict(self)
        if out["generator"] is not None and out["generator"]["profile"] == "a":
            del out["generator"]["profile"]
        return out


def known_datasets(cards_dir: Path | Traversable | None = None) -> list[str]:
    directory = cards_dir or default_cards_dir()
    return sorted(p.name[:-5] for p in directory.iterdir() if p.name.endswith(".toml"))


def load_card(name: str, *, cards_dir: Path | Traversable | None = None) -> DatasetCard:
    """Read and validate `<cards_dir>/<name>.toml` (default: benchmark.paths.cards_dir())."""
    from benchmark.layout import LayoutError, check_name

    directory = cards_dir or default_cards_dir()
    try:
        check_name("dataset", name)
    except LayoutError as err:
        known = ", ".join(known_datasets(directory)) or "none"
        raise DataError(f"{err}; known datasets: {known}") from None
    path = directory / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(known_datasets(directory)) or "none"
        raise DataError(f"unknown dataset {name!r}; known datasets: {known}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: invalid TOML: {exc}") from None
    return _card_from_dict(raw, name, path)


def card_from_dict(raw: dict[str, Any], where: str) -> DatasetCard:
    """A card from its `as_dict()` form (as run records and saved models store it), validated;
    `where` names its origin in errors."""
    raw = {k: v for k, v in raw.items() if v is not None or k == "max_lines"}
    if not raw:
        raise DataError(f"{where}: no dataset card recorded")
    return _card_from_dict(raw, str(raw.get("name", "?")), Path(where))


def _card_from_dict(raw: dict[str, Any], name: str, path: Path) -> DatasetCard:
    raw = dict(raw)
    tables = {
        "source": SourceSpec, "drain": DrainSpec, "embedding": EmbeddingSpec,
        "bagging": BaggingSpec, "split": SplitSpec, "generator": GeneratorSpec,
        "checks": CheckSpec,
    }
    kwargs: dict[str, Any] = {"name": raw.pop("name", name)}
    for key, cls in tables.items():
        if key in raw:
            kwargs[key] = _build(cls, raw.pop(key), path, key)
    masks = raw.pop("masking", [])
    kwargs["masking"] = tuple(_build(MaskRule, m, path, "masking") for m in masks)
    if "anomalous_levels" in raw:
        kwargs["anomalous_levels"] = tuple(raw.pop("anomalous_levels"))
    for key in ("description", "format", "label_rule", "max_lines"):
        if key in raw:
            kwargs[key] = raw.pop(key)
    if raw:
        raise DataError(f"{path}: unknown keys {sorted(raw)}")
    for key in ("description", "format", "label_rule", "source"):
        if key not in kwargs:
            raise DataError(f"{path}: missing required key {key!r}")
    card = DatasetCard(**kwargs)
    _validate(card, path)
    return card


def _build(cls: type, table: Any, path: Path, where: str) -> Any:
    if not isinstance(table, dict):
        raise DataError(f"{path}: [{where}] must be a table")
    names = {f.name for f in fields(cls)}
    unknown = set(table) - names
    if unknown:
        raise DataError(f"{path}: unknown keys in [{where}]: {sorted(unknown)}")
    return cls(**table)


def _validate(card: DatasetCard, path: Path) -> None:
    if card.format not in known_formats():
        raise DataError(f"{path}: format {card.format!r} is not one of {known_formats()}")
    if card.label_rule not in LABEL_RULES:
        raise DataError(f"{path}: label_rule {card.label_rule!r} is not one of {LABEL_RULES}")
    if card.max_lines is not None and card.max_lines <= 0:
        raise DataError(f"{path}: max_lines must be positive (omit it to read every line)")
    if card.generator is not None:
        from benchmark.data.synthetic import PROFILES

        if card.generator.profile not in PROFILES:
            raise DataError(f"{path}: [generator] profile {card.generator.profile!r} is not one "
                            f"of {sorted(PROFILES)}")
    for rule in card.masking:
        try:
            re.compile(rule.regex)
            pc.replace_substring_regex(pa.array([""]), rule.regex, "")
        except (re.error, pa.ArrowInvalid) as exc:
            raise DataError(f"{path}: masking regex {rule.regex!r} is not valid for both RE2 "
                            f"and Python re: {exc}") from None
    b = card.bagging
    if b.max_instances < 1:
        raise DataError(f"{path}: bagging.max_instances must be >= 1")
    if b.mode == "time":
        window, stride = b.window_seconds, b.stride_seconds
    elif b.mode == "count":
        window, stride = b.window_lines, b.stride_lines
    else:
        raise DataError(f"{path}: bagging.mode must be 'time' or 'count', got {b.mode!r}")
    if window is None or stride is None or not 0 < stride <= window:
        raise DataError(f"{path}: bagging ({b.mode}) needs 0 < stride <= window, got "
                        f"window={window}, stride={stride}")
    c = card.checks
    if not 0 <= c.max_unparsed <= 1:
        raise DataError(f"{path}: checks.max_unparsed must be a fraction in [0, 1]")
    if not c.max_time_backstep_seconds >= 0:
        raise DataError(f"{path}: checks.max_time_backstep_seconds must be >= 0")
    s = card.split
    if s.method not in ("chronological", "random"):
        raise DataError(f"{path}: split.method must be 'chronological' or 'random'")
    if min(s.train, s.val, s.test) <= 0 or abs(s.train + s.val + s.test - 1.0) > 1e-9:
        raise DataError(f"{path}: split fractions must be positive and sum to 1")
