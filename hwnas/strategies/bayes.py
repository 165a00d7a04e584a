"""Multi-objective Bayesian optimisation over a discrete space: one surrogate per
objective with a predictive std (Bayesian ridge by default; `predictor="auto"` picks, per
objective, whichever of a Bayesian ridge and a boosted-tree model over the space's
structural encoding ranks the told results better under cross-validation), an initial
random design, then batches chosen greedily by the hypervolume improvement of the
prediction (mean - kappa * std: optimistic for kappa > 0; 0 by default, as optimism did
not pay on NB201) over the told front, each pick's predicted mean joining the front before
the next ("kriging believer"), so a batch spreads along the front. A share `local_share` of
each batch is chosen among the unseen one-gene neighbours of the told front, where a
surrogate's error matters least (local search is strong on NAS benchmarks), and a share
`explore` is random, so a wrong model cannot stall the search. Small spaces are scored
exhaustively; large ones through a pool of mutants of the front plus random samples."""

from __future__ import annotations

import numpy as np

from hwnas.spaces import Architecture
from hwnas.strategies import register_strategy
from hwnas.strategies._base import Problem, Strategy, require_at_least, require_fraction
from hwnas.strategies._surrogate import (
    SurrogateStrategy,
    all_architectures,
    hvi_2d,
    single_threaded,
    told_front,
)


@register_strategy("bayes")
class BayesMO(SurrogateStrategy):
    description = "multi-objective BO: surrogates, HV-improvement batches, front neighbourhood"

    def __init__(
        self,
        problem: Problem,
        seed: int = 0,
        predictor: str = "ridge",
        n_init: int = 10,
        batch_size: int = 10,
        kappa: float = 0.0,
        explore: float = 0.1,
        local_share: float = 0.5,
        pool_size: int = 2000,
    ) -> None:
        super().__init__(problem, seed, predictor, n_init, batch_size, local_share)
        require_at_least(0, kappa=kappa)
        require_at_least(1, pool_size=pool_size)
        require_fraction(explore=explore)
        self.kappa = kappa
        self.explore = explore
        self.pool_size = pool_size
        self._all = all_architectures(self.space)

    def _propose(self, n: int) -> list[Architecture]:
        with single_threaded():
            return self._propose_guided(n)

    def _propose_guided(self, n: int) -> list[Architecture]:
        models = self.fitted_models()
        pool = self._pool() if models is not None else []
        if models is None or not pool:
            return self.random_new(n)
        mean, std = models.predict(pool)
        feasible = models.feasibility(pool)
        near = {a.key for t in self.front_trials() for a in self.neighbours(t.arch)}
        local = np.array([a.key in near for a in pool], dtype=bool)
        picks = select_batch(
            self.told_matrices(),
            mean,
            std,
            feasible,
            n,
            self.kappa,
            self.explore,
            self.rng,
            local=local,
            local_share=self.local_share,
            period=self.batch_size,
        )
        return [pool[i] for i in picks]

    def _pool(self) -> list[Architecture]:
        """Unseen candidates passing the cheap precheck."""
        if self._all is not None:
            pool = [a for a in self._all if self.is_new(a)]
        else:
            pool = mutant_pool(self, self.pool_size)
        return [a for a in pool if self.problem.passes_precheck(a)]


def select_batch(
    told: tuple[np.ndarray, np.ndarray],
    mean: np.ndarray,
    std: np.ndarray,
    feasible: np.ndarray,
    n: int,
    kappa: float,
    explore: float,
    rng: np.random.Generator,
    local: np.ndarray | None = None,
    local_share: float = 0.0,
    period: int | None = None,
) -> list[int]:
    """Indices of `n` candidates among the rows of `mean`/`std`, given `told` (objective
    matrix and violations of the told trials): greedy optimistic HV improvement with
    believer updates (2 objectives), or random Chebyshev scalarisations (other counts); a share `explore`
    of the picks is uniformly random, and a share `local_share` is taken among the
    candidates flagged `local` (one gene from the told front), where a surrogate's error
    matters least: slot k is local when (k mod period + 0.5) / period < local_share, so the
    first k picks do not depend on `n` and a resumed study replays the same proposals."""
    period = period or n
    front = told_front(*told)
    values = told[0][np.all(np.isfinite(told[0]), axis=1)]
    lo, hi = values.min(axis=0), values.max(axis=0)
    scale = np.where(hi > lo, hi - lo, 1.0)
    opt = (mean - kappa * std - lo) / scale
    believed = (mean - lo) / scale
    front_n = (front - lo) / scale
    ref = np.full(mean.shape[1], 1.1)
    chosen: list[int] = []
    free = np.ones(len(mean), dtype=bool)
    # HV improvements only shrink as believed picks join the front: after the first
    # scoring, only the candidates that improved on it can improve again
    hvi_rows = np.arange(len(mean))
    for slot in range(min(n, len(mean))):
        near = (
            local is not None
            and (slot % period + 0.5) / period < local_share
            and bool(np.any(local & free))
        )
        allowed = free & local if near else free  # type: ignore[operator]
        if rng.random() < explore:
            pick = int(rng.choice(np.flatnonzero(free)))
        elif mean.shape[1] == 2:
            score = np.zeros(len(mean))
            score[hvi_rows] = hvi_2d(front_n, opt[hvi_rows], ref) * feasible[hvi_rows]
            hvi_rows = hvi_rows[score[hvi_rows] > 0]
            score[~allowed] = -1.0
            pick = int(np.argmax(score))
            if score[pick] <= 0:
                pick = _closest_to_front(front_n, opt, allowed)
        else:
            w = rng.dirichlet(np.ones(mean.shape[1]))
            score = np.max(w * opt, axis=1) - 1e-3 * opt.sum(axis=1)
            score = np.where(allowed, score, np.inf)
            pick = int(np.argmin(score / np.maximum(feasible, 1e-6)))
        chosen.append(pick)
        free[pick] = False
        front_n = np.vstack([front_n, believed[pick : pick + 1]])
    return chosen


def _closest_to_front(front: np.ndarray, points: np.ndarray, free: np.ndarray) -> int:
    """The free point whose optimistic prediction is nearest to being non-dominated."""
    if len(front) == 0:
        return int(np.flatnonzero(free)[0])
    # additive epsilon needed to make the point non-dominated by any front point
    eps = np.min(np.max(points[:, None, :] - front[None, :, :], axis=2), axis=1)
    eps = np.where(free, eps, np.inf)
    return int(np.argmin(eps))


def mutant_pool(strategy: Strategy, size: int) -> list[Architecture]:
    """Candidates for spaces too large to enumerate: mutants of the told front (half)
    and random samples, unseen and distinct."""
    out: dict[str, Architecture] = {}
    front = strategy.front_trials() or strategy.trials
    for _ in range(size * 5):
        if len(out) >= size // 2 or not front:
            break
        parent = front[int(strategy.rng.integers(len(front)))].arch
        child = strategy.space.mutate(parent, strategy.rng)
        if strategy.is_new(child):
            out.setdefault(child.key, child)
    return strategy.topped_up(out, size)
