"""LINAS (DyNAS-T's Lightweight Iterative NAS): a surrogate per objective fitted on the
evaluations so far, an inner NSGA-II run on the surrogates alone, and the most promising
batch of its final population (by predicted rank and crowding) validated for real. On a
space small enough to enumerate, the inner search is replaced by scoring every unseen
candidate, which finds the exact predicted front at no extra cost. A share `local_share` of
each batch is the best predicted among the unseen one-gene neighbours of the told front:
a model trained on a few dozen points cannot predict a region it has never seen (on NB201,
the cells whose only live path is a skip connection: 84% accuracy at a tenth of the
latency of any convolution, 2% of the space), and a front neighbour reaches it.

The surrogates default to `predictor="auto"`: per objective, whichever of a Bayesian ridge
and a boosted-tree model over the space's structural encoding ranks the told results better
under cross-validation (on NB201, trees for accuracy, the ridge for latency). It is the
default strategy of `hwnas search` because it wins `hwnas bench` on NB201 (see
docs/benchmarks/strategies.md)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hwnas.pareto import crowding_distance, pareto_mask
from hwnas.spaces import Architecture
from hwnas.strategies import register_strategy
from hwnas.strategies._base import Problem, require_at_least
from hwnas.strategies._surrogate import (
    ObjectiveModels,
    SurrogateStrategy,
    all_architectures,
    single_threaded,
)


@register_strategy("linas")
class LINAS(SurrogateStrategy):
    description = "LINAS: surrogates per objective, inner NSGA-II on them, best batch validated"

    def __init__(
        self,
        problem: Problem,
        seed: int = 0,
        predictor: str = "auto",
        n_init: int = 20,
        batch_size: int = 10,
        inner_population: int = 50,
        inner_generations: int = 30,
        exhaustive: bool | None = None,
        local_share: float = 0.2,
    ) -> None:
        super().__init__(problem, seed, predictor, n_init, batch_size, local_share)
        require_at_least(2, inner_population=inner_population)
        require_at_least(1, inner_generations=inner_generations)
        self.inner_population = inner_population
        self.inner_generations = inner_generations
        self.exhaustive = exhaustive
        self._all = all_architectures(self.space) if exhaustive is not False else None
        if exhaustive and self._all is None:
            raise ValueError(f"space {self.space.name!r} is too large to score exhaustively")

    def _propose(self, n: int) -> list[Architecture]:
        with single_threaded():
            models = self.fitted_models()
            if models is None:
                return self.random_new(n)
            if self._all is not None:
                pool = [a for a in self._all if self.is_new(a)]
            else:
                pool = self._inner_nsga2(models)
            # 2n of each: the other list may already hold up to n of them
            ranked = self._best_passing(models, pool, 2 * n)
            if not ranked:
                return self.random_new(n)
            local = list(self._front_neighbours().values()) if self.local_share > 0 else []
            ranked_local = self._best_passing(models, local, 2 * n)
            return _interleave(ranked, ranked_local, n, self.local_share, self.batch_size)

    def _best_passing(
        self, models: ObjectiveModels, archs: list[Architecture], n: int
    ) -> list[Architecture]:
        """The n best-ranked of `archs` among those that pass the cheap-constraint
        precheck, asking it only of candidates that reach a front being taken: a precheck
        may build and count a network (a tenth of a second or more), and checking every
        candidate of the inner search cost minutes per batch."""
        passes = self.problem.passes_precheck if self.problem.precheck is not None else None
        return [archs[i] for i in _best(models, archs, n, passes)]

    def _front_neighbours(self) -> dict[str, Architecture]:
        """Unseen one-gene neighbours of the told front (prechecked later, in rank order):
        where a front point is, a better one is often one change away, whatever the model
        says about the regions it has never seen."""
        out: dict[str, Architecture] = {}
        for trial in self.front_trials():
            for arch in self.neighbours(trial.arch):
                if arch.key not in out and self.is_new(arch):
                    out[arch.key] = arch
        return out

    def _inner_nsga2(self, models: ObjectiveModels) -> list[Architecture]:
        """NSGA-II on predicted objectives; returns its unseen final population."""
        start = [t.arch for t in self.front_trials()]
        pop: dict[str, Architecture] = {a.key: a for a in start}
        for arch in self.random_new(self.inner_population, exclude=set(pop), checked=False):
            pop.setdefault(arch.key, arch)
        # random_new marks nothing as asked, so the inner search may revisit freely
        members = list(pop.values())
        for _ in range(self.inner_generations):
            children: dict[str, Architecture] = {}
            for _ in range(4 * self.inner_population):
                if len(children) >= self.inner_population:
                    break
                a, b = self.rng.choice(len(members), size=2)
                child = self.space.crossover(members[a], members[b], self.rng)
                child = self.space.mutate(child, self.rng)
                if child.key not in pop:  # prechecked only if it is ranked for a batch
                    children.setdefault(child.key, child)
            union = members + list(children.values())
            keep = _best(models, union, self.inner_population)
            members = [union[i] for i in keep]
            pop = {a.key: a for a in members}
        return [a for a in members if self.is_new(a)]


def _interleave(
    ranked: list[Architecture],
    ranked_local: list[Architecture],
    n: int,
    share: float,
    period: int,
) -> list[Architecture]:
    """n picks: slot k comes from `ranked_local` when (k mod period + 0.5) / period < share,
    else from `ranked`, skipping what is already picked; slots do not depend on n, so a
    shorter ask is a prefix of a longer one (a resumed study replays the same picks)."""
    out: list[Architecture] = []
    seen: set[str] = set()
    sources = [iter(ranked), iter(ranked_local)]
    for slot in range(n):
        order = (1, 0) if (slot % period + 0.5) / period < share else (0, 1)
        for which in order:
            pick = next((a for a in sources[which] if a.key not in seen), None)
            if pick is not None:
                out.append(pick)
                seen.add(pick.key)
                break
    return out


def _best(
    models: ObjectiveModels,
    archs: list[Architecture],
    n: int,
    passes: Callable[[Architecture], bool] | None = None,
) -> list[int]:
    """Indices of the n best rows by predicted non-dominated rank, then crowding; rows
    likely (p > 0.5) to break a modelled constraint come last. Fronts are peeled only
    until n rows are taken, so scoring a whole space stays cheap. With `passes`, the
    ranking is that of the rows that pass it, and it is asked only of the rows of each
    front as it is peeled (a row that fails leaves, and the front is peeled again)."""
    if not archs:
        return []
    mean, _ = models.predict(archs)
    likely = np.flatnonzero(models.feasibility(archs) >= 0.5)
    unlikely = np.setdiff1d(np.arange(len(archs)), likely)
    out: list[int] = []
    for group in (likely, unlikely):
        remaining = group
        while len(out) < n and len(remaining):
            mask = pareto_mask(mean[remaining])
            front = remaining[mask]
            if passes is not None:
                failing = np.array([not passes(archs[i]) for i in front], dtype=bool)
                if failing.any():
                    remaining = np.setdiff1d(remaining, front[failing])
                    continue
            crowd = crowding_distance(mean[front])
            out += [int(i) for i in front[np.argsort(-crowd, kind="stable")][: n - len(out)]]
            remaining = remaining[~mask]
    return out
