"""Hardware targets: what `latency@NAME` means. Register one with `register_target`;
names that are patterns (a profile file, `roofline:SPEC`) are claimed by resolvers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hwnas.errors import UnknownNameError
from hwnas.evaluation import EvalContext, MetricSource
from hwnas.metrics import Metric
from hwnas.registry import Registry


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


TARGETS: Registry[Target] = Registry("target", ("hwnas.tabular.nb201",))
_RESOLVERS: list[tuple[str, Callable[[str], Target | None]]] = []


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


def get_target(name: str) -> Target:
    if name in TARGETS:
        return TARGETS.get(name)
    for _, resolver in _RESOLVERS:
        target = resolver(name)
        if target is not None:
            return target
    raise UnknownNameError("target", name, TARGETS.names() + [p for p, _ in _RESOLVERS])


def list_targets(pattern: str = "*") -> list[str]:
    return TARGETS.names(pattern)


__all__ = [
    "TARGETS",
    "Target",
    "get_target",
    "list_targets",
    "register_target",
    "register_target_resolver",
]
