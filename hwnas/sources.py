"""The metric-source contract every plugin implements: a `MetricSource` computes one
metric for architectures in an `EvalContext` and returns `Measurement`s that carry their
provenance. It sits below every plugin, so a plugin never imports the resolver above it."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwnas.errors import missing_dependency
from hwnas.spaces import SearchSpace

#: Metrics that estimate the network's quality; all others are costs.
QUALITY_METRICS: tuple[str, ...] = ("accuracy", "test_accuracy")
#: How long work says how far it is: `progress(stage, done, total)` (the CLI draws a bar).
StageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Measurement:
    """A value and where it came from (table and column, or host/runtime/threads, ...)."""

    value: float
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalContext:
    """What a metric is evaluated for: the space, the dataset, the quality estimator and,
    for data-dependent estimators (e.g. a supernet), the images' dataset spec
    (`hwnas.datasets`, e.g. `fashion-mnist` or `folder:DIR`)."""

    space: SearchSpace
    dataset: str
    quality: str = "tabular"
    data: str | None = None


class MetricSource:
    """Computes one metric for architectures. `cheap` sources run before constraints are
    checked, so an infeasible candidate never costs an expensive evaluation."""

    metric: str
    cheap: bool = True
    #: The device an evaluation occupies (e.g. "rpi4", "local-cpu"), or None for device-free
    #: work (tables, training, proxies, counts). Executors never run two evaluations on one
    #: device at once: one in flight per device locally, a Ray resource `device:NAME` on a
    #: cluster (a node started with `--resources '{"device:rpi4": 1}'` owns the device).
    device: str | None = None
    #: Python modules evaluating needs (optional dependencies such as torch): a study that
    #: uses the source refuses to start without them instead of failing every evaluation.
    requires: tuple[str, ...] = ()
    #: Where long work inside an evaluation (a predictor scoring its training set) reports
    #: how far it is; a study sets it on the sources it evaluates in its own process, so
    #: that minutes of work are not silent. None: nobody listens.
    progress: StageProgress | None = None

    def check(self) -> None:
        """Raise an `HwnasError` when evaluating cannot work here (a missing optional
        dependency, a missing file): called before a study evaluates anything."""
        missing = missing_modules(self)
        if missing:
            raise missing_dependency(missing[0], f"metric {self.metric}")

    def evaluate(self, archs: Sequence[Any]) -> list[Measurement]:
        """One measurement per architecture; raise to fail the whole batch, or override
        `evaluate_one` to fail per architecture."""
        return [self.evaluate_one(a) for a in archs]

    def evaluate_one(self, arch: Any) -> Measurement:
        raise NotImplementedError

    def prepare(self) -> None:
        """Load what evaluating needs (a table, a model) now rather than on the first
        evaluation: a fresh worker prepares before it takes work, so an evaluation's
        timeout counts the evaluation alone."""

    def table(self) -> tuple[list[str], np.ndarray] | None:
        """(keys, values) over the whole space when the source is a complete table, so the
        true Pareto front can be computed; None otherwise."""
        return None


def missing_modules(source: MetricSource) -> list[str]:
    """The modules of `source.requires` that are not installed."""
    return [m for m in source.requires if importlib.util.find_spec(m) is None]


def check_requirements(sources: Mapping[str, MetricSource]) -> None:
    """`check` every source: a study would otherwise record every evaluation as failed
    for the same reason (a missing dependency or file)."""
    for source in sources.values():
        source.check()
