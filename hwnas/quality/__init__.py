"""Quality estimators: how `accuracy` is obtained (`--quality NAME`)."""

from __future__ import annotations

from collections.abc import Callable

from hwnas.metrics import Metric
from hwnas.registry import Registry
from hwnas.sources import EvalContext, MetricSource


class QualityEstimator:
    """Resolves the quality metrics (`accuracy`, `test_accuracy`) for a context."""

    name: str
    description: str = ""

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        raise NotImplementedError

    @classmethod
    def with_spec(cls, spec: str) -> QualityEstimator:
        """The estimator configured by the SPEC of `--quality NAME:SPEC`."""
        from hwnas.errors import SpecError

        raise SpecError(f"quality estimator {cls.name!r} takes no options (got {spec!r})")

    def fidelity(self, option: str, ctx: EvalContext) -> str:
        """The `--quality` spec of this estimator at the cheaper fidelity `option` (a
        supernet's `val=500`), which multi-fidelity search evaluates many candidates at;
        a `SpecError` when the option is unknown or not cheaper, or there is none."""
        from hwnas.errors import SpecError

        raise SpecError(
            f"quality estimator {self.name!r} offers no cheaper fidelity ({option!r}); "
            "multi-fidelity search needs one that does, e.g. supernet:CKPT with val=N"
        )


QUALITY: Registry[QualityEstimator] = Registry(
    "quality estimator",
    (
        "hwnas.quality.tabular",
        "hwnas.quality.predictor",
        "hwnas.quality.supernet",
        "hwnas.quality.train",
    ),
)


def register_quality(name: str) -> Callable[[type[QualityEstimator]], type[QualityEstimator]]:
    def decorator(cls: type[QualityEstimator]) -> type[QualityEstimator]:
        cls.name = name
        QUALITY.add(name, cls())
        return cls

    return decorator


def get_quality(name: str) -> QualityEstimator:
    """`NAME` or `NAME:SPEC` (e.g. `predictor:n=200`): the spec configures the estimator."""
    base, sep, spec = name.partition(":")
    entry = QUALITY.get(base)
    return type(entry).with_spec(spec) if sep else entry


list_quality = QUALITY.names
