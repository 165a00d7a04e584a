"""Regularised (aging) evolution (Real et al., 2019), multi-objective: tournaments pick
the parent by non-dominated rank, then crowding, within a random sample of the
population; the child is a mutation of it; the oldest member dies."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from hwnas.pareto import crowding_distance, non_dominated_sort
from hwnas.spaces import Architecture
from hwnas.strategies import register_strategy
from hwnas.strategies._base import Problem, Strategy, require_at_least
from hwnas.trial import Trial


@register_strategy("evolution")
class RegularizedEvolution(Strategy):
    description = "regularised (aging) evolution, tournaments by non-dominated rank"

    def __init__(
        self,
        problem: Problem,
        seed: int = 0,
        population_size: int = 50,
        sample_size: int = 10,
        batch_size: int = 10,
    ) -> None:
        super().__init__(problem, seed)
        require_at_least(2, population_size=population_size)
        if not 1 <= sample_size <= population_size:
            raise ValueError("sample_size must be in 1..population_size")
        require_at_least(1, batch_size=batch_size)
        self.population_size = population_size
        self.sample_size = sample_size
        self.batch_size = batch_size
        self.population: deque[Trial] = deque()

    def _propose(self, n: int) -> list[Architecture]:
        if len(self.population) < self.population_size:
            return self.random_new(n)
        members = list(self.population)
        F, v = self.problem.matrices(members)
        out: dict[str, Architecture] = {}
        for _ in range(50 * n):
            if len(out) == n:
                break
            idx = self.rng.choice(len(members), size=self.sample_size, replace=False)
            parent = members[_tournament_winner(F[idx], v[idx], idx)]
            child = self.space.mutate(parent.arch, self.rng)
            if self.is_new(child):
                out.setdefault(child.key, child)
        return self.topped_up(out, n)

    def tell(self, trials: Sequence[Trial]) -> None:
        super().tell(trials)
        for t in trials:
            self.population.append(t)
            if len(self.population) > self.population_size:
                self.population.popleft()


def _tournament_winner(F: np.ndarray, v: np.ndarray, idx: np.ndarray) -> int:
    """Index (into the population) of the sample's best: lowest rank, then most crowded
    out (largest crowding distance) within that rank."""
    ranks = non_dominated_sort(F, v)
    best = np.flatnonzero(ranks == ranks.min())
    if len(best) > 1 and np.all(np.isfinite(F[best])):
        crowd = crowding_distance(F[best])
        best = best[crowd == crowd.max()]
    return int(idx[best[0]])
