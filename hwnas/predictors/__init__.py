"""Surrogate models shared by strategies, quality and cost estimators. Every predictor
follows the scikit-learn estimator contract (`__init__` only stores its arguments,
`fit(X, y)` returns `self`, learned state ends in `_`) and `predict(X)` returns
`(mean, std)`: a point estimate and an uncertainty for acquisition functions."""

from __future__ import annotations

from typing import Any

from hwnas.predictors._base import Predictor, as_matrix
from hwnas.registry import Registry

PREDICTORS: Registry[type[Predictor]] = Registry(
    "predictor",
    (
        "hwnas.predictors.ridge",
        "hwnas.predictors.gbt",
        "hwnas.predictors.mlp",
        "hwnas.predictors.gp",
        "hwnas.predictors.forest",
    ),
)

register_predictor = PREDICTORS.register_class
get_predictor = PREDICTORS.get
list_predictors = PREDICTORS.names


def make_predictor(name: str, **params: Any) -> Predictor:
    """Instantiate a registered predictor with its hyper-parameters."""
    return get_predictor(name)(**params)


__all__ = [
    "PREDICTORS",
    "Predictor",
    "as_matrix",
    "get_predictor",
    "list_predictors",
    "make_predictor",
    "register_predictor",
]
