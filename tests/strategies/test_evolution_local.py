"""Specifics of `evolution` (aging population, rank-based tournaments) and `local`
(proposals are neighbours of the current front)."""

from __future__ import annotations

import numpy as np

from hwnas.bench import context, parse_task
from hwnas.strategies import make_strategy
from hwnas.strategies.evolution import _tournament_winner


def test_tournament_prefers_rank_then_crowding() -> None:
    F = np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [5.0, 1.0]])
    v = np.zeros(4)
    idx = np.array([10, 11, 12, 13])
    assert _tournament_winner(F, v, idx) in (10, 13)  # front extremes: infinite crowding
    v_bad = np.array([1.0, 0.0, 0.0, 1.0])  # infeasible rows lose to feasible ones
    assert _tournament_winner(F, v_bad, idx) == 11


def test_evolution_population_ages_out_the_oldest() -> None:
    ctx = context(parse_task("cifar10:fpga"))
    strategy = make_strategy("evolution", ctx.problem, seed=0, options={"population_size": 20})
    told = 0
    for _ in range(4):
        batch = strategy.ask(10)
        strategy.tell(ctx.trials(batch, told))
        told += len(batch)
    assert len(strategy.population) == 20
    assert [t.number for t in strategy.population] == list(range(20, 40))


def test_local_proposes_neighbours_of_the_front() -> None:
    ctx = context(parse_task("cifar10:raspi4"))
    strategy = make_strategy("local", ctx.problem, seed=0, options={"n_init": 10})
    first = strategy.ask(10)
    strategy.tell(ctx.trials(first, 0))
    front = strategy.front_trials()
    near = {a.key for t in front for a in ctx.space.neighbours(t.arch)}
    second = strategy.ask(10)
    assert second and all(a.key in near for a in second)
