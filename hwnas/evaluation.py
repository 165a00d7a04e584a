"""How a configuration becomes evaluations: metric names resolved to `MetricSource`s
(targets, quality estimators, tables, counts), and the pipeline that evaluates a batch
of architectures. It sits above every plugin and below the ledger, executors and study:
`resolve(config)` is the one way a study, a worker or a benchmark gets its evaluator."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from hwnas.config import StudyConfig
from hwnas.errors import HwnasError, SetupError, SpecError, UnknownNameError
from hwnas.metrics import Constraint, Metric, Objective, parse_constraint, parse_objective
from hwnas.sources import (
    QUALITY_METRICS,
    EvalContext,
    Measurement,
    MetricSource,
    check_requirements,
)
from hwnas.spaces import Architecture, SearchSpace, get_space, restrict_space
from hwnas.trial import FAILED, INFEASIBLE, OK, Outcome


# --- resolution -------------------------------------------------------------------------------
def resolve_metric(ctx: EvalContext, metric: Metric) -> MetricSource:
    """The source of `metric` in this context, or an `UnknownNameError` listing the valid
    metric names."""
    from hwnas.cost import get_target
    from hwnas.quality import get_quality
    from hwnas.spaces.accel import AccelSpace

    if isinstance(ctx.space, AccelSpace) and not _of_accelerator(ctx, metric):
        network = EvalContext(ctx.space.base, ctx.dataset, ctx.quality, ctx.data)
        return OnNetwork(resolve_metric(network, metric), ctx.space)
    if metric.target is not None:
        return get_target(metric.target).resolve(ctx, metric)
    if metric.base in QUALITY_METRICS:
        return get_quality(ctx.quality).source(ctx, metric)
    counters = space_counters(ctx)
    if metric.base in counters:
        return counters[metric.base]
    raise UnknownNameError("metric", metric.name, available_metrics(ctx))


def _of_accelerator(ctx: EvalContext, metric: Metric) -> bool:
    """Whether a metric of a `NAME+accel` space is the accelerator's (its counters,
    `zigzag:searched`; a fixed ZigZag accelerator, which such a space refuses as ambiguous);
    every other metric is the network's alone."""
    from hwnas.cost.accel import COUNTERS

    if metric.target is None:
        return metric.base in COUNTERS
    return metric.target.startswith("zigzag:")


class OnNetwork(MetricSource):
    """A metric of a joint (network, accelerator) architecture that only the network
    decides (accuracy, a device table, counts): the wrapped space's source, asked about
    the network alone."""

    def __init__(self, inner: MetricSource, space: SearchSpace) -> None:
        self.inner = inner
        self.space = space
        self.metric = inner.metric
        self.cheap = inner.cheap
        self.device = inner.device
        self.requires = inner.requires

    def check(self) -> None:
        self.inner.check()

    def prepare(self) -> None:
        self.inner.prepare()

    def evaluate(self, archs: Sequence[Architecture]) -> list[Measurement]:
        return self.inner.evaluate([self.space.base_arch(a) for a in archs])  # type: ignore[attr-defined]


def space_counters(ctx: EvalContext) -> dict[str, MetricSource]:
    """Device-free cost metrics of a space: its table's (e.g. NB201 flops, params) first,
    then those counted on the built network (macs, params, peak_memory_kb, flash_kb)."""
    from hwnas.cost.accel import accelerator_counters
    from hwnas.cost.targets import analytic_counters
    from hwnas.spaces.accel import AccelSpace
    from hwnas.tabular import TABLES

    if isinstance(ctx.space, AccelSpace):  # the network's, then the accelerator's
        network = EvalContext(ctx.space.base, ctx.dataset, ctx.quality, ctx.data)
        found = {n: OnNetwork(s, ctx.space) for n, s in space_counters(network).items()}
        return {**found, **accelerator_counters(ctx)}
    counters: dict[str, MetricSource] = {}
    if ctx.space.name in TABLES:
        counters.update(TABLES.get(ctx.space.name).counters(ctx))
    for name, source in analytic_counters(ctx).items():
        counters.setdefault(name, source)
    return counters


