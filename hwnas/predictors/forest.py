"""Extremely randomised trees (scikit-learn's ExtraTreesRegressor): the member trees'
spread is the uncertainty. On count-like encodings from a few hundred labels it ranks
better than boosted trees and refits several times faster, so a strategy can refit it
every batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hwnas.predictors import register_predictor
from hwnas.predictors._base import Predictor, member_spread


@register_predictor("forest")
@dataclass(eq=False, repr=False)
class ExtraTrees(Predictor):
    description = "extra-trees ensemble, spread of the trees as uncertainty (scikit-learn)"
    selection_params: ClassVar[dict[str, Any]] = {"n_estimators": 20}

    n_estimators: int = 50
    max_features: float = 0.5
    min_samples_leaf: int = 1
    seed: int = 0

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import ExtraTreesRegressor

        if self.n_estimators < 1:
            raise ValueError("n_estimators must be >= 1")
        self.model_ = ExtraTreesRegressor(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            random_state=self.seed,
            n_jobs=1,
        ).fit(X, y)

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.ascontiguousarray(X, dtype=np.float32)  # the trees' dtype: skip the checks
        return member_spread([t.predict(rows, check_input=False) for t in self.model_.estimators_])
