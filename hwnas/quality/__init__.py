"""Quality estimators: how `accuracy` is obtained (`--quality NAME`)."""

from __future__ import annotations

from collections.abc import Callable

from hwnas.evaluation import EvalContext, MetricSource
from hwnas.metrics import Metric
from hwnas.registry import Registry


class QualityEstimator:
    """Resolves the quality metrics (`accuracy`, `test_accuracy`) for a context."""

    name: str
    description: str = ""

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        raise NotImplementedError


QUALITY: Registry[QualityEstimator] = Registry("quality estimator", ("hwnas.quality.tabular",))


def register_quality(name: str) -> Callable[[type[QualityEstimator]], type[QualityEstimator]]:
    def decorator(cls: type[QualityEstimator]) -> type[QualityEstimator]:
        cls.name = name
        QUALITY.add(name, cls())
        return cls

    return decorator


def get_quality(name: str) -> QualityEstimator:
    return QUALITY.get(name)


def list_quality(pattern: str = "*") -> list[str]:
    return QUALITY.names(pattern)
