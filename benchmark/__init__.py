"""logmilp-bench: data pipeline, model registry, trainer, protocol, run store and report.

Importing the package imports nothing heavy: torch, gensim and drain3 load only in the modules
that train models or prepare data, so `--report-only` and card reading stay light.
"""
