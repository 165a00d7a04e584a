"""`check_source`, `check_target`, `check_quality`: the `MetricSource` contract
(hwnas/sources.py) and the plugins that resolve sources, `Target` (hwnas/cost) and quality
estimators (hwnas/quality), checked on sampled architectures of a space."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hwnas.cost import Target
from hwnas.errors import HwnasError, SpecError
from hwnas.metrics import Metric, parse_metric
from hwnas.quality import QualityEstimator, get_quality
from hwnas.sources import QUALITY_METRICS, EvalContext, Measurement, MetricSource, missing_modules
from hwnas.spaces import Architecture, SearchSpace, get_space
from hwnas.testing._common import TinySpace, expect, expect_raises

#: how a target obtains its figures (`Target.kind`)
TARGET_KINDS: tuple[str, ...] = ("table", "measured", "predicted", "analytic")


def check_source(
    source: MetricSource, archs: Sequence[Architecture], metric: str | None = None
) -> list[Measurement]:
    """Raise an `AssertionError` naming the broken rule unless `source` keeps the metric
    source contract: it declares `metric` (equal to `metric` when given), `cheap`,
    `device` and `requires`; `check()` raises an `HwnasError` exactly when it cannot work
    here (that error is re-raised: the source cannot be checked here); `evaluate(archs)`
    returns one `Measurement` per architecture, each a finite number with a non-empty,
    JSON-serialisable provenance dict (the ledger stores it); a complete `table()` agrees
    with them. Returns the measurements."""
    what = f"source {getattr(source, 'metric', type(source).__name__)!r}"
    expect(isinstance(source, MetricSource), f"{what}: {type(source).__name__} is no MetricSource")
    expect(isinstance(getattr(source, "metric", None), str), f"{what}: no `metric` name")
    if metric is not None:
        expect(source.metric == metric, f"{what}: resolved for {metric!r}, names {source.metric!r}")
    expect(isinstance(source.cheap, bool), f"{what}: `cheap` is {source.cheap!r}, not a bool")
    expect(
        source.device is None or (isinstance(source.device, str) and source.device),
        f"{what}: `device` is {source.device!r}; a device name or None (device-free)",
    )
    expect(
        isinstance(source.requires, (tuple, list))
        and all(isinstance(m, str) and m for m in source.requires),
        f"{what}: `requires` is {source.requires!r}, not a tuple of module names",
    )
    missing = missing_modules(source)
    try:
        source.check()
    except HwnasError:
        raise  # it cannot evaluate here, and says why
    except Exception as exc:
        raise AssertionError(
            f"{what}: check() raised {type(exc).__name__}: {exc}; refuse with an HwnasError"
        ) from exc
    expect(not missing, f"{what}: check() passed, yet required {missing} are not installed")
    source.prepare()
    measurements = list(source.evaluate(list(archs)))
    expect(
        len(measurements) == len(archs),
        f"{what}: evaluate() of {len(archs)} architectures returned {len(measurements)} "
        "measurements; one per architecture",
    )
    for arch, m in zip(archs, measurements):
        at = f"{what} of {arch.key}"
        expect(isinstance(m, Measurement), f"{at}: {m!r} is not a Measurement")
        expect(
            isinstance(m.value, (int, float, np.number)) and math.isfinite(float(m.value)),
            f"{at}: value {m.value!r} is not a finite number",
        )
        expect(
            isinstance(m.provenance, dict) and m.provenance,
            f"{at}: provenance {m.provenance!r} is not a non-empty dict (where the value "
            "came from: table and column, host and runtime, model)",
        )
        try:
            json.dumps(m.provenance)
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"{at}: provenance is not JSON ({exc})") from exc
    _check_table(source, archs, measurements, what)
    return measurements


def _check_table(
    source: MetricSource, archs: Sequence[Architecture], ms: list[Measurement], what: str
) -> None:
    table = source.table()
    if table is None:
        return
    keys, values = table
    expect(len(keys) == len(values), f"{what}: table() has {len(keys)} keys, {len(values)} values")
    index = dict(zip(keys, np.asarray(values, dtype=np.float64).tolist()))
    for arch, m in zip(archs, ms):
        expect(
            arch.key in index and np.isclose(index[arch.key], float(m.value)),
            f"{what}: evaluate() gave {m.value} for {arch.key}, table() "
            f"{index.get(arch.key, 'nothing')}",
        )


def check_target(
    target: Target,
    space: str | SearchSpace = "nb201",
    dataset: str | None = None,
    *,
    metrics: Sequence[str] | None = None,
    n: int = 8,
    seed: int = 0,
) -> None:
    """Raise an `AssertionError` naming the broken rule unless `target` keeps the `Target`
    contract on `space` / `dataset` (default: the space's first): it declares its name,
    kind and metrics, serves the context, resolves each of `metrics` (default: all of
    its own) to a source that passes `check_source` on `n` sampled architectures, and
    refuses an unknown metric and a context it does not serve with an `HwnasError`."""
    what = f"target {getattr(target, 'name', type(target).__name__)!r}"
    expect(isinstance(target, Target), f"{what}: {type(target).__name__} is no hwnas.Target")
    expect(
        isinstance(target.name, str) and target.name and " " not in target.name,
        f"{what}: a target's name is one word (latency@NAME)",
    )
    expect(isinstance(target.description, str), f"{what}: `description` is not text")
    expect(target.kind in TARGET_KINDS, f"{what}: kind {target.kind!r} not in {TARGET_KINDS}")
    expect(target.metrics, f"{what}: declares no metrics")
    for base in target.metrics:
        expect(
            isinstance(base, str) and parse_metric(base).target is None,
            f"{what}: metric {base!r} is not a base name such as 'latency'",
        )
    ctx = _context(space, dataset)
    expect(target.serves(ctx), f"{what}: does not serve {ctx.space.name}/{ctx.dataset}")
    archs = _archs(ctx.space, n, seed)
    for base in metrics or target.metrics:
        metric = Metric(base, target.name)
        check_source(target.resolve(ctx, metric), archs, metric.name)
    with expect_raises(HwnasError, f"{what}: resolve(.., 'no_such_metric@{target.name}')"):
        target.resolve(ctx, Metric("no_such_metric", target.name))
    foreign = EvalContext(TinySpace(), "synthetic")
    served = target.serves(foreign)
    metric = Metric(target.metrics[0], target.name)
    if served:
        _foreign(lambda: target.resolve(foreign, metric), foreign, what)
    else:
        with expect_raises(HwnasError, f"{what}: resolve() for a space it does not serve"):
            target.resolve(foreign, metric)


def check_quality(
    estimator: str | QualityEstimator,
    space: str | SearchSpace = "nb201",
    dataset: str | None = None,
    *,
    n: int = 8,
    seed: int = 0,
    data: str | None = None,
) -> None:
    """Raise an `AssertionError` naming the broken rule unless the quality estimator (a
    registered `NAME[:SPEC]` or an instance) keeps its contract on `space` / `dataset`: it
    has a name, serves `accuracy` with a source that passes `check_source` on `n` sampled
    architectures, serves `test_accuracy` the same way or refuses it with an `HwnasError`,
    on a space it knows nothing of serves valid measurements or refuses with an
    `HwnasError` (never another exception), and refuses a fidelity it does not offer with
    a `SpecError` (multi-fidelity search asks). `data` is the context's image data spec."""
    if isinstance(estimator, str):
        estimator = get_quality(estimator)
    name = getattr(estimator, "name", None)
    what = f"quality estimator {name or type(estimator).__name__!r}"
    expect(isinstance(name, str) and name, f"{what}: no `name`")
    expect(isinstance(estimator.description, str), f"{what}: `description` is not text")
    ctx = _context(space, dataset, quality=str(name), data=data)
    archs = _archs(ctx.space, n, seed)
    for base in QUALITY_METRICS:
        try:
            source = estimator.source(ctx, Metric(base))
        except HwnasError as exc:
            expect(base != "accuracy", f"{what}: refused accuracy on {ctx.space.name}: {exc}")
            continue
        check_source(source, archs, base)
    foreign = EvalContext(TinySpace(), "synthetic", quality=str(name))
    _foreign(lambda: estimator.source(foreign, Metric("accuracy")), foreign, what)
    try:
        estimator.fidelity("no-such-fidelity=1", ctx)
        refused: BaseException | None = None
    except Exception as exc:  # noqa: BLE001 - which exception is the rule checked
        refused = exc
    expect(
        isinstance(refused, SpecError),
        f"{what}: fidelity('no-such-fidelity=1') must raise a SpecError, got {refused!r}",
    )


def _context(
    space: str | SearchSpace, dataset: str | None, quality: str = "tabular", data: str | None = None
) -> EvalContext:
    space = get_space(space) if isinstance(space, str) else space
    dataset = space.check_dataset(dataset) if dataset is not None else space.datasets[0]
    return EvalContext(space, dataset, quality, data)


def _archs(space: SearchSpace, n: int, seed: int) -> list[Architecture]:
    """Up to `n` distinct sampled architectures."""
    rng = np.random.default_rng(seed)
    found = {a.key: a for a in (space.sample(rng) for _ in range(4 * n))}
    return list(found.values())[:n]


def _foreign(resolve: Callable[[], Any], ctx: EvalContext, what: str) -> None:
    """On a space no plugin knows, valid measurements or an `HwnasError`, at resolution or
    at evaluation; anything else would reach a user as a traceback."""
    try:
        check_source(resolve(), _archs(ctx.space, 3, 0))
    except HwnasError:
        return
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(
            f"{what}: on a space it does not know ({ctx.space.name}) it raised "
            f"{type(exc).__name__}: {exc}; refuse with an HwnasError"
        ) from exc
