"""Every registered predictor beats predicting the mean on held-out NB201 data (the
estimator contract is `test_conformance.py`'s); ridge and GP uncertainties behave."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import UnknownNameError
from hwnas.predictors import get_predictor, list_predictors, make_predictor


def test_registry_lists_the_four_predictors() -> None:
    assert set(list_predictors()) >= {"ridge", "gbt", "mlp", "gp"}
    with pytest.raises(UnknownNameError, match="ridge"):
        get_predictor("nope")


@pytest.mark.parametrize("name", list_predictors())
def test_beats_the_mean_on_held_out_nb201(name: str, nb201_data, fast: dict) -> None:
    X, acc, lat = nb201_data
    rng = np.random.default_rng(1)
    idx = rng.permutation(len(X))
    train, test = idx[:150], idx[150:1150]
    for y in (acc, lat):
        mean, std = (
            make_predictor(name, **fast.get(name, {})).fit(X[train], y[train]).predict(X[test])
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
