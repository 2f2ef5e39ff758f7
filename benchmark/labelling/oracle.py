"""Ground-truth labellers: `oracle` and `noisy-oracle` (seeded, consistent, imperfect)."""

from __future__ import annotations

import numpy as np

from benchmark.labelling.base import Labeller, LabellingError, register_labeller


def _truth_of(truth: np.ndarray, ids: np.ndarray | None, who: str) -> np.ndarray:
    if ids is None:
        raise LabellingError(f"the {who} labeller needs ids (indices into its truth array)")
    if len(ids) and (ids.min() < 0 or ids.max() >= len(truth)):
        raise LabellingError(f"{who}: ids outside [0, {len(truth)})")
    return truth[ids]


@register_labeller("oracle")
class OracleLabeller(Labeller):
    """Answers with the ground truth: truth (N,) 0/1 labels indexed by the query ids."""

    def __init__(self, truth: np.ndarray) -> None:
        super().__init__()
        self.truth = np.asarray(truth, dtype=np.int8)

    def _label(self, texts: list[str], ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        labels = _truth_of(self.truth, ids, self.name)
        return labels, np.ones(len(labels))


@register_labeller("noisy-oracle")
class NoisyOracleLabeller(Labeller):
    """The ground truth with seeded flips: p(1→0) = `miss`, p(0→1) = `false_alarm`.

    `flip` sets both at once (symmetric noise). Each id has one fixed draw, so asking about the
    same item twice gives the same answer and the result does not depend on query order.
    Confidences are 1 - the flip rate of the answered class.
    """

    def __init__(self, truth: np.ndarray, flip: float | None = None, miss: float | None = None,
                 false_alarm: float | None = None, seed: int = 0) -> None:
        super().__init__()
        self.truth = np.asarray(truth, dtype=np.int8)
        self.miss = float(miss if miss is not None else (flip if flip is not None else 0.1))
        self.false_alarm = float(false_alarm if false_alarm is not None
                                 else (flip if flip is not None else 0.1))
        for what, p in (("miss", self.miss), ("false_alarm", self.false_alarm)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"noisy-oracle: {what} rate {p} outside [0, 1]")
        self.seed = seed
        self._draws = np.random.default_rng(seed).random(len(self.truth))

    def _label(self, texts: list[str], ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        true = _truth_of(self.truth, ids, self.name)
        rate = np.where(true == 1, self.miss, self.false_alarm)
        answer = np.where(self._draws[ids] < rate, 1 - true, true).astype(np.int8)
        conf = np.where(answer == 1, 1 - self.false_alarm, 1 - self.miss)
        return answer, np.clip(conf, 0.0, 1.0)
