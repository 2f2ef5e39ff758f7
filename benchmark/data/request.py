"""`DataRequest`: what data a command asks for, as one frozen value validated once.

The options `--data-file`, `--data-dir`, `--max-lines`, `--strict`, `--quick`,
`--max-unparsed`, `--no-verify` and `--templates` (benchmark.cli) become one `DataRequest`; the
grid, the cross-domain planner and the `describe` / `parse` commands read data only through it:
its `identity(name, source[, prep])` (what a record hashes, no parsing) and its
`prepare(name, source[, prep])` (the prepared dataset), `prep` a data-preparation variant
(benchmark.data.variants.PrepVariant: window, stride, max instances, parser, vectors; None = the
card's settings). A `DataSource` supplies both functions (the real pipeline, or a test's; the
variant arguments are passed only when set, so a source without variants keeps its signature).
Extension point: a new data-preparation axis is one more field of the PrepVariant (its key names
the records' dataset `<dataset>~<key>`, benchmark.layout.RunKey.data_variant), so that it enters
every run's identity and hash and its records live beside the default ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.data.errors import DataError

VARIANT_KEY = "data_variant"
"""The dataset-identity key of a data variant's parser / vector settings (benchmark.data.variants;
its bagging and Drain settings are in the identity's card)."""


@dataclass(frozen=True)
class DataSource:
    """Where datasets come from (injectable for tests).

    identity(name, *, data_file, data_dir, max_lines, quick[, variant, templates]) -> JSON-able
    identity of the data a run would see (part of the config hash; no parsing); prepare(name, *,
    data_file, data_dir, max_lines, strict, quick, max_unparsed, verify[, variant, templates])
    -> PreparedDataset. Both raise DataError for an unknown dataset or bad data.
    """

    prepare: Callable[..., Any]
    identity: Callable[..., dict]


def pipeline_source() -> DataSource:
    """The real data pipeline (benchmark.data.pipeline) and dataset cards."""
    from benchmark.data.cards import load_card
    from benchmark.data.identity import dataset_identity
    from benchmark.data.pipeline import prepare_dataset, resolve_data_dir

    def identity(name: str, *, data_file, data_dir, max_lines, quick, variant=None,
                 templates=None) -> dict:
        card = load_card(name)
        found = dataset_identity(card if variant is None else variant.apply(card),
                                 data_file=data_file, data_dir=resolve_data_dir(data_dir),
                                 max_lines=max_lines, quick=quick)
        extra = {} if variant is None else variant.identity(card, templates)
        return found | ({VARIANT_KEY: extra} if extra else {})

    return DataSource(prepare=prepare_dataset, identity=identity)


@dataclass(frozen=True)
class DataRequest:
    """The data options of a command, checked on construction (DataError naming the option).

    data_files: {dataset: raw log to read instead of the card's file}; max_lines: read only the
    first N lines (None: the card's); strict: a line off the format is an error; quick: the
    smoke-test data; max_unparsed: largest fraction of lines that may fail the format (None:
    the card's); verify: MD5-check a card's default raw file before use; templates: {dataset:
    Loghub `*_structured.csv`} (the ground-truth parser's input and every parser's grouping
    accuracy).
    """

    data_dir: Path | None = None
    data_files: dict[str, Path] = field(default_factory=dict)
    max_lines: int | None = None
    strict: bool = False
    quick: bool = False
    max_unparsed: float | None = None
    verify: bool = True
    templates: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_lines is not None and self.max_lines < 1:
            raise DataError(f"--max-lines must be ≥ 1, got {self.max_lines}")
        if self.max_unparsed is not None and not 0.0 <= self.max_unparsed <= 1.0:
            raise DataError(f"--max-unparsed must be a fraction in [0, 1], got "
                            f"{self.max_unparsed}")

    def data_file(self, name: str) -> Path | None:
        """The raw log given for dataset `name` (None: the card's)."""
        return self.data_files.get(name)

    def identity(self, name: str, source: DataSource, prep: Any = None) -> dict:
        """The identity of dataset `name` as this request would prepare it (with data variant
        `prep`; no parsing); a given data file must be a regular file (os.stat only: a FIFO
        never blocks)."""
        data_file = self.data_file(name)
        if data_file is not None:
            from benchmark.data.cache import regular_file_stat

            try:
                regular_file_stat(Path(data_file))
            except DataError as err:
                raise DataError(f"{err} (data file for {name})") from None
        variant = {} if prep is None else {"variant": prep, "templates": self.templates.get(name)}
        return source.identity(name, data_file=data_file, data_dir=self.data_dir,
                               max_lines=self.max_lines, quick=self.quick, **variant)

    def prepare(self, name: str, source: DataSource, prep: Any = None) -> Any:
        """Dataset `name` (with data variant `prep`) prepared by `source` (a PreparedDataset)."""
        return source.prepare(name, data_file=self.data_file(name), data_dir=self.data_dir,
                              max_lines=self.max_lines, strict=self.strict, quick=self.quick,
                              max_unparsed=self.max_unparsed, verify=self.verify,
                              **self._variant_kwargs(name, prep))

    def _variant_kwargs(self, name: str, prep: Any) -> dict[str, Any]:
        """The extra `prepare` arguments of a data variant and a templates file (none for the
        plain card, so injected data sources without variants keep their signature)."""
        out: dict[str, Any] = {}
        if prep is not None:
            out["variant"] = prep
        if self.templates.get(name) is not None:
            out["templates"] = self.templates[name]
        return out
