"""hwnas: hardware-aware neural architecture search.

The most accurate network that meets a device's latency, energy or memory budget, and the
accuracy-versus-cost Pareto front around it, with every number traceable to a measurement
or a published table.

What a user scripts against (`Study`, `Results`, the registries) and the contracts a plugin
author implements (`SearchSpace`, `Strategy`, `MetricSource`, `Target`, `QualityEstimator`,
`Predictor`, `Executor`) are exported here; `hwnas.testing` holds the conformance suites a
plugin passes."""

from __future__ import annotations

from hwnas._version import __version__
from hwnas.cost import Target, get_target, list_targets, register_target
from hwnas.errors import (
    ConfigConflictError,
    DependencyError,
    EvaluationError,
    HwnasError,
    SpecError,
    UnknownNameError,
)
from hwnas.executors import (
    Executor,
    PoolExecutor,
    list_executors,
    make_executor,
    register_executor,
)
from hwnas.metrics import Metric, parse_constraint, parse_metric, parse_objective
from hwnas.predictors import Predictor, register_predictor
from hwnas.quality import QualityEstimator, register_quality
from hwnas.results import Results, load_results
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import (
    Architecture,
    Dimension,
    LayeredSpace,
    SearchSpace,
    get_space,
    list_spaces,
    register_space,
)
from hwnas.strategies import Problem, Strategy, list_strategies, register_strategy
from hwnas.study import Study
from hwnas.trial import Outcome, Trial

__all__ = [
    "Architecture",
    "ConfigConflictError",
    "DependencyError",
    "Dimension",
    "EvalContext",
    "EvaluationError",
    "Executor",
    "HwnasError",
    "LayeredSpace",
    "Measurement",
    "Metric",
    "MetricSource",
    "Outcome",
    "PoolExecutor",
    "Predictor",
    "Problem",
    "QualityEstimator",
    "Results",
    "SearchSpace",
    "SpecError",
    "Strategy",
    "Study",
    "Target",
    "Trial",
    "UnknownNameError",
    "__version__",
    "get_space",
    "get_target",
    "list_executors",
    "list_spaces",
    "list_strategies",
    "list_targets",
    "load_results",
    "make_executor",
    "parse_constraint",
    "parse_metric",
    "parse_objective",
    "register_executor",
    "register_predictor",
    "register_quality",
    "register_space",
    "register_strategy",
    "register_target",
]
