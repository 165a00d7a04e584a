"""hwnas: hardware-aware neural architecture search.

The most accurate network that meets a device's latency, energy or memory budget, and the
accuracy-versus-cost Pareto front around it, with every number traceable to a measurement
or a published table."""

from __future__ import annotations

__version__ = "0.1.0"

from hwnas.cost import get_target, list_targets, register_target
from hwnas.errors import (
    ConfigConflictError,
    DependencyError,
    EvaluationError,
    HwnasError,
    SpecError,
    UnknownNameError,
)
from hwnas.metrics import parse_constraint, parse_metric, parse_objective
from hwnas.spaces import Architecture, SearchSpace, get_space, list_spaces, register_space
from hwnas.strategies import Strategy, list_strategies, register_strategy
from hwnas.study import Study

__all__ = [
    "Architecture",
    "ConfigConflictError",
    "DependencyError",
    "EvaluationError",
    "HwnasError",
    "SearchSpace",
    "SpecError",
    "Strategy",
    "Study",
    "UnknownNameError",
    "__version__",
    "get_space",
    "get_target",
    "list_spaces",
    "list_strategies",
    "list_targets",
    "parse_constraint",
    "parse_metric",
    "parse_objective",
    "register_space",
    "register_strategy",
    "register_target",
]
