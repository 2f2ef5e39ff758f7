"""Bags as index ranges into shared line arrays.

`BagSet` is what a model sees: template ids per line, bag ranges and *bag* labels. It has no
attribute through which line (instance) labels can be reached; those live only in `EvalSplit`,
which the protocol keeps and never hands to `fit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_DROP = -1
"""Value of `drop[b]` meaning "remove nothing from bag b"."""


@dataclass(frozen=True, eq=False)
class TemplateTable:
    """The parsed templates of one dataset.

    texts: (T,) template strings (Drain output, `<*>` for parameters).
    vectors: (T, d) float32 template embeddings.
    """

    texts: tuple[str, ...]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.texts):
            raise ValueError(
                f"template vectors {self.vectors.shape} do not match {len(self.texts)} templates"
            )

    @property
    def size(self) -> int:
        return len(self.texts)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


class BagSet:
    """Bags over a line sequence, carrying bag labels only.

    line_templates: (L,) int32 template id of every line (shared, never copied).
    starts, ends: (B,) int64 half-open line ranges [start, end) of each bag.
    labels: (B,) int8 bag labels Y = max of the (hidden) line labels.
    """

    __slots__ = ("_line_templates", "_starts", "_ends", "_labels", "templates")

    def __init__(
        self,
        line_templates: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        labels: np.ndarray,
        templates: TemplateTable,
    ) -> None:
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int8)
        if not (starts.shape == ends.shape == labels.shape) or starts.ndim != 1:
            raise ValueError("starts, ends and labels must be 1-D arrays of one length")
        if len(starts) and (np.any(ends <= starts) or ends.max() > len(line_templates)):
            raise ValueError("every bag must be a non-empty range inside the line array")
        self._line_templates = line_templates
        self._starts = starts
        self._ends = ends
        self._labels = labels
        self.templates = templates

    def __len__(self) -> int:
        return len(self._starts)

    def __repr__(self) -> str:
        return f"BagSet(bags={len(self)}, positive={int(self._labels.sum())})"

    @property
    def starts(self) -> np.ndarray:
        """(B,) int64 first line index of each bag (read-only view)."""
        return _readonly(self._starts)

    @property
    def ends(self) -> np.ndarray:
        """(B,) int64 one past the last line index of each bag (read-only view)."""
        return _readonly(self._ends)

    @property
    def labels(self) -> np.ndarray:
        """(B,) int8 bag labels (read-only view)."""
        return _readonly(self._labels)

    @property
    def lengths(self) -> np.ndarray:
        """(B,) int64 number of instances per bag."""
        return self._ends - self._starts

    @property
    def max_length(self) -> int:
        return int(self.lengths.max()) if len(self) else 0

    def instances(self, b: int) -> np.ndarray:
        """(n_b,) int32 template ids of bag b, in log order (read-only view)."""
        return _readonly(self._line_templates[self._starts[b] : self._ends[b]])

    def subset(self, indices: np.ndarray) -> BagSet:
        """A BagSet of the selected bags (same line array, no copy of lines)."""
        idx = np.asarray(indices, dtype=np.int64)
        return BagSet(
            self._line_templates, self._starts[idx], self._ends[idx], self._labels[idx],
            self.templates,
        )

    def with_labels(self, labels: np.ndarray) -> BagSet:
        """The same bags (same line array, no copy) carrying other bag labels (B,) 0/1."""
        labels = np.asarray(labels)
        if labels.shape != self._labels.shape:
            raise ValueError(f"{labels.shape} labels for {len(self)} bags")
        return BagSet(self._line_templates, self._starts, self._ends, labels, self.templates)

    def retemplated(self, mapping: np.ndarray, templates: TemplateTable) -> BagSet:
        """The same bags over another template table: line template t becomes mapping[t]
        (mapping: (old T,) int ids into `templates`); one new line array, same bag ranges."""
        lines = np.asarray(mapping, np.int32)[self._line_templates]
        return BagSet(lines, self._starts, self._ends, self._labels, templates)

    def padded(
        self, indices: np.ndarray, drop: np.ndarray | None = None, width: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Template ids of the selected bags, right-padded.

        drop: optional (len(indices),) instance index to *delete* from each bag (NO_DROP = none).
        width: pad to this width (default: longest selected bag, at least 1).
        Returns ids (n, W) int64 (0 at padding) and mask (n, W) bool (True = real instance).
        """
        idx = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[idx]
        w = max(int(lengths.max(initial=0)), 1) if width is None else width
        ids = np.zeros((len(idx), w), dtype=np.int64)
        mask = np.zeros((len(idx), w), dtype=bool)
        for row, b in enumerate(idx):
            seq = self._line_templates[self._starts[b] : self._ends[b]]
            if drop is not None and drop[row] != NO_DROP:
                seq = np.delete(seq, int(drop[row]))
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = True
        return ids, mask


