"""Hardware targets: what `latency@NAME` means. Register one with `register_target`;
names that are patterns (a profile file, `roofline:SPEC`) are claimed by resolvers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hwnas.errors import UnknownNameError
from hwnas.metrics import Metric
from hwnas.registry import Registry
from hwnas.sources import EvalContext, MetricSource


@dataclass
class Target:
    """A device and how its costs are obtained. `kind`: table | measured | predicted |
    analytic. Subclasses implement `source`."""

    name: str
    description: str
    source_ref: str
    kind: str = "table"
    metrics: tuple[str, ...] = ("latency",)

    def supports(self, ctx: EvalContext) -> bool:
        return True

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        raise NotImplementedError

    def serves(self, ctx: EvalContext) -> bool:
        """Whether the target has figures for this context, its own or another space's."""
        # a space not (yet) registered has no name: only the target's own answer applies
        space_name = getattr(ctx.space, "name", None)
        return (self.name, space_name) in _SPACE_SOURCES or self.supports(ctx)

    def resolve(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        """The source for this context: a space-specific one where a table registered it
        (e.g. HW-NAS-Bench's FBNet latencies under the NB201 device names), else `source`."""
        factory = _SPACE_SOURCES.get((self.name, ctx.space.name))
        return factory(ctx, metric) if factory is not None else self.source(ctx, metric)


TARGETS: Registry[Target] = Registry(
    "target",
    (
        "hwnas.tabular.nb201",
        "hwnas.tabular.fbnet",
        "hwnas.tabular.hat",
        "hwnas.cost.targets",
        "hwnas.cost.bitfusion",
        "hwnas.cost.predictor_file",
        "hwnas.cost.remote",
        "hwnas.cost.accel",
        "hwnas.cost.zigzag",
    ),
)
_RESOLVERS: list[tuple[str, Callable[[str], Target | None]]] = []
#: (target name, space name) -> source factory, for a device published for several spaces
_SPACE_SOURCES: dict[tuple[str, str], Callable[[EvalContext, Metric], MetricSource]] = {}


def register_target(target: Target) -> Target:
    TARGETS.add(target.name, target)
    return target


def register_target_resolver(
    pattern: str,
) -> Callable[[Callable[[str], Target | None]], Callable[[str], Target | None]]:
    """Decorator for a function that claims target names of a form (e.g. `*.json`)."""

    def decorator(fn: Callable[[str], Target | None]) -> Callable[[str], Target | None]:
        _RESOLVERS.append((pattern, fn))
        return fn

    return decorator


def register_space_source(
    target: str, space: str
) -> Callable[
    [Callable[[EvalContext, Metric], MetricSource]], Callable[[EvalContext, Metric], MetricSource]
]:
    """Decorator for a factory of `target`'s metric source on `space`, for a table that
    adds a space to a device already registered (by name) for another space."""

    def decorator(
        fn: Callable[[EvalContext, Metric], MetricSource],
    ) -> Callable[[EvalContext, Metric], MetricSource]:
        _SPACE_SOURCES[(target, space)] = fn
        return fn

    return decorator


def get_target(name: str) -> Target:
    if name in TARGETS:
        return TARGETS.get(name)
    for _, resolver in _RESOLVERS:
        target = resolver(name)
        if target is not None:
            return target
    raise UnknownNameError("target", name, TARGETS.names() + [p for p, _ in _RESOLVERS])


list_targets = TARGETS.names


__all__ = [
    "TARGETS",
    "Target",
    "get_target",
    "list_targets",
    "register_space_source",
    "register_target",
    "register_target_resolver",
]
