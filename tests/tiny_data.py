"""The tiny planted-anomaly dataset (benchmark.tiny_data, shared with the conformance kit)."""

from benchmark.tiny_data import ANOMALOUS_TEMPLATES, N_TEMPLATES, make_tiny_dataset

__all__ = ["ANOMALOUS_TEMPLATES", "N_TEMPLATES", "make_tiny_dataset"]
