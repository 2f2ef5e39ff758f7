"""Baseline reimplementations; `benchmark.registry` discovers every module here.

A namespace portion: a `baselines/` directory elsewhere on sys.path contributes its modules too.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
