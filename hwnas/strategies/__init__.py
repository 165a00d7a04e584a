"""Search strategies (ask/tell): `@register_strategy("name")` on a `Strategy` subclass."""

from __future__ import annotations

import math
import numbers
import types
import typing
from typing import Any

import numpy as np

from hwnas.config import DEFAULT_STRATEGY
from hwnas.registry import Registry
from hwnas.strategies._base import Problem, Strategy

STRATEGIES: Registry[type[Strategy]] = Registry(
    "strategy",
    (
        "hwnas.strategies.random_search",
        "hwnas.strategies.nsga2",
        "hwnas.strategies.evolution",
        "hwnas.strategies.local_search",
        "hwnas.strategies.linas",
        "hwnas.strategies.bayes",
        "hwnas.strategies.given",
        "hwnas.strategies.reinforce",
    ),
)

register_strategy = STRATEGIES.register_class
get_strategy = STRATEGIES.get
list_strategies = STRATEGIES.names


def make_strategy(
    name: str, problem: Problem, seed: int, options: dict[str, Any] | None = None
) -> Strategy:
    """Instantiate a strategy; unknown options raise a `SpecError` naming the valid ones."""
    import inspect

    from hwnas.errors import SpecError

    cls = get_strategy(name)
    options = dict(options or {})
    params = inspect.signature(cls.__init__).parameters
    valid = [p for p in params if p not in ("self", "problem", "seed")]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise SpecError(
            f"strategy {name!r} has no option(s) {', '.join(unknown)}; valid: {', '.join(valid) or '(none)'}"
        )
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - annotations a plugin cannot resolve at run time
        hints = {}
    for key, value in options.items():
        expected = _expected_types(hints.get(key))
        if expected and not _is_instance(value, expected):
            kinds = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in expected)
            raise SpecError(f"strategy {name!r}: option {key} must be {kinds}, got {value!r}")
        if _is_float(value) and not math.isfinite(value):  # NaN/inf: no strategy means it
            raise SpecError(f"strategy {name!r}: option {key} must be finite, got {value!r}")
    try:
        return cls(problem, seed=seed, **options)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"strategy {name!r}: {exc}") from None


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
               type(None): "null"}  # fmt: skip


def _expected_types(hint: Any) -> tuple[type, ...]:
    """The plain types an option annotation admits; () when it is anything richer (then
    the strategy's own validation speaks)."""
    if hint is None:
        return ()
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return tuple(args) if all(a in _TYPE_NAMES for a in args) else ()


def _is_float(value: Any) -> bool:
    """A number that can be NaN or infinite (integers and flags never are)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (numbers.Integral, np.bool_))


def _is_instance(value: Any, expected: tuple[type, ...]) -> bool:
    """Numbers by kind, so numpy scalars pass from the Python API; a whole float passes
    as an integer and 0 or 1 as a flag, as the constructors always took them (runs that
    stored such values must still resume)."""
    if isinstance(value, (bool, np.bool_)):  # JSON true/false: not an integer here
        return bool in expected
    if isinstance(value, numbers.Integral):
        return bool(int in expected or float in expected or (bool in expected and value in (0, 1)))
    if isinstance(value, numbers.Real):
        return float in expected or (int in expected and float(value).is_integer())
    return isinstance(value, expected)


__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "Problem",
    "Strategy",
    "get_strategy",
    "list_strategies",
    "make_strategy",
    "register_strategy",
]
