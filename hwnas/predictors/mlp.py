"""An ensemble of small MLPs (deep-ensemble style): members differ by initialisation and
by a bootstrap of the data; their spread is the uncertainty."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from hwnas.predictors import register_predictor
from hwnas.predictors._base import Predictor, member_spread


@register_predictor("mlp")
@dataclass(eq=False, repr=False)
class MLPEnsemble(Predictor):
    description = "ensemble of MLPs on bootstraps (scikit-learn)"

    n_members: int = 5
    hidden: tuple[int, ...] = (64, 64)
    l2: float = 1e-3
    max_iter: int = 500
    seed: int = 0

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        if self.n_members < 1:
            raise ValueError("n_members must be >= 1")
        rng = np.random.default_rng(self.seed)
        self.members_ = []
        for k in range(self.n_members):
            idx = rng.integers(len(y), size=len(y)) if self.n_members > 1 else np.arange(len(y))
            model = MLPRegressor(
                hidden_layer_sizes=tuple(self.hidden),
                alpha=self.l2,
                max_iter=self.max_iter,
                random_state=self.seed + k,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.members_.append(model.fit(X[idx], y[idx]))

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return member_spread([m.predict(X) for m in self.members_])
