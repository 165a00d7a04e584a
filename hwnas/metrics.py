"""Metric names are data: `accuracy`, `latency@pixel3`, `latency@profiles/pi4.json`.
One parser for objectives (`NAME:min|max`) and constraints (`NAME<=BOUND`), used by the
CLI, the Python API and the ledger."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from hwnas.errors import SpecError

Direction = Literal["min", "max"]
_BASE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CONSTRAINT_RE = re.compile(r"^(?P<metric>[^<>=]+?)\s*(?P<op>[<>=!]+)\s*(?P<bound>[^<>=]+)$")
_OPS = ("<=", ">=", "<", ">")


@dataclass(frozen=True)
class Metric:
    """`base@target`, or a plain `base` for metrics that need no device."""

    base: str
    target: str | None = None

    @property
    def name(self) -> str:
        return f"{self.base}@{self.target}" if self.target else self.base

    def __str__(self) -> str:
        return self.name


def parse_metric(text: str) -> Metric:
    text = str(text).strip()
    if not text:
        raise SpecError("empty metric name")
    base, sep, target = text.partition("@")
    base = base.strip()
    if not _BASE_RE.match(base):
        raise SpecError(
            f"metric {text!r}: name {base!r} must be letters, digits and '_' "
            "(e.g. accuracy, latency@pixel3)"
        )
    if sep:
        target = target.strip()
        if not target:
            raise SpecError(f"metric {text!r}: nothing after '@' (expected a target, e.g. pixel3)")
        bad = sorted(set(target) & set("<>=!\"'") | ({" "} if " " in target else set()))
        if bad:
            raise SpecError(f"metric {text!r}: target {target!r} contains {' '.join(bad)!r}")
        return Metric(base, target)
    return Metric(base)


@dataclass(frozen=True)
class Objective:
    metric: Metric
    direction: Direction

    @property
    def spec(self) -> str:
        return f"{self.metric.name}:{self.direction}"

    @property
    def sign(self) -> float:
        """-1 for a maximised objective, 1 for a minimised one: value * sign is minimised."""
        return -1.0 if self.direction == "max" else 1.0

    def to_min(self, value: float) -> float:
        """The value as a quantity to minimise."""
        return -value if self.direction == "max" else value


def parse_objective(text: str) -> Objective:
    """`accuracy:max`, `latency@pixel3:min`, `latency@roofline:rpi4:min`."""
    text = str(text).strip()
    name, sep, direction = text.rpartition(":")
    if not sep or direction.strip() not in ("min", "max"):
        raise SpecError(
            f"objective {text!r}: expected METRIC:min or METRIC:max "
            "(e.g. accuracy:max, latency@pixel3:min)"
        )
    return Objective(parse_metric(name), direction.strip())  # type: ignore[arg-type]


@dataclass(frozen=True)
class Constraint:
    metric: Metric
    op: Literal["<=", ">=", "<", ">"]
    bound: float

    @property
    def spec(self) -> str:
        """Canonical spelling; the bound is written exactly (`:g` alone would store
        `<=1000001` as `<=1e+06` in the run's configuration)."""
        short = f"{self.bound:g}"
        bound = short if float(short) == self.bound else repr(self.bound)
        return f"{self.metric.name}{self.op}{bound}"

    def violation(self, value: float) -> float:
        """0 when satisfied, else how far the value is on the wrong side (NaN counts as
        infinitely violated)."""
        if value is None or math.isnan(value):
            return math.inf
        if self.op in ("<=", "<"):
            ok = value <= self.bound if self.op == "<=" else value < self.bound
            return 0.0 if ok else max(value - self.bound, 1e-12)
        ok = value >= self.bound if self.op == ">=" else value > self.bound
        return 0.0 if ok else max(self.bound - value, 1e-12)

    def satisfied(self, value: float) -> bool:
        return self.violation(value) == 0.0


def parse_constraint(text: str) -> Constraint:
    """`latency@pixel3<=5`, `params<1.0`, `accuracy>=90`."""
    text = str(text).strip()
    m = _CONSTRAINT_RE.match(text)
    if not m:
        raise SpecError(
            f"constraint {text!r}: expected METRIC<=BOUND, METRIC>=BOUND, METRIC<BOUND or "
            "METRIC>BOUND (e.g. latency@pixel3<=5)"
        )
    if m.group("op") not in _OPS:
        raise SpecError(
            f"constraint {text!r}: unknown comparison {m.group('op')!r}; use <=, >=, < or >"
        )
    bound_text = m.group("bound").strip()
    # float() also reads other scripts' digits ('٥' is 5) and underscores: ASCII only
    if not _NUMBER_RE.fullmatch(bound_text):
        raise SpecError(
            f"constraint {text!r}: bound {bound_text!r} is not a number; give a finite "
            "number in ASCII digits (e.g. 5, 0.25 or 1e6)"
        )
    bound = float(bound_text)
    if not math.isfinite(bound):
        raise SpecError(f"constraint {text!r}: bound must be finite")
    return Constraint(parse_metric(m.group("metric")), m.group("op"), bound)  # type: ignore[arg-type]
