"""LogMILP (the paper's model) and its ablation; importing this package registers them."""
