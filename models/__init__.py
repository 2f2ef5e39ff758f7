"""LogMILP (the paper's model) and its ablation; importing this package registers them."""

from models import logmilp  # noqa: F401  (registers logmilp, logmilp_nocon)