def concat_bagsets(parts: list[BagSet]) -> BagSet:
    """One BagSet holding the bags of `parts` in order (parts share one template table); the
    lines of their bags are copied into one new line array."""
    if not parts:
        raise ValueError("concat_bagsets: no BagSet given")
    templates = parts[0].templates
    if any(p.templates is not templates for p in parts):
        raise ValueError("concat_bagsets: the BagSets hold different template tables")
    lines, starts, labels = [], [], []
    offset = 0
    for part in parts:
        for b in range(len(part)):
            lines.append(part.instances(b))
            starts.append(offset)
            offset += int(part.lengths[b])
        labels.append(part.labels)
    line_array = np.concatenate(lines).astype(np.int32) if lines else np.zeros(0, np.int32)
    starts_array = np.asarray(starts, np.int64)
    ends = np.append(starts_array[1:], offset) if len(starts) else starts_array
    return BagSet(line_array, starts_array, ends, np.concatenate(labels), templates)


def reinsert_dropped(scores: np.ndarray, drop: np.ndarray | None) -> np.ndarray:
    """Map per-instance scores computed on bags with one line deleted back to original positions.

    scores: (n, W) scores of the shortened bags, padded to the ORIGINAL width W (e.g.
    `bags.padded(index, drop=drop, width=bags.max_length)`), so no score falls off the end;
    drop: (n,) deleted index or NO_DROP.
    Returns (n, W) with the deleted position set to -inf and later positions shifted right.
    """
    if drop is None:
        return scores
    out = np.full_like(scores, -np.inf)
    for row, d in enumerate(np.asarray(drop)):
        if d == NO_DROP:
            out[row] = scores[row]
        else:
            out[row, :d] = scores[row, :d]
            out[row, d + 1 :] = scores[row, d:-1]
    return out


@dataclass(frozen=True, eq=False)
class EvalSplit:
    """One split as the protocol sees it: the model-facing bags plus hidden line labels.

    line_labels: (L,) int8 ground truth per line, shared with the other splits. Used only for
    Loc@k and SR; never passed to a model.
    """

    bags: BagSet
    line_labels: np.ndarray

    def instance_labels(self, width: int | None = None) -> np.ndarray:
        """(B, W) int8 line labels of every bag, right-padded with 0."""
        b = self.bags
        w = max(b.max_length, 1) if width is None else width
        out = np.zeros((len(b), w), dtype=np.int8)
        for row, (s, e) in enumerate(zip(b.starts, b.ends, strict=True)):
            out[row, : e - s] = self.line_labels[s:e]
        return out


@dataclass(frozen=True, eq=False)
class PreparedDataset:
    """A dataset ready for the protocol: templates, the three splits and a summary.

    summary: JSON-able dict with at least lines, unparsed_lines, anomalous_lines, templates,
    splits.{train,val,test}.{bags,positive_bags}, instances_per_bag.{min,median,max} and subset.
    """

    name: str
    templates: TemplateTable
    splits: dict[str, EvalSplit]
    summary: dict


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view
