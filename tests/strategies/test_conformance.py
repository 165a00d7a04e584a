"""Every registered strategy passes this suite: it proposes distinct architectures it never
proposed before, is repeatable for a seed, survives failed and infeasible results, and
exhausts a small space without repeating itself."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pytest

import hwnas
from hwnas.metrics import parse_constraint, parse_objective
from hwnas.spaces import Dimension, SearchSpace
from hwnas.strategies import Problem, make_strategy
from hwnas.trial import FAILED, INFEASIBLE, OK, Trial

STRATEGIES = hwnas.list_strategies()


class TinySpace(SearchSpace):
    """3 x 3 x 2 = 18 architectures: small enough to exhaust."""

    name = "tiny"
    datasets: ClassVar[tuple[str, ...]] = ("synthetic",)

    def __init__(self) -> None:
        self.dimensions = (
            Dimension("a", (0, 1, 2)),
            Dimension("b", (0, 1, 2)),
            Dimension("c", (0, 1)),
        )

    def key(self, genes: Sequence[int]) -> str:
        return "-".join(str(g) for g in genes)

    def parse(self, text: str) -> hwnas.Architecture:
        return self.make([int(p) for p in text.split("-")])


def synthetic(arch: hwnas.Architecture) -> dict[str, float]:
    a, b, c = arch.genes
    return {"accuracy": 50 + 10 * a + 5 * b - 3 * c, "latency@x": 1 + a * a + b + 2 * c}


def tiny_problem(constraints: Sequence[str] = ()) -> Problem:
    return Problem(
        space=TinySpace(),
        objectives=(parse_objective("accuracy:max"), parse_objective("latency@x:min")),
        constraints=tuple(parse_constraint(c) for c in constraints),
    )


def drive(strategy: hwnas.Strategy, budget: int, fail_every: int = 0) -> list[str]:
    """Ask/tell loop on the synthetic objectives; returns the asked keys in order."""
    asked: list[str] = []
    while len(asked) < budget:
        batch = strategy.ask(min(max(strategy.batch_size, 1), budget - len(asked)))
        if not batch:
            break
        trials = []
        for arch in batch:
            n = len(asked)
            asked.append(arch.key)
            if fail_every and n % fail_every == 0:
                trials.append(Trial(n, arch, FAILED, {}, "injected failure"))
            else:
                values = synthetic(arch)
                problem = strategy.problem
                feasible = all(c.satisfied(values[c.metric.name]) for c in problem.constraints)
                trials.append(Trial(n, arch, OK if feasible else INFEASIBLE, values))
        strategy.tell(trials)
    return asked


@pytest.fixture(params=STRATEGIES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_exhausts_a_small_space_without_repeats(name: str) -> None:
    strategy = make_strategy(name, tiny_problem(), seed=0)
    asked = drive(strategy, budget=100)
    assert len(asked) == 18 and len(set(asked)) == 18
    assert strategy.ask(5) == []


def test_ask_never_returns_more_than_requested(name: str) -> None:
    strategy = make_strategy(name, tiny_problem(), seed=0)
    first = strategy.ask(3)
    assert 1 <= len(first) <= 3 and len({a.key for a in first}) == len(first)


def test_same_seed_same_proposals(name: str) -> None:
    runs = [drive(make_strategy(name, tiny_problem(), seed=7), budget=12) for _ in range(2)]
    assert runs[0] == runs[1]


def test_survives_failed_and_infeasible_results(name: str) -> None:
    strategy = make_strategy(name, tiny_problem(["latency@x<=4"]), seed=1)
    asked = drive(strategy, budget=15, fail_every=3)
    assert len(asked) == 15 and len(set(asked)) == 15


def test_on_nb201_study_distinct_repeatable_and_better_than_nothing(name: str) -> None:
    def run(seed: int) -> list[str]:
        study = hwnas.Study(strategy=name, budget=60, seed=seed)
        return study.optimize().evaluations()["arch"].tolist()

    a, b = run(0), run(0)
    assert a == b and len(a) == 60 and len(set(a)) == 60
    assert run(1) != a


def test_unknown_option_is_a_clear_error(name: str) -> None:
    with pytest.raises(hwnas.SpecError, match="no option"):
        make_strategy(name, tiny_problem(), seed=0, options={"no_such_option": 1})


def test_option_values_are_checked_against_their_annotations(name: str) -> None:
    """Every option annotated with a plain type refuses a value of another kind by name,
    and accepts its own default (numpy scalars pass as numbers)."""
    import inspect
    import typing

    from hwnas.strategies import get_strategy

    cls = get_strategy(name)
    hints = typing.get_type_hints(cls.__init__)
    params = inspect.signature(cls.__init__).parameters
    for key, param in params.items():
        if key in ("self", "problem", "seed"):
            continue
        make_strategy(name, tiny_problem(), seed=0, options={key: param.default})
        if hints.get(key) in (int, float):
            with pytest.raises(hwnas.SpecError, match=f"option {key} must be"):
                make_strategy(name, tiny_problem(), seed=0, options={key: "abc"})
            as_numpy = np.int64 if hints[key] is int else np.float64
            make_strategy(name, tiny_problem(), seed=0, options={key: as_numpy(param.default)})


def test_precheck_is_respected_when_given(name: str) -> None:
    """With a cheap-constraint precheck, initial proposals avoid known-infeasible points."""
    base = tiny_problem(["latency@x<=3"])
    problem = Problem(
        base.space,
        base.objectives,
        base.constraints,
        precheck=lambda a: max(0.0, synthetic(a)["latency@x"] - 3),
    )
    strategy = make_strategy(name, problem, seed=0)
    first = strategy.ask(4)
    feasible = [a for a in first if synthetic(a)["latency@x"] <= 3]
    assert len(feasible) == len(first)


def test_objective_vector_and_violation_helpers() -> None:
    problem = tiny_problem(["latency@x<=4"])
    arch = problem.space.make([1, 1, 0])
    trial = Trial(0, arch, OK, synthetic(arch))
    assert list(problem.objective_vector(trial)) == [-65.0, 3.0]
    assert problem.violation(trial) == 0.0
    failed = Trial(1, arch, FAILED, {}, "x")
    assert np.isnan(problem.objective_vector(failed)).all()
    assert problem.violation(failed) == math.inf


def test_option_types_tolerate_stored_values_and_unresolvable_annotations(monkeypatch) -> None:
    """Values the constructors always took (a whole float for an integer, 0/1 for a flag)
    still pass, so runs that stored them resume; a plugin whose annotations cannot be
    resolved at run time is not type-checked rather than broken."""
    import typing

    make_strategy("evolution", tiny_problem(), seed=0, options={"population_size": 20.0})
    make_strategy("linas", tiny_problem(), seed=0, options={"exhaustive": 1})
    with pytest.raises(hwnas.SpecError, match="must be an integer, got 3.5"):
        make_strategy("evolution", tiny_problem(), seed=0, options={"population_size": 3.5})

    def unresolvable(*args: object, **kwargs: object) -> None:
        raise NameError("name 'OrderedDict' is not defined")

    monkeypatch.setattr(typing, "get_type_hints", unresolvable)
    make_strategy("evolution", tiny_problem(), seed=0, options={"population_size": 12})
