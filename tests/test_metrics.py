from __future__ import annotations

import math

import pytest

from hwnas.errors import SpecError
from hwnas.metrics import Metric, parse_constraint, parse_metric, parse_objective


@pytest.mark.parametrize(
    ("text", "base", "target"),
    [
        ("accuracy", "accuracy", None),
        ("latency@pixel3", "latency", "pixel3"),
        (" latency@profiles/pi4.json ", "latency", "profiles/pi4.json"),
        ("latency@roofline:rpi4", "latency", "roofline:rpi4"),
        ("peak_memory_kb", "peak_memory_kb", None),
    ],
)
def test_parse_metric(text: str, base: str, target: str | None) -> None:
    m = parse_metric(text)
    assert (m.base, m.target) == (base, target)
    assert parse_metric(m.name) == m


@pytest.mark.parametrize("text", ["", "lat ency", "@pixel3", "latency@", "9acc", "acc-uracy"])
def test_malformed_metric(text: str) -> None:
    with pytest.raises(SpecError):
        parse_metric(text)


def test_parse_objective_keeps_colons_in_target() -> None:
    o = parse_objective("latency@roofline:rpi4:min")
    assert o.metric == Metric("latency", "roofline:rpi4")
    assert o.direction == "min"
    assert o.spec == "latency@roofline:rpi4:min"
    assert parse_objective("accuracy:max").to_min(90.0) == -90.0


@pytest.mark.parametrize("text", ["accuracy", "accuracy:up", "accuracy:", ":max", "latency@:min"])
def test_malformed_objective_says_what_is_expected(text: str) -> None:
    with pytest.raises(SpecError, match="min|max|metric|name|target"):
        parse_objective(text)


def test_parse_constraint_and_violation() -> None:
    c = parse_constraint("latency@pixel3<=5")
    assert (c.metric.name, c.op, c.bound) == ("latency@pixel3", "<=", 5.0)
    assert c.satisfied(5.0) and not c.satisfied(5.1)
    assert c.violation(7.0) == pytest.approx(2.0)
    assert c.violation(math.nan) == math.inf
    ge = parse_constraint("accuracy >= 90.5")
    assert ge.satisfied(91) and ge.violation(90) == pytest.approx(0.5)
    strict = parse_constraint("params<1")
    assert not strict.satisfied(1.0) and strict.violation(1.0) > 0
    assert parse_constraint(c.spec) == c


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latency@pixel3", "expected METRIC<=BOUND"),
        ("latency@pixel3<=fast", "not a number"),
        ("latency@pixel3<=inf", "finite"),
        ("<=5", "expected METRIC<=BOUND"),
        ("lat ency<=5", "letters, digits"),
    ],
)
def test_malformed_constraint(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_constraint(text)


@pytest.mark.parametrize("bound", ["٥", "５", "1_000", "0x10", "５e2"])
def test_constraint_bounds_are_ascii_numbers(bound: str) -> None:
    # float() reads Arabic-Indic and full-width digits and underscores: '<=٥' was 5
    with pytest.raises(SpecError, match="ASCII digits"):
        parse_constraint(f"latency@pixel3<={bound}")
