"""Accuracy looked up in a published benchmark table."""

from __future__ import annotations

from hwnas.errors import HwnasError
from hwnas.metrics import Metric
from hwnas.quality import QualityEstimator, register_quality
from hwnas.sources import EvalContext, MetricSource


@register_quality("tabular")
class TabularQuality(QualityEstimator):
    description = "accuracy from the space's published benchmark table (e.g. NAS-Bench-201)"

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        from hwnas.tabular import TABLES

        if ctx.space.name not in TABLES:
            raise HwnasError(
                f"space {ctx.space.name!r} has no accuracy table; choose a quality estimator "
                "with --quality"
            )
        return TABLES.get(ctx.space.name).quality(ctx, metric.base)
