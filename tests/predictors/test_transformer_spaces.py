"""Every registered predictor learns on the transformer spaces' encodings (`vit`, `bert`:
wide one-hot rows) and predicts finite values."""

from __future__ import annotations

import numpy as np
import pytest

import hwnas
from hwnas.predictors import list_predictors, make_predictor


@pytest.mark.parametrize("space_name", ["vit", "bert"])
@pytest.mark.parametrize("name", list_predictors())
def test_every_predictor_learns_on_the_encoding(name: str, space_name: str) -> None:
    space = hwnas.get_space(space_name)
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(40)]
    X = space.encode(archs, "onehot")
    y = np.array([float(sum(a.genes)) for a in archs])
    mean, std = make_predictor(name).fit(X[:30], y[:30]).predict(X[30:])
    assert mean.shape == std.shape == (10,) and np.isfinite(mean).all()
