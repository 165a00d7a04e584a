"""Every registered predictor: the estimator contract, the (mean, std) shapes, and that
it beats predicting the mean on held-out NB201 data."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import HwnasError, UnknownNameError
from hwnas.predictors import get_predictor, list_predictors, make_predictor

FAST = {"gbt": {"n_members": 3, "n_estimators": 60}, "mlp": {"n_members": 2, "max_iter": 300}}


def test_registry_lists_the_four_predictors() -> None:
    assert set(list_predictors()) >= {"ridge", "gbt", "mlp", "gp"}
    with pytest.raises(UnknownNameError, match="ridge"):
        get_predictor("nope")


@pytest.mark.parametrize("name", list_predictors())
def test_estimator_contract(name: str) -> None:
    model = make_predictor(name, **FAST.get(name, {}))
    # __init__ only stores: no learned state, params round-trip
    assert not [k for k in vars(model) if k.endswith("_")]
    params = model.get_params()
    assert type(model)(**params).get_params() == params
    with pytest.raises(HwnasError, match="not fitted"):
        model.predict(np.zeros((2, 3)))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    assert model.fit(X, y) is model
    assert [k for k in vars(model) if k.endswith("_")]
    mean, std = model.predict(X[:7])
    assert mean.shape == (7,) and std.shape == (7,)
    assert np.all(np.isfinite(mean)) and np.all(std >= 0)
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="rows"):
        make_predictor(name, **FAST.get(name, {})).fit(X, y[:-1])


@pytest.mark.parametrize("name", list_predictors())
def test_beats_the_mean_on_held_out_nb201(name: str, nb201_data) -> None:
    X, acc, lat = nb201_data
    rng = np.random.default_rng(1)
    idx = rng.permutation(len(X))
    train, test = idx[:150], idx[150:1150]
    for y in (acc, lat):
        mean, std = (
            make_predictor(name, **FAST.get(name, {})).fit(X[train], y[train]).predict(X[test])
        )
        baseline = np.mean((y[test] - y[train].mean()) ** 2)
        assert np.mean((mean - y[test]) ** 2) < 0.8 * baseline, name
        assert std.shape == (len(test),)


def test_ridge_uncertainty_grows_away_from_the_data() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = X.sum(axis=1) + 0.01 * rng.normal(size=30)
    model = make_predictor("ridge").fit(X, y)
    _, near = model.predict(np.zeros((1, 2)))
    _, far = model.predict(np.full((1, 2), 50.0))
    assert far[0] > 3 * near[0]


def test_gp_interpolates_and_is_unsure_far_away() -> None:
    X = np.linspace(0, 1, 12).reshape(-1, 1)
    y = np.sin(6 * X[:, 0])
    model = make_predictor("gp").fit(X, y)
    mean, std = model.predict(X)
    assert np.max(np.abs(mean - y)) < 0.1
    _, far = model.predict(np.array([[10.0]]))
    assert far[0] > 5 * std.mean()
