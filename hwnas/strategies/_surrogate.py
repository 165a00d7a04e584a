"""Machinery shared by the surrogate-guided strategies (`bayes`, `linas`): feature
encodings, one predictor per objective fitted on what the strategy was told, candidate
pools and a vectorised hypervolume improvement."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np

from hwnas.metrics import Constraint
from hwnas.pareto import pareto_mask
from hwnas.predictors import Predictor, make_predictor
from hwnas.spaces import Architecture, SearchSpace
from hwnas.strategies._base import OK, Problem, Trial

#: spaces with at most this many gene vectors are scored exhaustively
ENUMERATE_LIMIT = 50_000


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS on one thread: the matrices here are small, and a multi-threaded BLAS on a
    busy machine is an order of magnitude slower on them (threadpoolctl when present)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def _features(space: SearchSpace, archs: Sequence[Architecture]) -> np.ndarray:
    """All of a space's encodings but the raw index vector, side by side (one-hot plus,
    for NB201, op counts and path counts)."""
    kinds = [k for k in space.encodings if k != "vector"] or ["vector"]
    return np.hstack([space.encode(archs, k) for k in kinds])


#: per space (class and dimensions): every architecture, its row index and the feature matrix
_ENUMERATED: dict[tuple[type, object], tuple[list[Architecture], dict[str, int], np.ndarray]] = {}


def enumerated(
    space: SearchSpace,
) -> tuple[list[Architecture], dict[str, int], np.ndarray] | None:
    """Every architecture of a small space with its features, computed once per process
    (None for spaces too large to enumerate)."""
    if space.size() > ENUMERATE_LIMIT:
        return None
    cache_key = (type(space), space.dimensions)
    cached = _ENUMERATED.get(cache_key)
    if cached is None:
        archs = list(space.enumerate())
        cached = (archs, {a.key: i for i, a in enumerate(archs)}, _features(space, archs))
        _ENUMERATED[cache_key] = cached
    return cached


def all_architectures(space: SearchSpace) -> list[Architecture] | None:
    """Every architecture of a small space (None for large ones)."""
    table = enumerated(space)
    return None if table is None else table[0]


class Encoder:
    """Feature rows of architectures: looked up for enumerable spaces, computed and
    cached by key otherwise."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self._table = enumerated(space)
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, archs: Sequence[Architecture]) -> np.ndarray:
        if self._table is not None:
            _, index, X = self._table
            return X[[index[a.key] for a in archs]]
        missing = [a for a in archs if a.key not in self._cache]
        if missing:
            for a, row in zip(missing, _features(self.space, missing)):
                self._cache[a.key] = row
        return np.stack([self._cache[a.key] for a in archs]) if archs else np.zeros((0, 0))


class ObjectiveModels:
    """One predictor per objective (minimisation form) and one per constraint metric the
    cheap precheck cannot decide, fitted on the told trials."""

    def __init__(self, problem: Problem, predictor: str, params: dict | None = None) -> None:
        self.problem = problem
        self.predictor = predictor
        self.params = dict(params or {})
        self.models: list[Predictor] = []
        self.constraint_models: list[tuple[Predictor, Constraint]] = []

    def fit(self, trials: Sequence[Trial], X: np.ndarray) -> bool:
        """Fit on the successful trials; False when there are too few to learn from."""
        ok = [i for i, t in enumerate(trials) if t.status != "failed"]
        F = np.array([self.problem.objective_vector(trials[i]) for i in ok]).reshape(
            len(ok), len(self.problem.objectives)
        )
        good = [j for j in range(len(ok)) if np.all(np.isfinite(F[j]))]
        if len(good) < 2:
            return False
        rows = [ok[j] for j in good]
        self.models = [
            make_predictor(self.predictor, **self.params).fit(X[rows], F[good, k])
            for k in range(F.shape[1])
        ]
        self.constraint_models = []
        for c in self.problem.constraints:
            vals = [(i, t.values.get(c.metric.name)) for i, t in enumerate(trials)]
            vals = [(i, v) for i, v in vals if v is not None and np.isfinite(v)]
            if len(vals) >= 2:
                idx = [i for i, _ in vals]
                y = np.array([v for _, v in vals])
                model = make_predictor(self.predictor, **self.params).fit(X[idx], y)
                self.constraint_models.append((model, c))
        return True

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std), each (n, n_objectives), minimisation form."""
        preds = [m.predict(X) for m in self.models]
        return np.column_stack([p[0] for p in preds]), np.column_stack([p[1] for p in preds])

    def feasibility(self, X: np.ndarray) -> np.ndarray:
        """Probability that every modelled constraint holds (Gaussian predictive)."""
        from math import erf, sqrt

        prob = np.ones(len(X))
        for model, c in self.constraint_models:
            mean, std = model.predict(X)
            std = np.maximum(std, 1e-9)
            z = (c.bound - mean) / std if c.op in ("<=", "<") else (mean - c.bound) / std
            prob *= 0.5 * (1.0 + np.vectorize(erf)(z / sqrt(2.0)))
        return prob


def told_front(problem: Problem, trials: Sequence[Trial]) -> np.ndarray:
    """Minimisation rows of the feasible, successful, non-dominated told trials."""
    F = np.array(
        [
            problem.objective_vector(t)
            for t in trials
            if t.status == OK and problem.violation(t) == 0
        ]
    ).reshape(-1, len(problem.objectives))
    F = F[np.all(np.isfinite(F), axis=1)]
    return F[pareto_mask(F)] if len(F) else F


def hvi_2d(front: np.ndarray, points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume improvement of each point (rows of `points`) over a 2-D front, all
    minimised, bounded by `ref`. O(len(points) x len(front)), vectorised."""
    points = np.minimum(points, ref)
    box = np.prod(ref - points, axis=1)
    if len(front) == 0:
        return box
    front = front[np.all(front < ref, axis=1)]
    if len(front) == 0:
        return box
    front = front[pareto_mask(front)]
    front = front[np.lexsort((-front[:, 1], front[:, 0]))]
    # the front clipped into each point's box is again a staircase sorted by f0
    q0 = np.maximum(front[None, :, 0], points[:, None, 0])
    q1 = np.maximum(front[None, :, 1], points[:, None, 1])
    prev = np.concatenate([np.full((len(points), 1), ref[1]), q1[:, :-1]], axis=1)
    prev = np.minimum.accumulate(prev, axis=1)
    covered = np.sum((ref[0] - q0) * np.clip(prev - q1, 0.0, None), axis=1)
    return np.clip(box - covered, 0.0, None)
