"""Label-budget runs in the grid: which labels a run trains on, and where its record lives.

A `LabelPlan` (budget, labeller, unit, labeller options) turns a normal run into a label-budget run:
its training bag labels come from `relabel_dataset`, validation and test stay the ground truth.
Its record names the dataset `<dataset>@<plan.key>` (e.g. `synthetic@budget0.01-oracle`), so it
lives at `runs/<dataset>@<plan.key>/<model>/seed<k>.json`, beside (not in place of) the
ground-truth record; `record_extras` (the record's `extras["label_budget"]`) says which plan and
base dataset it is, which is how the report keeps it out of Tables I–III. Its config hash covers
the plan and the pipeline settings.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmark.data.bagset import PreparedDataset
from benchmark.labelling.alpha import AlphaSettings
from benchmark.labelling.base import LabellingError, check_labeller_options, list_labellers
from benchmark.labelling.budget import UNITS, build_labeller, relabel_dataset
from benchmark.layout import PLAN_SEPARATOR

"""Between the base dataset and the plan key in a label-budget record's dataset name."""

LABELLING_VERSION = 1
"""Bumped when the pipeline changes which labels a plan produces (part of the config hash)."""


@dataclass(frozen=True)
class LabelPlan:
    """budget in (0, 1]; labeller a registered name; unit "line" or "bag"; options JSON-able."""

    budget: float
    labeller: str
    unit: str = "line"
    options: dict[str, Any] = field(default_factory=dict)
    settings: AlphaSettings = field(default_factory=AlphaSettings)

    def __post_init__(self) -> None:
        if not 0.0 < self.budget <= 1.0:
            raise ValueError(f"label budget must be in (0, 1], got {self.budget}")
        if self.labeller not in list_labellers():
            raise ValueError(f"unknown labeller {self.labeller!r}; known: "
                             f"{', '.join(list_labellers())}")
        if self.unit not in UNITS:
            raise ValueError(f"label unit must be one of {UNITS}, got {self.unit!r}")
        check_labeller_options(self.labeller, self.options)

    @property
    def key(self) -> str:
        """Directory name of the plan's records, e.g. `budget0.01-noisy-oracle-flip0.1`."""
        parts = [f"budget{self.budget:g}", self.labeller]
        if self.unit != "line":
            parts.append(self.unit)
        parts += [f"{k}{_safe(v)}" for k, v in sorted(self.options.items())]
        return "-".join(parts)

    def identity(self) -> dict[str, Any]:
        """What the config hash covers."""
        return {"label_plan": asdict(self), "labelling_version": LABELLING_VERSION}

    def apply(self, dataset: PreparedDataset, seed: int) -> tuple[PreparedDataset, dict]:
        """The dataset whose training bag labels come from the plan (see `relabel_dataset`),
        and the pipeline's summary."""
        labeller = build_labeller(self.labeller, dataset.splits["train"], seed, unit=self.unit,
                                  **self.options)
        source = getattr(labeller, "source_input", None)
        if source is not None and source == dataset.summary.get("input"):
            raise LabellingError(f"labeller {self.labeller!r}: its source is the same log as "
                                 f"dataset {dataset.name!r} (its labels would leak into "
                                 "training); pick another source")
        return relabel_dataset(dataset, self.budget, labeller, seed, unit=self.unit,
                               settings=self.settings)

    @property
    def curve(self) -> str:
        """The plan's key without its budget: the budget curve it is a point of."""
        return self.key.split("-", 1)[1]

    def dataset_name(self, dataset: str) -> str:
        """The dataset name of the plan's records, `<dataset>@<key>`."""
        return f"{dataset}{PLAN_SEPARATOR}{self.key}"

    def record_extras(self, dataset: str, summary: dict[str, Any]) -> dict[str, Any]:
        """`extras["label_budget"]` of a record: base dataset, curve, plan, pipeline summary."""
        return {"base_dataset": dataset, "curve": self.curve, "budget": self.budget,
                "labeller": self.labeller, "unit": self.unit, "options": dict(self.options),
                "labelling_version": LABELLING_VERSION, "summary": summary}


def _safe(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", str(value))[:40]
