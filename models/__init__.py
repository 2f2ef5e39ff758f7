"""LogMILP (the paper's model) and its ablation; `benchmark.registry` discovers every module here.

A namespace portion: a `models/` directory elsewhere on sys.path contributes its modules too.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
