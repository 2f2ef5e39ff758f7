"""Data-preparation variants: the sensitivity axes a run's data can be prepared along.

An axis is a choice the papers leave open and the dataset card fixes (README *Sensitivity axes*):

  window         bag window, `60s` / `10m` / `1h` / `6h` (time) or `20l` / `500l` (lines)
  stride         window step (default: the window, i.e. tumbling); same unit as the window
  max_instances  longest bag (longer windows are cut into consecutive bags)
  parser         `drain[:depth=D][:sim=S][:children=C]`, `tipping[:threshold=T]` (the tipping
                 package) or `ground-truth` (Loghub `*_structured.csv` EventIds, `--templates`)
  vectors        `word2vec` (the card's), `hashed` (hashed n-grams) or `wordllama` (a pretrained
                 static sentence encoder shipped inside the wordllama wheel)

A `PrepVariant` holds one value per axis (None = the card's). `apply(card)` gives the card the
variant's bagging and Drain settings; `identity(...)` is what joins the dataset identity (and so
the config hash) of its runs: nothing for the card's own settings, so a variant equal to the card
is the default run and reuses its records. `key(card)` names the variant's records folder,
`<dataset>~<key>` (e.g. `synthetic~window-30s`), beside the default ones, never in their place.
No torch import.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmark.data.cards import BaggingSpec, DatasetCard, DrainSpec
from benchmark.data.errors import DataError
from benchmark.layout import DATA_VARIANT_SEPARATOR

VARIANT_SEPARATOR = DATA_VARIANT_SEPARATOR
"""Between the dataset name and the variant key in a variant run's dataset name (defined with
the results layout, benchmark.layout.RunKey.data_variant)."""
EXTRAS_KEY = "data_variant"
"""The `extras` key of a variant run's record: {"key", "axes": {axis: value}}."""
AXES = ("window", "stride", "max_instances", "parser", "vectors")
PARSERS = ("drain", "tipping", "ground-truth")
VECTORS = ("word2vec", "hashed", "wordllama")
DEFAULT_PARSER = "drain"
DEFAULT_VECTORS = "word2vec"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SPAN = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdl])")
_PARSER_OPTIONS = {"drain": {"depth": int, "sim": float, "children": int},
                   "tipping": {"threshold": float}, "ground-truth": {}}


@dataclass(frozen=True)
class Span:
    """A window or stride: `value` seconds (unit "s") or lines (unit "l")."""

    value: float
    unit: str

    @property
    def mode(self) -> str:
        return "count" if self.unit == "l" else "time"

    def __str__(self) -> str:
        if self.unit == "l":
            return f"{int(self.value)}l"
        for suffix, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
            if self.value >= seconds and self.value % seconds == 0:
                return f"{int(self.value // seconds)}{suffix}"
        return f"{self.value:g}s"


def parse_span(text: str) -> Span:
    """`30s`, `10m`, `1h`, `6h`, `1d` → seconds; `100l` → lines. ValueError otherwise."""
    match = _SPAN.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"expected a span like 60s, 10m, 1h (time) or 100l (lines), got "
                         f"{text!r}")
    number, unit = float(match.group(1)), match.group(2)
    if unit == "l":
        if number != int(number) or number < 1:
            raise ValueError(f"a line window must be a whole number ≥ 1, got {text!r}")
        return Span(float(int(number)), "l")
    seconds = number * _UNITS[unit]
    if not seconds > 0:
        raise ValueError(f"a time window must be positive, got {text!r}")
    return Span(seconds, "s")


