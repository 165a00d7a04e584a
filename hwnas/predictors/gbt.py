"""Gradient-boosted trees: an ensemble of boosted models on bootstrap-like subsamples,
whose spread is the uncertainty (trees have no posterior of their own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hwnas.predictors import register_predictor
from hwnas.predictors._base import Predictor, member_spread


@dataclass(eq=False, repr=False)
class BoostedEnsemble:
    """The hyper-parameters, members and spread of an ensemble of scikit-learn boosted
    models that differ by the seed of their row subsampling: shared by the `gbt`
    predictor and the proxy-feature accuracy predictor (`hwnas.quality.predictor`)."""

    n_members: int = 5
    n_estimators: int = 150
    max_depth: int = 3
    learning_rate: float = 0.05
    subsample: float = 0.8
    seed: int = 0

    def fit_members(self, X: np.ndarray, y: np.ndarray, subsample: float) -> None:
        """Fit `members_`, member k with random_state `seed + k`."""
        from sklearn.ensemble import GradientBoostingRegressor

        self.members_: list[Any] = [
            GradientBoostingRegressor(
                n_estimators=self.n_estimators,
                max_depth=self.max_depth,
                learning_rate=self.learning_rate,
                subsample=subsample,
                random_state=self.seed + k,
            ).fit(X, y)
            for k in range(self.n_members)
        ]

    def predict_members(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) over the members."""
        return member_spread([m.predict(X) for m in self.members_])


@register_predictor("gbt")
@dataclass(eq=False, repr=False)
class GradientBoostedTrees(BoostedEnsemble, Predictor):
    description = "gradient-boosted trees, ensemble of subsampled models (scikit-learn)"

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.n_members < 1:
            raise ValueError("n_members must be >= 1")
        self.fit_members(X, y, self.subsample if len(y) > 1 else 1.0)

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.predict_members(X)
