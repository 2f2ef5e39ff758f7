"""Labellers (oracle, noisy-oracle, keywords, replay, llm, drift) and the ALPHA label-budget
pipeline."""

from benchmark.labelling import drift, keywords, llm, oracle, replay  # noqa: F401  (registers labellers)
from benchmark.labelling.base import (
    Labeller,
    LabellingError,
    Labels,
    check_labeller_options,
    get_labeller,
    list_labellers,
    register_labeller,
)

__all__ = ["Labeller", "LabellingError", "Labels", "check_labeller_options", "get_labeller",
           "list_labellers", "register_labeller"]
