"""Machinery shared by the surrogate-guided strategies (`bayes`, `linas`): their base
class, feature encodings, one predictor per objective fitted on what the strategy was
told, candidate pools and a vectorised hypervolume improvement."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from hwnas.metrics import Constraint
from hwnas.pareto import pareto_mask
from hwnas.predictors import Predictor, get_predictor, make_predictor
from hwnas.spaces import Architecture, SearchSpace
from hwnas.strategies._base import Problem, Strategy, require_at_least, require_fraction
from hwnas.trial import FAILED, Trial

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


#: what `predictor="auto"` tries for each objective: (predictor, encodings, parameters; a
#: space that lacks one of the encodings gives every encoding but the raw index vector). A
#: linear model fits additive costs (latency is close to a sum over ops); boosted trees on
#: the NB201 `effective` encoding rank accuracy (Kendall tau ~0.8 from 100 labels, against
#: ~0.55 for the linear model). One boosted model, not an ensemble: the search ranks by the
#: mean only, and one model refits every batch in a fraction of a second. Learning rate 0.1
#: rather than the predictor's 0.05: at 0.05 the 150 trees under-fit the top-accuracy end
#: (20 seeds: HV gap at 300 0.215 -> 0.125 on raspi4, 0.189 -> 0.159 on pixel3, at the
#: same cost; docs/benchmarks/strategies.md).
AUTO_MODELS: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    ("ridge", ("onehot", "effective"), {}),
    ("gbt", ("effective",), {"n_members": 1, "learning_rate": 0.1}),
)
#: what a named predictor (not `auto`) is fitted on, where the space has these encodings:
#: the set the default `ridge` surrogate was benchmarked with (adding NB201's `live` and
#: `effective` encodings made the ridge-guided search worse; see strategies.md)
NAMED_MODEL_ENCODINGS: tuple[str, ...] = ("onehot", "opcount", "path")
#: folds of the cross-validation that picks among the `auto` candidates
CV_FOLDS = 3
#: surrogates are refitted once the told trials have grown by this share since the last
#: fit: with batches of 10 that is every batch up to 500 trials (the benchmarked budgets
#: are unchanged), every other one at 1,000, every tenth at 5,000
REFIT_GROWTH = 0.02


def _kinds(space: SearchSpace, kinds: Sequence[str] | None) -> tuple[str, ...]:
    """The encodings to use: `kinds` when the space has all of them, else every encoding
    of the space but the raw index vector (one-hot plus, for NB201, op counts, path counts,
    the live-cell one-hot and the effective encoding)."""
    if kinds and all(k in space.encodings for k in kinds):
        return tuple(kinds)
    return tuple(k for k in space.encodings if k != "vector") or ("vector",)


def _features(
    space: SearchSpace, archs: Sequence[Architecture], kinds: tuple[str, ...]
) -> np.ndarray:
    return np.hstack([space.encode(archs, k) for k in kinds])


#: per space (class and dimensions): every architecture and its row index
_ENUMERATED: dict[tuple[type, object], tuple[list[Architecture], dict[str, int]]] = {}
#: per space and encoding: the encoding of every architecture
_MATRICES: dict[tuple[type, object, str], np.ndarray] = {}


def enumerated(space: SearchSpace) -> tuple[list[Architecture], dict[str, int]] | None:
    """Every architecture of a small space with its row index, computed once per process
    (None for spaces too large to enumerate)."""
    if space.size() > ENUMERATE_LIMIT:
        return None
    cache_key = (type(space), space.dimensions)
    cached = _ENUMERATED.get(cache_key)
    if cached is None:
        archs = list(space.enumerate())
        cached = (archs, {a.key: i for i, a in enumerate(archs)})
        _ENUMERATED[cache_key] = cached
    return cached


def all_architectures(space: SearchSpace) -> list[Architecture] | None:
    """Every architecture of a small space (None for large ones)."""
    table = enumerated(space)
    return None if table is None else table[0]


class Encoder:
    """Feature rows of architectures for a set of encodings: looked up in a matrix
    computed once per process for enumerable spaces, computed and cached by key otherwise."""

    def __init__(self, space: SearchSpace, kinds: Sequence[str] | None = None) -> None:
        self.space = space
        self.kinds = _kinds(space, kinds)
        self._table = enumerated(space)
        self._X: np.ndarray | None = None
        self._cache: dict[str, np.ndarray] = {}

    def _matrix(self) -> np.ndarray:
        if self._X is None:
            assert self._table is not None
            blocks = []
            for kind in self.kinds:
                key = (type(self.space), self.space.dimensions, kind)
                if key not in _MATRICES:
                    _MATRICES[key] = self.space.encode(self._table[0], kind)
                blocks.append(_MATRICES[key])
            self._X = np.hstack(blocks)
        return self._X

    def __call__(self, archs: Sequence[Architecture]) -> np.ndarray:
        if self._table is not None:
            index = self._table[1]
            return self._matrix()[[index[a.key] for a in archs]]
        missing = [a for a in archs if a.key not in self._cache]
        if missing:
            for a, row in zip(missing, _features(self.space, missing, self.kinds)):
                self._cache[a.key] = row
        return np.stack([self._cache[a.key] for a in archs]) if archs else np.zeros((0, 0))


def _cv_rank_score(name: str, params: dict, X: np.ndarray, y: np.ndarray) -> float:
    """Spearman correlation of out-of-fold predictions with y (folds by position, so the
    score is deterministic): what a search needs from a model is the order."""
    pred = np.empty(len(y))
    folds = np.arange(len(y)) % CV_FOLDS
    for k in range(CV_FOLDS):
        test = folds == k
        if test.all() or not test.any():
            return -np.inf
        model = make_predictor(name, **{**get_predictor(name).selection_params, **params})
        pred[test] = model.fit(X[~test], y[~test]).predict(X[test])[0]
    ranks = np.argsort(np.argsort(pred)), np.argsort(np.argsort(y))
    r = np.corrcoef(ranks[0], ranks[1])[0, 1]
    return float(r) if np.isfinite(r) else -np.inf


class ObjectiveModels:
    """One predictor per objective (minimisation form) and one per constraint metric the
    cheap precheck cannot decide, refitted on the told trials by `fit`.

    With `predictor="auto"`, each target gets the candidate of `AUTO_MODELS` whose
    cross-validated rank correlation is higher; the choice is revisited whenever the number
    of training rows has doubled since it was made (a few times per search), so it costs
    little, and it depends only on the trials, so a resumed study replays it."""

    def __init__(self, problem: Problem, predictor: str, params: dict | None = None) -> None:
        self.problem = problem
        self.predictor = predictor
        self.params = dict(params or {})
        space = problem.space
        if predictor == "auto":
            self.candidates = [
                (name, Encoder(space, kinds), params) for name, kinds, params in AUTO_MODELS
            ]
        else:
            get_predictor(predictor)  # an unknown name fails now, listing the valid ones
            self.candidates = [(predictor, Encoder(space, NAMED_MODEL_ENCODINGS), {})]
        self.models: list[tuple[Predictor, Encoder]] = []
        self.constraint_models: list[tuple[Predictor, Encoder, Constraint]] = []
        #: target name -> (rows when chosen, candidate index)
        self._choice: dict[str, tuple[int, int]] = {}
        #: how many told trials the surrogates were last fitted on (0: never)
        self._fitted_on = 0

    def _fit_one(
        self, target: str, archs: Sequence[Architecture], y: np.ndarray
    ) -> tuple[Predictor, Encoder]:
        choice = 0
        if len(self.candidates) > 1:
            made = self._choice.get(target)
            if made is None or len(y) >= 2 * made[0] or len(y) < made[0]:
                scores = [
                    _cv_rank_score(name, {**params, **self.params}, enc(archs), y)
                    if len(y) >= 2 * CV_FOLDS
                    else 0.0
                    for name, enc, params in self.candidates
                ]
                self._choice[target] = (len(y), int(np.argmax(scores)))
            choice = self._choice[target][1]
        name, enc, params = self.candidates[choice]
        return make_predictor(name, **{**params, **self.params}).fit(enc(archs), y), enc

    def fit(self, trials: Sequence[Trial]) -> bool:
        """Fit on the successful trials; False when there are too few to learn from.
        Refits only once the trials have grown by `REFIT_GROWTH` since the last fit:
        every batch up to ~500 trials, then more rarely, so a long run's fitting stays
        near-linear in its length instead of quadratic."""
        if self._fitted_on and len(trials) - self._fitted_on < REFIT_GROWTH * self._fitted_on:
            return True
        ok = [t for t in trials if t.status != FAILED]
        F = np.array([self.problem.objective_vector(t) for t in ok]).reshape(
            len(ok), len(self.problem.objectives)
        )
        good = np.all(np.isfinite(F), axis=1)
        if good.sum() < 2:
            return False
        archs = [t.arch for t, g in zip(ok, good) if g]
        self.models = [
            self._fit_one(f"objective {k}", archs, F[good, k]) for k in range(F.shape[1])
        ]
        self.constraint_models = []
        for c in self.problem.constraints:
            vals = [(t.arch, t.values.get(c.metric.name)) for t in trials]
            vals = [(a, v) for a, v in vals if v is not None and np.isfinite(v)]
            if len(vals) >= 2:
                y = np.array([v for _, v in vals])
                model, enc = self._fit_one(c.metric.name, [a for a, _ in vals], y)
                self.constraint_models.append((model, enc, c))
        self._fitted_on = len(trials)
        return True

    def state(self) -> dict[str, Any]:
        """The model choices and fit point: with the trials, all the surrogates are."""
        return {
            "choice": {k: list(v) for k, v in self._choice.items()},
            "fitted_on": self._fitted_on,
        }

    def restore(self, state: dict[str, Any], trials: Sequence[Trial]) -> None:
        """Refit on the trials the surrogates were last fitted on, with the same choices."""
        self._choice = {str(k): (int(v[0]), int(v[1])) for k, v in state["choice"].items()}
        fitted_on = int(state["fitted_on"])
        if fitted_on:
            self._fitted_on = 0
            self.fit(trials[:fitted_on])
            if self._fitted_on != fitted_on:
                raise ValueError(f"the surrogates could not be refitted on {fitted_on} trials")

    def predict(self, archs: Sequence[Architecture]) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std), each (n, n_objectives), minimisation form."""
        preds = [m.predict(enc(archs)) for m, enc in self.models]
        return np.column_stack([p[0] for p in preds]), np.column_stack([p[1] for p in preds])

    def feasibility(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Probability that every modelled constraint holds (Gaussian predictive)."""
        from math import erf, sqrt

        prob = np.ones(len(archs))
        for model, enc, c in self.constraint_models:
            mean, std = model.predict(enc(archs))
            std = np.maximum(std, 1e-9)
            z = (c.bound - mean) / std if c.op in ("<=", "<") else (mean - c.bound) / std
            prob *= 0.5 * (1.0 + np.vectorize(erf)(z / sqrt(2.0)))
        return prob


def told_front(F: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """Minimisation rows of the feasible, successful, non-dominated told trials, from
    their objective matrix and violations (`Strategy.told_matrices`)."""
    F = F[(violation == 0) & np.all(np.isfinite(F), axis=1)]
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


class SurrogateStrategy(Strategy):
    """Base of the strategies that search on surrogates: a random design of `n_init`
    successful trials, then batches ranked by the surrogates, a share `local_share` of
    each batch from the told front's neighbourhood. Subclasses keep their own signature
    (it lists their options) and pass these on."""

    restorable = True

    def __init__(
        self,
        problem: Problem,
        seed: int,
        predictor: str,
        n_init: int,
        batch_size: int,
        local_share: float,
    ) -> None:
        super().__init__(problem, seed)
        require_at_least(2, n_init=n_init)
        require_at_least(1, batch_size=batch_size)
        require_fraction(local_share=local_share)
        self.predictor = predictor
        self.n_init = n_init
        self.batch_size = batch_size
        self.local_share = local_share
        self._models = ObjectiveModels(problem, predictor)

    def fitted_models(self) -> ObjectiveModels | None:
        """The surrogates refitted on the told trials; None during the random design or
        while too few results are usable (the strategy then samples at random)."""
        if len([t for t in self.trials if t.status != FAILED]) < self.n_init:
            return None
        return self._models if self._models.fit(self.trials) else None

    def _state(self) -> dict[str, Any]:
        return {"models": self._models.state()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._models.restore(state["models"], self.trials)
