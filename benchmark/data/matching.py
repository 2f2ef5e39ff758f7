"""Map masked log contents onto a fixed (trained) template table with drain3's matcher.

The trained templates are loaded as drain3 clusters (one per distinct template text, cluster id
= template id + 1) into a Drain tree with the card's settings; nothing is learned or changed. A
content gets the template of `Drain.match` (every non-`<*>` token equal, `fallback`: a linear
search among templates of its token count when the tree search misses), else of the tree search
at the card's similarity threshold (the rule by which Drain would have joined it to an existing
cluster during training), else none: `UNKNOWN` (-1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from drain3.drain import LogCluster

from benchmark.data.cards import DrainSpec
from benchmark.data.parsing import new_drain

UNKNOWN = -1


class TemplateMatcher:
    """match(contents) → (n,) int64 template ids of masked contents, UNKNOWN where none fits."""

    def __init__(self, texts: Sequence[str], spec: DrainSpec) -> None:
        self.drain = new_drain(spec)
        self.sim_th = spec.sim_th
        for template_id, text in enumerate(texts):
            cluster = LogCluster(self.drain.get_content_as_tokens(text), template_id + 1)
            self.drain.id_to_cluster[cluster.cluster_id] = cluster
            self.drain.add_seq_to_prefix_tree(self.drain.root_node, cluster)

    def match_one(self, content: str) -> int:
        cluster = self.drain.match(content, full_search_strategy="fallback")
        if cluster is None:
            tokens = self.drain.get_content_as_tokens(content)
            cluster = self.drain.tree_search(self.drain.root_node, tokens, self.sim_th, False)
        return UNKNOWN if cluster is None else cluster.cluster_id - 1

    def match(self, contents: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.match_one(c) for c in contents), np.int64, count=len(contents))
