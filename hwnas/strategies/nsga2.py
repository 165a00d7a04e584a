"""NSGA-II (Deb et al., 2002) on discrete spaces: constrained non-dominated sorting,
crowding distance, binary tournaments, uniform crossover and gene mutation, with
duplicates of anything evaluated before eliminated."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.pareto import crowding_distance, non_dominated_sort
from hwnas.spaces import Architecture
from hwnas.strategies import register_strategy
from hwnas.strategies._base import Problem, Strategy, require_at_least, require_fraction
from hwnas.trial import Trial


@register_strategy("nsga2")
class NSGA2(Strategy):
    description = "NSGA-II: non-dominated sorting + crowding, constrained domination"

    def __init__(
        self,
        problem: Problem,
        seed: int = 0,
        population_size: int = 20,
        crossover_prob: float = 0.9,
        mutation_rate: float | None = None,
    ) -> None:
        super().__init__(problem, seed)
        require_at_least(2, population_size=population_size)
        require_fraction(crossover_prob=crossover_prob)
        if mutation_rate is not None:  # None: one gene in expectation (the space's default)
            require_fraction(mutation_rate=mutation_rate)
        self.population_size = population_size
        self.crossover_prob = crossover_prob
        self.mutation_rate = mutation_rate
        self.batch_size = population_size
        self.population: list[Trial] = []
        self._rank = np.zeros(0, dtype=np.int64)
        self._crowding = np.zeros(0)

    def _propose(self, n: int) -> list[Architecture]:
        if len(self.population) < 2:
            return self.random_new(n)
        out: dict[str, Architecture] = {}
        for _ in range(50 * n):
            if len(out) == n:
                break
            a, b = self._tournament(), self._tournament()
            if self.rng.random() < self.crossover_prob:
                child = self.space.crossover(a.arch, b.arch, self.rng)
            else:
                child = a.arch
            child = self.space.mutate(child, self.rng, self.mutation_rate)
            if self.is_new(child):
                out.setdefault(child.key, child)
        return self.topped_up(out, n)

    def _tournament(self) -> Trial:
        i, j = self.rng.integers(len(self.population), size=2)
        if self._rank[i] != self._rank[j]:
            return self.population[i if self._rank[i] < self._rank[j] else j]
        return self.population[i if self._crowding[i] >= self._crowding[j] else j]

    def tell(self, trials: Sequence[Trial]) -> None:
        super().tell(trials)
        self.population, self._rank, self._crowding = survival(
            self.problem, self.population + list(trials), self.population_size
        )


def survival(
    problem: Problem, pool: list[Trial], size: int
) -> tuple[list[Trial], np.ndarray, np.ndarray]:
    """NSGA-II environmental selection: whole fronts, the last one cut by crowding.
    Returns the survivors with their ranks and crowding distances."""
    if not pool:
        return [], np.zeros(0, dtype=np.int64), np.zeros(0)
    F, v = problem.matrices(pool)
    ranks = non_dominated_sort(F, v)
    crowd = np.zeros(len(pool))
    for r in np.unique(ranks):
        idx = np.flatnonzero(ranks == r)
        if np.all(v[idx] == 0):
            crowd[idx] = crowding_distance(F[idx])
    order = np.lexsort((-crowd, ranks))[:size]
    return [pool[i] for i in order], ranks[order], crowd[order]
