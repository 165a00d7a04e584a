"""The space-filling initial design of the surrogate strategies (`design="maximin"`, the
default of `linas`): greedy maximin picks that are deterministic per seed, spread further
than random draws, and work on every built-in space, quantisation-wrapped ones included."""

from __future__ import annotations

import numpy as np
import pytest

import hwnas
from hwnas.metrics import parse_objective
from hwnas.spaces import get_space
from hwnas.strategies import Problem, make_strategy
from hwnas.strategies._surrogate import maximin

SPACES = [*hwnas.list_spaces(), "nb201+quant", "mbv3+quant"]


def _problem(space: str) -> Problem:
    objectives = (parse_objective("accuracy:max"), parse_objective("latency@x:min"))
    return Problem(get_space(space), objectives)


def _design(space: str, seed: int, design: str) -> np.ndarray:
    """The genes of linas' first 10 proposals (the initial design)."""
    options = {"design": design, "exhaustive": False}
    strategy = make_strategy("linas", _problem(space), seed=seed, options=options)
    return np.array([a.genes for a in strategy.ask(10)])


def _nearest_hamming(genes: np.ndarray) -> float:
    """Mean over the points of the Hamming distance to the nearest other point."""
    d = (genes[:, None, :] != genes[None, :, :]).sum(axis=2).astype(float)
    np.fill_diagonal(d, np.inf)
    return float(d.min(axis=1).mean())


def test_maximin_picks_the_farthest_rows_and_breaks_ties_by_order() -> None:
    pool = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert maximin(pool, np.zeros((0, 2)), 3) == [0, 2, 3]
    assert maximin(pool, np.array([[1.0, 1.0]]), 1) == [0]
    assert maximin(pool, np.zeros((0, 2)), 9) == [0, 2, 3, 4, 1]
    assert maximin(pool, np.zeros((0, 2)), 0) == []


@pytest.mark.parametrize("space", SPACES)
def test_design_is_deterministic_distinct_and_valid_on_every_space(space: str) -> None:
    first, again = _design(space, 3, "maximin"), _design(space, 3, "maximin")
    np.testing.assert_array_equal(first, again)
    assert len({tuple(g) for g in first}) == len(first) == 10
    assert not np.array_equal(first, _design(space, 4, "maximin"))
    cards = np.array(get_space(space).cardinalities)
    assert np.all((first >= 0) & (first < cards))


@pytest.mark.parametrize("space", ["nb201", "mbv3", "fbnet", "hat", "nb201+quant"])
def test_design_spreads_further_than_random_draws(space: str) -> None:
    seeds = range(5)
    spread = np.mean([_nearest_hamming(_design(space, s, "maximin")) for s in seeds])
    random = np.mean([_nearest_hamming(_design(space, s, "random")) for s in seeds])
    assert spread > random


def test_design_respects_the_precheck_and_counts_the_told_points() -> None:
    space = get_space("nb201")
    objectives = _problem("nb201").objectives
    problem = Problem(space, objectives, precheck=lambda a: float(a.genes.count(3) > 1))
    strategy = make_strategy("linas", problem, seed=0, options={"n_init": 30})
    first = strategy.ask(10)
    assert all(a.genes.count(3) <= 1 for a in first)
    from hwnas.trial import OK, Trial

    strategy.tell(
        [Trial(i, a, OK, {"accuracy": 50.0, "latency@x": 1.0}) for i, a in enumerate(first)]
    )
    second = strategy.ask(10)
    told = np.array([a.genes for a in first])
    nearest = [(told != np.array(a.genes)).sum(axis=1).min() for a in second]
    assert min(nearest) >= 2  # every new point differs from every told one in 2+ genes
