"""Deriving an architecture from the learned distribution: the budgeted derivation is the
exact most probable architecture within the budget (checked against brute force)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hwnas.dnas._derive import argmax, most_probable_within


def brute_force(
    probs: np.ndarray, base: float, delta: np.ndarray, budget: float
) -> tuple[int, ...] | None:
    best, pick = -np.inf, None
    for genes in itertools.product(*(range(delta.shape[1]) for _ in range(len(delta)))):
        cost = base + sum(delta[i, g] for i, g in enumerate(genes))
        score = sum(np.log(probs[i, g]) for i, g in enumerate(genes))
        if cost <= budget and score > best:
            best, pick = score, genes
    return pick


@pytest.mark.parametrize("seed", range(8))
def test_budget_derivation_is_the_most_probable_within_budget(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4), size=5)
    delta = rng.uniform(0, 3, size=(5, 4))
    delta[:, 0] = 0
    base = 1.0
    budget = base + float(rng.uniform(1, 8))
    got = most_probable_within(probs, base, delta, budget, bins=20000)
    want = brute_force(probs, base, delta, budget)
    assert got is not None and want is not None
    assert base + sum(delta[i, g] for i, g in enumerate(got)) <= budget
    score = lambda genes: sum(np.log(probs[i, g]) for i, g in enumerate(genes))
    assert score(got) == pytest.approx(score(want), abs=1e-9)


def test_budget_below_the_cheapest_has_no_architecture() -> None:
    delta = np.array([[0.0, 1.0], [0.5, 2.0]])
    assert most_probable_within(np.full((2, 2), 0.5), 1.0, delta, budget=1.2) is None
    assert most_probable_within(np.full((2, 2), 0.5), 1.0, delta, budget=1.5) == (0, 0)


def test_argmax_takes_each_layers_most_probable_choice() -> None:
    assert argmax(np.array([[0.1, 0.9], [0.6, 0.4]])) == (1, 0)
