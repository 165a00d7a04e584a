"""Every registered strategy passes `hwnas.testing.check_strategy`: distinct proposals
never asked before, repeatable for a seed, failed and infeasible results survived, a small
space exhausted without a repeat, options checked, and a tabular NB201 study."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hwnas
from hwnas.strategies import make_strategy
from hwnas.testing import check_strategy
from hwnas.testing._strategy import synthetic, tiny_problem
from hwnas.trial import FAILED, OK, Trial


@pytest.mark.parametrize("name", hwnas.list_strategies())
def test_strategy_conformance(name: str) -> None:
    check_strategy(name)


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


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("nsga2", {"mutation_rate": float("nan")}, "mutation_rate must be finite, got nan"),
        ("bayes", {"kappa": float("inf")}, "kappa must be finite, got inf"),
        ("nsga2", {"crossover_prob": -float("inf")}, "must be finite"),
        ("nsga2", {"mutation_rate": -1.0}, "mutation_rate must be in \\[0, 1\\]"),
        ("nsga2", {"mutation_rate": 1.5}, "mutation_rate must be in \\[0, 1\\]"),
        ("bayes", {"pool_size": 0}, "pool_size must be >= 1"),
    ],
)
def test_non_finite_and_out_of_range_options_are_refused(
    name: str, options: dict, message: str
) -> None:
    # NaN/inf options once ran, then crashed writing the report (and stored null)
    with pytest.raises(hwnas.SpecError, match=message):
        make_strategy(name, tiny_problem(), seed=0, options=options)
    make_strategy("nsga2", tiny_problem(), seed=0, options={"mutation_rate": 0.5})


def test_require_at_least_refuses_nan() -> None:
    from hwnas.strategies._base import require_at_least

    with pytest.raises(ValueError, match="kappa must be >= 0"):
        require_at_least(0, kappa=float("nan"))
