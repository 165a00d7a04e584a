"""A CPU-bound evaluator for the executor benchmark, registered through the public
registry: `score@burn` costs a fixed amount of pure-Python work per architecture (as a
zero-cost proxy or a short training step would), independent of numpy's threads."""

from __future__ import annotations

import os

from hwnas.cost import Target, register_target
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import Architecture

WORK = int(os.environ.get("HWNAS_BURN_WORK", "1500000"))


def burn(seed: int) -> int:
    """WORK steps of integer arithmetic: the same cost for every architecture."""
    x = seed + 1
    for i in range(WORK):
        x = (x * 31 + i) % 1_000_003
    return x


class BurnSource(MetricSource):
    cheap = False

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def evaluate_one(self, arch: Architecture) -> Measurement:
        return Measurement(float(burn(sum(arch.genes))), {"kind": "benchmark", "work": WORK})


class BurnTarget(Target):
    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        return BurnSource(metric.name)


register_target(
    BurnTarget("burn", "CPU-bound benchmark evaluator", "benchmarks/_burn.py", metrics=("score",))
)
