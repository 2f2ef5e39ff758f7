"""Masking, de-duplication and Drain template mining.

Lines are masked with the card's regexes by pyarrow (RE2, vectorised), de-duplicated per chunk,
and only each *distinct* masked content is handed to Drain, once, in order of first appearance.
Templates are read after every distinct content was added: a content maps to the cluster it joined,
and that cluster's *final* template text is its template (a cluster's template can generalise as
more members arrive). Clusters that end with the same template text share one template id.

Difference to plain drain3 streaming (`TemplateMiner.add_log_message` on every line): Drain sees
each distinct content once instead of once per occurrence. Re-adding a content that already matched
never changes its cluster's template, but drain3 scores similarity without counting `<*>`
positions, so a repeat can fail to match a cluster that generalised in between and open a new
cluster. `bench/ingest.py` measures the difference on BGL_2k.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from drain3.drain import Drain
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from tqdm import tqdm

from benchmark.data.cards import DrainSpec, MaskRule

log = logging.getLogger(__name__)

PARAM = "<*>"


def mask_contents(contents: pa.Array, rules: Sequence[MaskRule]) -> pa.Array:
    """(n,) strings with every rule's matches replaced by `<NAME>`, rules in order."""
    for rule in rules:
        contents = pc.replace_substring_regex(contents, rule.regex, f"<{rule.name}>")
    return contents


class DistinctContents:
    """Distinct masked contents seen so far, in order of first appearance.

    `add(chunk)` masks a chunk of raw contents and returns (n,) int32 ids into `contents`. Raw
    contents are de-duplicated before masking, so each regex runs once per distinct raw content
    of the chunk; only the chunk's distinct masked strings touch Python.
    """

    def __init__(self, rules: Sequence[MaskRule]) -> None:
        self.rules = tuple(rules)
        self._ids: dict[str, int] = {}

    def add(self, contents: pa.Array) -> np.ndarray:
        raw = contents.dictionary_encode()
        masked = mask_contents(raw.dictionary, self.rules).dictionary_encode()
        ids = self._ids
        local = masked.dictionary.to_pylist()
        global_ids = np.fromiter((ids.setdefault(s, len(ids)) for s in local), np.int32,
                                 count=len(local))
        per_raw = global_ids[masked.indices.to_numpy(zero_copy_only=False)]
        return per_raw[raw.indices.to_numpy(zero_copy_only=False)]

    @property
    def contents(self) -> list[str]:
        """All distinct masked contents, index = id."""
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def parse_distinct(contents: Sequence[str], spec: DrainSpec) -> tuple[np.ndarray, tuple[str, ...]]:
    """Drain over distinct masked contents (each once, in the given order).

    Returns content_template: (U,) int32 template id of each content, and the template texts
    (T,), numbered by first appearance in `contents`.
    """
    drain = new_drain(spec)
    cluster_of = np.empty(len(contents), np.int64)
    for i, content in enumerate(tqdm(contents, desc="drain", unit="content", leave=False,
                                     disable=len(contents) < 50_000)):
        cluster, _ = drain.add_log_message(content)
        cluster_of[i] = cluster.cluster_id
    final_text = {cid: cluster.get_template() for cid, cluster in drain.id_to_cluster.items()}
    text_id: dict[str, int] = {}
    cluster_template = {cid: text_id.setdefault(final_text[cid], len(text_id))
                        for cid in dict.fromkeys(cluster_of.tolist())}
    content_template = np.fromiter((cluster_template[c] for c in cluster_of.tolist()), np.int32,
                                   count=len(contents))
    log.info("drain: %d distinct contents → %d clusters → %d templates", len(contents),
             len(final_text), len(text_id))
    return content_template, tuple(text_id)


def new_drain(spec: DrainSpec) -> Drain:
    """A drain3 `Drain` with the card's settings (parameter token `<*>`, numeric tokens as params,
    as drain3's TemplateMiner builds it)."""
    return Drain(depth=spec.depth, sim_th=spec.sim_th, max_children=spec.max_children,
                 param_str=PARAM)


def drain3_config(spec: DrainSpec, rules: Sequence[MaskRule]) -> TemplateMinerConfig:
    """Plain drain3 `TemplateMiner` config with the same Drain settings and masking (reference)."""
    config = TemplateMinerConfig()
    config.drain_depth = spec.depth
    config.drain_sim_th = spec.sim_th
    config.drain_max_children = spec.max_children
    config.masking_instructions = [MaskingInstruction(r.regex, r.name) for r in rules]
    config.mask_prefix, config.mask_suffix = "<", ">"
    return config
