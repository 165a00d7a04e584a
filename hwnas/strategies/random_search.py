"""Uniform random search: the baseline every strategy must beat."""

from __future__ import annotations

from hwnas.spaces import Architecture
from hwnas.strategies import register_strategy
from hwnas.strategies._base import Problem, Strategy, require_at_least


@register_strategy("random")
class RandomSearch(Strategy):
    description = "uniform random sampling without repeats (baseline)"
    restorable = True

    def __init__(self, problem: Problem, seed: int = 0, batch_size: int = 10) -> None:
        super().__init__(problem, seed)
        require_at_least(1, batch_size=batch_size)
        self.batch_size = batch_size

    def _propose(self, n: int) -> list[Architecture]:
        return self.random_new(n)
