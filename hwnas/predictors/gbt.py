"""Gradient-boosted trees: an ensemble of boosted models on bootstrap-like subsamples,
whose spread is the uncertainty (trees have no posterior of their own)."""

from __future__ import annotations

import numpy as np

from hwnas.predictors import register_predictor
from hwnas.predictors._base import Predictor


@register_predictor("gbt")
class GradientBoostedTrees(Predictor):
    description = "gradient-boosted trees, ensemble of subsampled models (scikit-learn)"

    def __init__(
        self,
        n_members: int = 5,
        n_estimators: int = 150,
        max_depth: int = 3,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        seed: int = 0,
    ) -> None:
        self.n_members = n_members
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.seed = seed

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import GradientBoostingRegressor

        if self.n_members < 1:
            raise ValueError("n_members must be >= 1")
        self.members_ = [
            GradientBoostingRegressor(
                n_estimators=self.n_estimators,
                max_depth=self.max_depth,
                learning_rate=self.learning_rate,
                subsample=self.subsample if len(y) > 1 else 1.0,
                random_state=self.seed + k,
            ).fit(X, y)
            for k in range(self.n_members)
        ]

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        preds = np.stack([m.predict(X) for m in self.members_])
        return preds.mean(axis=0), preds.std(axis=0)
