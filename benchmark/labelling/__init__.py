"""Labellers (oracle, noisy-oracle, keywords, replay, llm) and the ALPHA label-budget pipeline."""

from benchmark.labelling import keywords, llm, oracle, replay  # noqa: F401  (registers labellers)
from benchmark.labelling.base import (
    Labeller,
    LabellingError,
    Labels,
    get_labeller,
    list_labellers,
    register_labeller,
)

__all__ = ["Labeller", "LabellingError", "Labels", "get_labeller", "list_labellers",
           "register_labeller"]
