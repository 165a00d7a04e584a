"""Conformance suites, one per plugin kind, as scikit-learn's `check_estimator` and Optuna's
`optuna.testing`: every built-in passes them (tests/ runs them), and a third-party plugin
is checked with one call::

    from hwnas.testing import check_space, check_strategy, check_target

    check_space(MySpace())
    check_strategy("round-robin")
    check_target(my_target, space="my-space")

Each suite is a plain function that raises an `AssertionError` naming the rule a plugin
breaks; none needs a test runner, and none imports torch unless asked to build networks
(or the plugin itself needs it)."""

from __future__ import annotations

from hwnas.testing._common import TinySpace
from hwnas.testing._executor import check_executor
from hwnas.testing._predictor import check_predictor
from hwnas.testing._sources import check_quality, check_source, check_target
from hwnas.testing._space import check_space
from hwnas.testing._strategy import check_strategy

__all__ = [
    "TinySpace",
    "check_executor",
    "check_predictor",
    "check_quality",
    "check_source",
    "check_space",
    "check_strategy",
    "check_target",
]