def quality_metrics(ctx: EvalContext) -> list[str]:
    """The quality metrics the context's estimator serves (a space without an accuracy
    table serves none under `tabular`); an unknown estimator name is an error."""
    from hwnas.quality import get_quality

    quality = get_quality(ctx.quality)
    served = []
    for base in QUALITY_METRICS:
        try:
            quality.source(ctx, Metric(base))
        except HwnasError:
            continue
        served.append(base)
    return served


def available_metrics(ctx: EvalContext) -> list[str]:
    from hwnas.cost import TARGETS
    from hwnas.cost.accel import COUNTERS, SEARCHED
    from hwnas.spaces.accel import AccelSpace

    if isinstance(ctx.space, AccelSpace):  # the network's metrics and the accelerator's
        network = EvalContext(ctx.space.base, ctx.dataset, ctx.quality, ctx.data)
        searched = [f"{base}@zigzag:{SEARCHED}" for base in ("latency", "energy")]
        return [*available_metrics(network), *sorted(COUNTERS), *searched]

    names = quality_metrics(ctx) + sorted(space_counters(ctx))
    for tname, target in TARGETS.items():
        if target.serves(ctx):
            names += [f"{base}@{tname}" for base in target.metrics]
    return names


@dataclass(frozen=True)
class Resolved:
    """A configuration resolved against the installed plugins: its space, parsed
    objectives and constraints, a source per metric, and the evaluation pipeline."""

    config: StudyConfig
    space: SearchSpace
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    context: EvalContext
    sources: dict[str, MetricSource]
    evaluator: Evaluator

    @property
    def metrics(self) -> list[Metric]:
        """Objectives' metrics then constraints', each once."""
        return _metrics(self.objectives, self.constraints)

    def plugins(self) -> list[object]:
        """The registered objects this configuration uses (space, sources, targets, quality
        estimator): a worker imports the modules that define them."""
        from hwnas.cost import get_target
        from hwnas.quality import get_quality

        plugins: list[object] = [self.space, *self.sources.values()]
        plugins += [get_target(m.target) for m in self.metrics if m.target is not None]
        if any(m.target is None and m.base in QUALITY_METRICS for m in self.metrics):
            plugins.append(get_quality(self.config.quality))
        return plugins


def resolve(config: StudyConfig, check: bool = True) -> Resolved:
    """Resolve `config` (canonicalising its objective and constraint spellings in place, so
    a resumed run compares equal however it was typed). `check` also refuses metrics that
    cannot be evaluated here (a missing dependency or file); reading a run skips it."""
    if config.budget < 1:
        raise SpecError(f"budget must be a positive number of evaluations, got {config.budget}")
    space = get_space(config.space)
    config.space = space.name  # one spelling of a quantised space's policy
    space = restrict_space(space, config.restrict)
    space.check_dataset(config.dataset)
    if not config.objectives:
        raise SpecError("at least one objective is needed (e.g. accuracy:max)")
    objectives = tuple(parse_objective(o) for o in config.objectives)
    constraints = tuple(parse_constraint(c) for c in config.constraints)
    names = [o.metric.name for o in objectives]
    if len(set(names)) != len(names):
        raise SpecError(f"an objective is given twice: {', '.join(names)}")
    config.objectives = [o.spec for o in objectives]
    config.constraints = [c.spec for c in constraints]
    if config.data is not None:
        from hwnas.datasets import DATASETS

        DATASETS.get(config.data.partition(":")[0].strip())  # unknown name -> clear error
    context = EvalContext(space, config.dataset, config.quality, config.data)
    sources = {m.name: resolve_metric(context, m) for m in _metrics(objectives, constraints)}
    if check:
        check_requirements(sources)
    evaluator = Evaluator(sources, constraints)
    return Resolved(config, space, objectives, constraints, context, sources, evaluator)


