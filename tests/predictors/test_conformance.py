"""Every registered predictor passes `hwnas.testing.check_predictor`: the estimator
contract, (mean, std) of the right shapes, and better than the mean on held-out points."""

from __future__ import annotations

import pytest

from hwnas.predictors import list_predictors, make_predictor
from hwnas.testing import check_predictor


@pytest.mark.parametrize("name", list_predictors())
def test_predictor_conformance(name: str, fast: dict) -> None:
    check_predictor(make_predictor(name, **fast.get(name, {})))
