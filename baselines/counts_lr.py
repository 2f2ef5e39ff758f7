"""Template counts + logistic regression: the supervised classical reference (no torch).

The classic of loglizer and LogLead (an event-count vector per session, a logistic regression
on it), on the benchmark's bags and with the same supervision as LogMILP: bag labels only.

- Features: a bag's log-scaled template counts, x_t = log(1 + count), over the trained template
  table plus one unknown-template column that is always 0 in training
  (benchmark.count_models, which states why log scaling rather than TF-IDF).
- Classifier: scikit-learn `LogisticRegression` (L2, lbfgs, `class_weight="balanced"`, so the
  rarer anomalous bags weigh as much as the normal ones), fitted on all training bags.
- C, the inverse regularisation strength, is chosen on the validation split: every C of
  `c_grid` is fitted on the training bags; the one whose validation bag probabilities reach the
  highest F1 at their best threshold (`best_f1_threshold`, the criterion the deep models stop
  on) is kept; ties go to the smallest C (the strongest regularisation). Validation without a
  positive or a negative bag makes every C tie, so the smallest C is kept. The model is not
  refitted on train + validation (validation also sets τ in the protocol).
- Bag probability = σ(w·x + b), computed here from the saved coefficients (so a loaded model
  scores bit-identically); a bag left with no line scores 0.
- Instance score = the fitted coefficient w_t of the line's template (every line of a template
  shares it). `drop` removes the line from the counts: SR measures how much the bag probability
  falls when the count of the key line's template goes down by one.
- A template unseen in training (in the table but in no training bag, or the unknown column) has
  an all-zero column, so its L2-regularised coefficient is 0: it neither raises nor lowers a bag.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit

from benchmark.configs import positive
from benchmark.count_models import CountsModel, log_scaled
from benchmark.registry import register_model
from benchmark.threshold import best_f1_threshold

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CountsLRConfig:
    """C grid searched on validation (log-spaced), and lbfgs's iteration cap."""

    c_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
    max_iter: int = positive(1000)


@register_model("counts_lr")
class CountsLR(CountsModel):
    """Template counts + logistic regression (class-balanced, C on validation): classical."""

    config_class = CountsLRConfig
    trains_on = "all"

    def __init__(self, config: CountsLRConfig, context) -> None:
        super().__init__(config, context)
        if not config.c_grid or min(config.c_grid) <= 0:
            raise ValueError(f"{self.name}: c_grid must hold at least one C > 0, "
                             f"got {config.c_grid}")
        self.coef_: np.ndarray | None = None
        self.intercept_ = 0.0
        self.c_ = 0.0
        self.val_f1_: dict[str, float] = {}

    def fit_counts(self, train: sparse.csr_matrix, train_labels: np.ndarray,
                   val: sparse.csr_matrix, val_labels: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        if len(np.unique(train_labels)) < 2:
            raise ValueError(f"{self.name}: the training bags hold one class only; a logistic "
                             "regression needs normal and anomalous bags")
        x_train, x_val = log_scaled(train), log_scaled(val)
        best: tuple[float, float, np.ndarray, float] | None = None
        for c in sorted(self.config.c_grid):
            lr = LogisticRegression(C=c, class_weight="balanced", solver="lbfgs",
                                    max_iter=self.config.max_iter)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                lr.fit(x_train, train_labels)
            if any(issubclass(w.category, ConvergenceWarning) for w in caught):
                log.warning("%s: C = %g did not converge in %d lbfgs iterations", self.name, c,
                            self.config.max_iter)
            coef, intercept = lr.coef_[0].astype(np.float64), float(lr.intercept_[0])
            f1 = best_f1_threshold(expit(x_val @ coef + intercept), val_labels).f1
            self.val_f1_[f"{c:g}"] = f1
            if best is None or f1 > best[0]:
                best = (f1, c, coef, intercept)
        _, self.c_, self.coef_, self.intercept_ = best
        log.info("%s: C = %g (validation F1 per C: %s)", self.name, self.c_, self.val_f1_)

    def probabilities_of(self, counts: sparse.csr_matrix) -> np.ndarray:
        return expit(log_scaled(counts) @ self.coef_ + self.intercept_)

    def entry_scores(self, counts: sparse.csr_matrix) -> np.ndarray:
        return self.coef_[counts.indices]

    def fitted_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return ({"coef": self.coef_},
                {"intercept": self.intercept_, "c": self.c_, "val_f1": self.val_f1_})

    def restore_fitted_arrays(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        coef = np.asarray(arrays["coef"], np.float64)
        if coef.shape != (self.n_columns,):
            raise KeyError(f"coef has shape {coef.shape}, expected ({self.n_columns},)")
        self.coef_, self.intercept_ = coef, float(meta["intercept"])
        self.c_, self.val_f1_ = float(meta["c"]), dict(meta["val_f1"])