@dataclass(frozen=True)
class ParserChoice:
    """A parser and its options, e.g. drain with depth 5 (`drain:depth=5`)."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return ":".join([self.name, *(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in self.options)])

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


def parse_parser(text: str) -> ParserChoice:
    """`drain:depth=5:sim=0.4`, `tipping:threshold=0.6`, `ground-truth` → ParserChoice
    (options sorted by name); ValueError naming what is wrong."""
    name, *items = text.strip().split(":")
    if name not in PARSERS:
        raise ValueError(f"unknown parser {name!r}; expected one of {', '.join(PARSERS)}")
    allowed = _PARSER_OPTIONS[name]
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in allowed:
            known = ", ".join(allowed) or "none"
            raise ValueError(f"parser {name}: bad option {item!r} (options: {known})")
        try:
            options[key] = allowed[key](raw)
        except ValueError:
            raise ValueError(f"parser {name}: {key}={raw!r} is not a number") from None
    if "depth" in options and options["depth"] < 3:
        raise ValueError("parser drain: depth must be ≥ 3")
    for key in ("sim", "threshold"):
        if key in options and not 0 < options[key] <= 1:
            raise ValueError(f"parser {name}: {key} must lie in (0, 1]")
    if "children" in options and options["children"] < 1:
        raise ValueError("parser drain: children must be ≥ 1")
    return ParserChoice(name, tuple(sorted(options.items())))


@dataclass(frozen=True)
class PrepVariant:
    """One value per axis; None = the card's setting (see the module docstring)."""

    window: Span | None = None
    stride: Span | None = None
    max_instances: int | None = None
    parser: ParserChoice | None = None
    vectors: str | None = None

    def bagging(self, card: DatasetCard) -> BaggingSpec:
        """The card's bagging with this variant's window, stride and max_instances; DataError
        when the stride's unit differs from the window's or the stride exceeds the window."""
        base = card.bagging
        max_instances = self.max_instances or base.max_instances
        if self.window is None and self.stride is None:
            return replace(base, max_instances=max_instances)
        if self.window is not None:
            window = self.window
        else:
            window = (Span(float(base.window_lines), "l") if base.mode == "count"
                      else Span(float(base.window_seconds), "s"))
        stride = self.stride or window
        if stride.mode != window.mode:
            raise DataError(f"--stride {stride} and --window {window} must both be times or "
                            "both line counts")
        if stride.value > window.value:
            raise DataError(f"--stride {stride} is longer than --window {window} (lines between "
                            "windows would belong to no bag)")
        if window.mode == "count":
            return BaggingSpec("count", None, None, int(window.value), int(stride.value),
                               max_instances)
        return BaggingSpec("time", window.value, stride.value, None, None, max_instances)

    def drain(self, card: DatasetCard) -> DrainSpec:
        """The card's Drain settings with this variant's drain options."""
        p = self.parser
        if p is None or p.name != "drain":
            return card.drain
        base = card.drain
        return DrainSpec(p.option("depth", base.depth), p.option("sim", base.sim_th),
                         p.option("children", base.max_children))

    def apply(self, card: DatasetCard) -> DatasetCard:
        """The card this variant prepares data with (bagging and Drain settings replaced; a
        setting numerically equal to the card's keeps the card's own value, so equal settings
        give one identity)."""
        bagging, drain = self.bagging(card), self.drain(card)
        return replace(card, bagging=card.bagging if bagging == card.bagging else bagging,
                       drain=card.drain if drain == card.drain else drain)

    def parser_name(self) -> str:
        return self.parser.name if self.parser is not None else DEFAULT_PARSER

    def vector_kind(self) -> str:
        return self.vectors or DEFAULT_VECTORS

    def is_default(self, card: DatasetCard) -> bool:
        """True when the variant prepares exactly the card's data."""
        return (self.apply(card) == card and self.parser_name() == DEFAULT_PARSER
                and self.vector_kind() == DEFAULT_VECTORS)

    def axes(self, card: DatasetCard) -> dict[str, str]:
        """Every axis's value as shown in reports, the card's where the variant sets none."""
        b = self.bagging(card)
        if b.mode == "count":
            window, stride = Span(b.window_lines, "l"), Span(b.stride_lines, "l")
        else:
            window, stride = Span(b.window_seconds, "s"), Span(b.stride_seconds, "s")
        d = self.drain(card)
        parser = (f"drain:depth={d.depth}:sim={d.sim_th:g}"
                  + ("" if d.max_children == 100 else f":children={d.max_children}")
                  if self.parser_name() == "drain" else str(self.parser))
        return {"window": str(window), "stride": str(stride),
                "max_instances": str(b.max_instances), "parser": parser,
                "vectors": self.vector_kind()}

    def key(self, card: DatasetCard) -> str | None:
        """Folder-safe name of the variant (None for the card's own settings): the axes that
        differ from the card's, `axis-value` joined by `_`, e.g. `window-30s_vectors-hashed`.
        The stride is named when it is not the one the key implies: the window's when a window
        is named (tumbling), else the card's; so one key names one set of settings."""
        if self.is_default(card):
            return None
        mine, base = self.axes(card), PrepVariant().axes(card)
        shown = {axis for axis in AXES if axis != "stride" and mine[axis] != base[axis]}
        # a key naming a window implies tumbling windows, one naming none the card's stride
        implied = mine["window"] if "window" in shown else base["stride"]
        if mine["stride"] != implied:
            shown.add("stride")
        parts = [f"{axis.replace('_', '')}-{_safe(mine[axis])}" for axis in AXES
                 if axis in shown]
        return "_".join(parts)

    def identity(self, card: DatasetCard, templates: Path | None) -> dict[str, Any]:
        """What joins the dataset identity beyond the applied card: the parser (with the
        ground-truth file's content identity) and vector kind when not the card's; {} else."""
        out: dict[str, Any] = {}
        if self.parser_name() != DEFAULT_PARSER:
            out["parser"] = str(self.parser)
            if self.parser_name() == "ground-truth":
                if templates is None:
                    raise DataError(f"{card.name}: --parser ground-truth needs --templates "
                                    "(a Loghub *_structured.csv with an EventId per line)")
                from benchmark.data.cache import content_identity

                out["templates"] = content_identity(Path(templates))
        if self.vector_kind() != DEFAULT_VECTORS:
            out["vectors"] = self.vector_kind()
        return out


