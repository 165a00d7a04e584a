"""The evaluation oracle every benchmarked method runs against, hwnas strategies and
external baselines alike: distinct architectures count against the budget, repeats are
free, as hwnas's ledger would answer them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.bench._tasks import TaskContext
from hwnas.spaces import Architecture


class BudgetSpent(Exception):
    """Raised by `Evaluator` inside an external optimiser's loop to stop it."""


class Evaluator:
    """Evaluation oracle for external optimisers: counts distinct architectures only (a
    repeat is answered from the cache for free, as a ledger would) and stops the run
    when the budget is spent or the optimiser keeps proposing repeats."""

    def __init__(self, ctx: TaskContext, budget: int, max_repeats: int = 20) -> None:
        self.ctx = ctx
        self.budget = budget
        self.keys: list[str] = []
        self.rows: list[np.ndarray] = []
        self._cache: dict[str, np.ndarray] = {}
        self._calls = 0
        self._max_calls = max_repeats * budget

    def __call__(self, archs: Sequence[Architecture]) -> np.ndarray:
        out = np.empty((len(archs), len(self.ctx.metrics)))
        for i, arch in enumerate(archs):
            self._calls += 1
            if arch.key not in self._cache:
                if len(self.keys) >= self.budget or self._calls > self._max_calls:
                    raise BudgetSpent
                row = self.ctx.objective_rows([arch])[0]
                self._cache[arch.key] = row
                self.keys.append(arch.key)
                self.rows.append(row)
            out[i] = self._cache[arch.key]
        return out

    @property
    def done(self) -> bool:
        return len(self.keys) >= self.budget
