"""`check_predictor`: scikit-learn's estimator contract plus an uncertainty
(hwnas/predictors/_base.py), checked on a small synthetic regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwnas.errors import HwnasError
from hwnas.testing._common import expect, expect_raises


def check_predictor(predictor: Any) -> None:
    """Raise an `AssertionError` naming the broken rule unless `predictor` (an unfitted
    instance; it is cloned, never fitted itself) keeps the estimator contract: `__init__`
    only stores its arguments, `get_params` round-trips, `predict` before `fit` is a
    "not fitted" `HwnasError`, `fit(X, y)` returns `self` and sets learned state ending in
    `_`, `predict(X)` is `(mean, std)` of shape (n,) with finite means and std >= 0, fitting
    again gives the same predictions, mismatched shapes are `ValueError`s, and it beats
    predicting the mean on held-out points of a smooth function."""
    what = f"predictor {type(predictor).__name__}"
    learned = [k for k in vars(predictor) if k.endswith("_")]
    expect(not learned, f"{what}: unfitted, it already holds learned state {learned}")
    params = predictor.get_params()
    model = _clone(predictor)
    expect(
        model.get_params() == params,
        f"{what}: {type(predictor).__name__}(**get_params()) has other params "
        f"({model.get_params()} != {params}); __init__ must store its arguments as given",
    )
    with expect_raises(HwnasError, f"{what}: predict() before fit()", "not fitted"):
        model.predict(np.zeros((2, 3)))

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.5 * np.sin(2 * X[:, 0]) + 3.0
    train, test = slice(0, 40), slice(40, 60)
    fitted = model.fit(X[train], y[train])
    expect(fitted is model, f"{what}: fit() returned {fitted!r}, not self")
    learned = [k for k in vars(model) if k.endswith("_")]
    expect(learned, f"{what}: fit() set no learned state (attributes ending in '_')")
    out = model.predict(X[test])
    expect(
        isinstance(out, tuple) and len(out) == 2,
        f"{what}: predict() returned {type(out).__name__}, not a (mean, std) pair",
    )
    mean, std = (np.asarray(v) for v in out)
    expect(
        mean.shape == (20,) and std.shape == (20,),
        f"{what}: predict() of 20 rows gave shapes {mean.shape}, {std.shape}; expected (20,)",
    )
    expect(np.all(np.isfinite(mean)), f"{what}: predicted means are not finite")
    expect(np.all(std >= 0), f"{what}: a predicted std is negative")
    error = float(np.mean((mean - y[test]) ** 2))
    baseline = float(np.mean((y[test] - y[train].mean()) ** 2))
    expect(
        error < 0.8 * baseline,
        f"{what}: held-out MSE {error:.3g} is no better than predicting the mean ({baseline:.3g})",
    )
    again, _ = _clone(predictor).fit(X[train], y[train]).predict(X[test])
    expect(
        np.allclose(again, mean),
        f"{what}: fitting the same data with the same params gives other predictions; seed it",
    )
    with expect_raises(ValueError, f"{what}: predict() with 4 features", "features"):
        model.predict(np.zeros((2, 4)))
    with expect_raises(ValueError, f"{what}: fit() with 40 rows and 39 targets", "rows"):
        _clone(predictor).fit(X[train], y[: 40 - 1])


def _clone(predictor: Any) -> Any:
    return type(predictor)(**predictor.get_params())