def _metrics(objectives: Sequence[Objective], constraints: Sequence[Constraint]) -> list[Metric]:
    out: list[Metric] = []
    for m in [o.metric for o in objectives] + [c.metric for c in constraints]:
        if m not in out:
            out.append(m)
    return out


# --- the pipeline -----------------------------------------------------------------------------
#: the parts of an evaluation: device-free metrics, then the metrics measured on devices
FREE, ON_DEVICE, WHOLE = "free", "device", "whole"


#: a step of the pipeline: compute these metrics, or check the cheap constraints, or check
#: every constraint (a metric never computed counting as violated)
RUN, CHECK_CHEAP, CHECK_ALL = "run", "check-cheap", "check-all"
Step = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class Evaluator:
    """The evaluation pipeline of a study. Its stages, in order: cheap device-free metrics,
    the cheap constraints, expensive device-free metrics (tables, training, proxies), then
    the same for the metrics measured on devices, and last every constraint; a candidate
    that fails or is infeasible skips the stages after. Pools run the device-free part and
    the device part as separate tasks, so only the second holds a device (training spreads
    over all workers while measurements queue per device); in-process, one call runs it
    all. Cheap stages run batch-wise (tables answer a whole batch in one lookup, and one
    by one only when a batch fails); from the first expensive stage on, candidates run one
    at a time and each is yielded the moment it is complete, so a study commits it at once
    and a kill loses at most the evaluation in progress."""

    sources: dict[str, MetricSource]
    constraints: tuple[Constraint, ...] = ()

    def prepare(self) -> None:
        for source in self.sources.values():
            source.prepare()

    @property
    def devices(self) -> tuple[str, ...]:
        """The devices an evaluation occupies, sorted."""
        return tuple(sorted({s.device for s in self.sources.values() if s.device is not None}))

    def _names(self, part: str) -> list[str]:
        return [n for n, s in self.sources.items() if (s.device is None) == (part == FREE)]

    def _steps(self, part: str) -> list[Step]:
        steps: list[Step] = []
        for p in [FREE, ON_DEVICE] if part == WHOLE else [part]:
            names = self._names(p)
            steps.append((RUN, tuple(n for n in names if self.sources[n].cheap)))
            steps.append((CHECK_CHEAP, ()))
            steps.append((RUN, tuple(n for n in names if not self.sources[n].cheap)))
        if part != FREE or not self._names(ON_DEVICE):
            steps.append((CHECK_ALL, ()))
        return [s for s in steps if s != (RUN, ())]

    def evaluate(
        self,
        archs: Sequence[Architecture],
        part: str = WHOLE,
        prior: dict[str, Outcome] | None = None,
    ) -> Iterator[tuple[Architecture, Outcome]]:
        """Run the `part` (FREE, ON_DEVICE or WHOLE) for each architecture, yielding each
        as soon as it is complete; ON_DEVICE continues the `prior` outcome of the FREE
        part."""
        prior = prior or {}
        batch = _Batch(self, archs, prior)
        steps = self._steps(part)
        split = next(
            (i for i, (kind, names) in enumerate(steps)
             if kind == RUN and not all(self.sources[n].cheap for n in names)),
            len(steps),
        )  # fmt: skip
        batch.run(steps[:split], list(archs))
        pending = [a for a in archs if split < len(steps) and batch.live(a)]
        waiting = {a.key for a in pending}
        for arch in archs:
            if arch.key not in waiting:
                yield arch, batch.outcome(arch)
        done = set(batch.done)
        for arch in pending:
            batch.done = set(done)
            batch.run(steps[split:], [arch])
            yield arch, batch.outcome(arch)


