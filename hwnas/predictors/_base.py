"""The predictor contract: scikit-learn's estimator rules plus an uncertainty."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import HwnasError


def as_matrix(X: Any) -> np.ndarray:
    """A 2-D float64 array (one row per architecture encoding)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D feature matrix, got shape {X.shape}")
    return X


def member_spread(predictions: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) over an ensemble's members' predictions: for models with no posterior
    of their own (trees, networks), the members' disagreement is the uncertainty."""
    preds = np.stack(predictions)
    return preds.mean(axis=0), preds.std(axis=0)


class Predictor:
    """Base of every surrogate. Subclasses implement `_fit(X, y)` on standardised targets
    and `_predict(X) -> (mean, std)` on the same scale; the base class handles the
    scaling, shape checks and the not-fitted error. The built-ins declare their
    hyper-parameters as fields of `@dataclass(eq=False, repr=False)`, so that `__init__`
    only stores them (compared by identity and shown by `__repr__` below, as estimators
    are)."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: cheaper settings for the cross-validation that chooses between predictors (the
    #: choice needs the ranking of the candidates, not their best fit)
    selection_params: ClassVar[dict[str, Any]] = {}

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (as scikit-learn's `get_params`)."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def fit(self, X: Any, y: Any) -> Predictor:
        X = as_matrix(X)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} values")
        if len(y) == 0:
            raise ValueError("cannot fit a predictor on no data")
        if not np.all(np.isfinite(y)):
            raise ValueError("y holds NaN or infinite values")
        self.y_mean_ = float(y.mean())
        std = float(y.std())
        self.y_scale_ = std if std > 0 else 1.0
        self.n_features_in_ = X.shape[1]
        self._fit(X, (y - self.y_mean_) / self.y_scale_)
        return self

    def predict(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std), each of shape (n,), in the units of y."""
        if not hasattr(self, "n_features_in_"):
            raise HwnasError(f"{type(self).__name__} is not fitted; call fit(X, y) first")
        X = as_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, the predictor was fitted on {self.n_features_in_}"
            )
        mean, std = self._predict(X)
        return mean * self.y_scale_ + self.y_mean_, np.maximum(std, 0.0) * self.y_scale_

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
