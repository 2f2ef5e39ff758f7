"""Parsers other than the card's Drain: Tipping (the `tipping` package) and ground truth.

Both return one template id per *line* (the Drain stage maps distinct contents instead):

- `tipping_parse`: Tipping (Rust, `tipping.parse`; token interdependency clustering), run on
  every line's masked content in log order, because its clustering counts token co-occurrences
  over the lines it sees (on Loghub's BGL_2k, feeding each distinct content once scored GA
  0.78 against 0.91 for every line). A line Tipping leaves unclustered (id None) gets a
  template of its own per distinct content. A cluster's text is the smallest (sorted first) of
  the template strings Tipping returns for it, else its first member's content.
- `truth_parse`: the `EventId` of every line of a Loghub `*_structured.csv` (rows LineId 1, 2,
  … in order, one per line read); text = the row's `EventTemplate` (the EventId when that
  column is missing). Parsing error is thereby removed from the comparison: GA = 1.

Template ids are numbered by first appearance in the log. No torch import.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.data.errors import DataError
from benchmark.data.grouping import read_event_ids

log = logging.getLogger(__name__)


def tipping_parse(contents: Sequence[str], content_ids: np.ndarray, threshold: float = 0.5
                  ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Tipping over every line. contents: (U,) distinct masked contents; content_ids: (L,) id
    of each line's content. Returns (L,) int32 template id per line and the texts (T,)."""
    import tipping

    lines = [contents[i] for i in np.asarray(content_ids).tolist()]
    clusters, _, texts = tipping.parse(lines, threshold=threshold, return_masks=False)
    keys = [("c", c) if c is not None else ("u", content_ids[i])
            for i, c in enumerate(clusters)]
    ids, order = _number(keys)
    first = np.unique(ids, return_index=True)[1]  # first line of each template id
    out = [sorted(texts[value])[0] if kind == "c" and texts[value] else lines[int(first[t])]
           for t, (kind, value) in enumerate(order)]
    log.info("tipping (threshold %g): %d lines → %d templates (%d lines unclustered)",
             threshold, len(lines), len(out), sum(c is None for c in clusters))
    return ids, tuple(out)


def truth_parse(path: Path, n_lines: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """The ground-truth grouping of a Loghub structured CSV for `n_lines` lines: (L,) int32
    template id per line and the texts (T,). DataError naming the file on a bad CSV."""
    events = read_event_ids(Path(path), n_lines)
    ids, order = _number(events)
    text_of = _event_templates(Path(path))
    return ids, tuple(text_of.get(event) or event for event in order)


def _number(keys: Sequence) -> tuple[np.ndarray, list]:
    """(L,) int32 id of each key numbered by first appearance, and the keys in that order."""
    index: dict = {}
    ids = np.fromiter((index.setdefault(k, len(index)) for k in keys), np.int32, count=len(keys))
    return ids, list(index)


def _event_templates(path: Path) -> dict[str, str]:
    """EventId → EventTemplate of a structured CSV ({} without that column)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if "EventTemplate" not in (reader.fieldnames or ()):
                return {}
            return {row["EventId"]: row["EventTemplate"] for row in reader}
    except OSError as exc:
        raise DataError(f"{path}: cannot read ground truth: {exc.strerror}") from None
