"""Multi-objective local search (after White et al., "Local search is state of the art
for NAS benchmarks"): evaluate the unseen one-gene neighbours of the current front,
front members taken in turn, so the front is pushed outwards wherever it is; when the
front's neighbourhood is exhausted, the next non-dominated rank, then random restarts."""

from __future__ import annotations

from hwnas.pareto import fronts
from hwnas.spaces import Architecture
from hwnas.strategies import register_strategy
from hwnas.strategies._base import Problem, Strategy, require_at_least


@register_strategy("local")
class LocalSearch(Strategy):
    description = "local search: unseen neighbours of the current front"
    restorable = True

    def __init__(
        self, problem: Problem, seed: int = 0, n_init: int = 10, batch_size: int = 10
    ) -> None:
        super().__init__(problem, seed)
        require_at_least(1, n_init=n_init, batch_size=batch_size)
        self.n_init = n_init
        self.batch_size = batch_size

    def _propose(self, n: int) -> list[Architecture]:
        if len(self.trials) < self.n_init:
            return self.random_new(n)
        out: dict[str, Architecture] = {}
        for front in fronts(*self.told_matrices()):
            members = [self.trials[i] for i in front]
            # one neighbour per member per round, members in a random order
            pools = []
            for t in members:
                nbrs = [
                    a
                    for a in self.neighbours(t.arch)
                    if self.is_new(a) and self.problem.passes_precheck(a)
                ]
                self.rng.shuffle(nbrs)  # type: ignore[arg-type]
                pools.append(nbrs)
            order = self.rng.permutation(len(pools))
            while len(out) < n and any(pools):
                for i in order:
                    while pools[i] and pools[i][-1].key in out:
                        pools[i].pop()
                    if pools[i] and len(out) < n:
                        arch = pools[i].pop()
                        out[arch.key] = arch
            if len(out) >= n:
                break
        return self.topped_up(out, n)