def _safe(value: str) -> str:
    return re.sub(r"[^a-z0-9.=-]+", "-", value.lower().replace("ground-truth", "gt")).strip("-")


def expand_variants(windows: list[Span] | tuple[Span, ...] = (), stride: Span | None = None,
                    max_instances: list[int] | tuple[int, ...] = (),
                    parsers: list[ParserChoice] | tuple[ParserChoice, ...] = (),
                    vectors: list[str] | tuple[str, ...] = ()) -> tuple[PrepVariant, ...]:
    """Every combination of the given axis values (an axis given no value keeps the card's);
    () when no axis is given (the plain grid). ValueError for an unknown vector kind or a
    max_instances below 1."""
    for kind in vectors:
        if kind not in VECTORS:
            raise ValueError(f"unknown --vectors {kind!r}; expected one of {', '.join(VECTORS)}")
    if any(n < 1 for n in max_instances):
        raise ValueError("--max-instances must be ≥ 1")
    if not (windows or stride or max_instances or parsers or vectors):
        return ()
    combos = itertools.product(list(dict.fromkeys(windows)) or [None],
                               list(dict.fromkeys(max_instances)) or [None],
                               list(dict.fromkeys(parsers)) or [None],
                               list(dict.fromkeys(vectors)) or [None])
    return tuple(PrepVariant(w, stride, m, p, v) for w, m, p, v in combos)


def variant_dataset_name(dataset: str, key: str | None) -> str:
    """The dataset name of a variant's records: `<dataset>~<key>` (the dataset itself for
    None)."""
    return dataset if key is None else f"{dataset}{VARIANT_SEPARATOR}{key}"


def base_dataset(name: str) -> str:
    """`synthetic~window-30s` → `synthetic`."""
    return name.split(VARIANT_SEPARATOR, 1)[0]


def window_order(value: str) -> float:
    """Sort key of a window / stride value as shown (`30s` < `10m`; line counts by count)."""
    try:
        span = parse_span(value)
    except ValueError:
        return math.inf
    return span.value
