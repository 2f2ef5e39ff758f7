"""Baseline reimplementations; importing this package registers them."""

from baselines import deeplog, loganomaly, logbert, logformer, midlog  # noqa: F401