class _Batch:
    """The values, provenance, errors and infeasibility of a batch under evaluation."""

    def __init__(
        self, evaluator: Evaluator, archs: Sequence[Architecture], prior: dict[str, Outcome]
    ) -> None:
        self.sources = evaluator.sources
        self.constraints = evaluator.constraints
        self.started = {
            a.key: prior[a.key].started if a.key in prior else time.time() for a in archs
        }
        self.values = {a.key: dict(prior[a.key].values) if a.key in prior else {} for a in archs}
        self.prov = {a.key: dict(prior[a.key].provenance) if a.key in prior else {} for a in archs}
        self.errors: dict[str, str] = {}
        self.stop: set[str] = set()  # failed for the configuration, not the architecture
        self.infeasible: set[str] = set()
        self.done: set[str] = {n for o in prior.values() for n in o.values}

    def live(self, arch: Architecture) -> bool:
        return arch.key not in self.errors and arch.key not in self.infeasible

    def run(self, steps: Sequence[Step], archs: list[Architecture]) -> None:
        for kind, names in steps:
            if kind == RUN:
                for name in names:
                    todo = [a for a in archs if self.live(a)]
                    source = self.sources[name]
                    for arch, result in zip(todo, _evaluate_isolated(source, todo)):
                        if isinstance(result, Measurement):
                            result = _unrecordable(source, result) or result
                        if isinstance(result, Measurement):
                            self.values[arch.key][name] = float(result.value)
                            self.prov[arch.key][name] = result.provenance
                        else:
                            self.errors[arch.key] = f"{name}: {result}"
                            if isinstance(result, _SetupFailure):
                                self.stop.add(arch.key)
                    self.done.add(name)
            else:
                if kind == CHECK_ALL:
                    self.done.update(self.sources)  # a metric never computed counts as violated
                self._check(archs, cheap_only=kind == CHECK_CHEAP)

    def _check(self, archs: list[Architecture], cheap_only: bool) -> None:
        for arch in archs:
            if arch.key in self.errors:
                continue
            for c in self.constraints:
                name = c.metric.name
                if name not in self.done or (cheap_only and not self.sources[name].cheap):
                    continue
                if not c.satisfied(self.values[arch.key].get(name, math.nan)):
                    self.infeasible.add(arch.key)

    def outcome(self, arch: Architecture) -> Outcome:
        key = arch.key
        status = FAILED if key in self.errors else INFEASIBLE if key in self.infeasible else OK
        return Outcome(
            status, self.values[key], self.prov[key], self.errors.get(key), self.started[key],
            time.time(), key in self.stop,
        )  # fmt: skip


def _unrecordable(source: MetricSource, result: Measurement) -> str | None:
    """Why a plugin's measurement cannot be recorded as a success, or None: a value that is
    not a finite number (NaN ranks nowhere, an infinite latency is a broken model), or
    provenance that is not a JSON object (the ledger would refuse it mid-run). The reason
    names the plugin, so the evaluation is recorded as failed for it."""
    plugin = type(source).__name__
    value = result.value
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return f"{plugin} returned {value!r}, not a number"
    if not math.isfinite(value):
        return f"{plugin} returned {value!r}, not a finite number"
    if not isinstance(result.provenance, dict):
        return f"{plugin} returned provenance {result.provenance!r}, not a dict"
    try:
        json.dumps(result.provenance, allow_nan=True)
    except (TypeError, ValueError, RecursionError) as exc:
        return f"{plugin} returned provenance that is not JSON ({type(exc).__name__}: {exc})"
    return None


class _SetupFailure(str):
    """The message of a failure a `SetupError` caused."""


def _evaluate_isolated(source: MetricSource, archs: list[Architecture]) -> list[Measurement | str]:
    """The batch at once; if it raises, one by one, so one bad architecture fails alone.
    A failure is returned as its message (a `_SetupFailure` when the setup caused it)."""
    if not archs:
        return []
    try:
        results = list(source.evaluate(archs))
        if len(results) != len(archs):
            raise HwnasError(f"{source.metric}: {len(results)} results for {len(archs)} archs")
        return results  # type: ignore[return-value]
    except Exception as exc:  # noqa: BLE001 - recorded as the evaluation's error
        if len(archs) == 1:
            message = f"{type(exc).__name__}: {exc}"
            return [_SetupFailure(message) if isinstance(exc, SetupError) else message]
        return [_evaluate_isolated(source, [a])[0] for a in archs]
