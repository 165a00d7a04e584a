"""The ask/tell contract: strategies propose architectures and learn from results; they
never evaluate anything themselves, so the same strategy runs in-process, in a pool or on
Ray, and a resumed study restores them from a snapshot or replays them from the ledger."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hwnas.metrics import Constraint, Objective
from hwnas.pareto import pareto_mask
from hwnas.spaces import Architecture, SearchSpace
from hwnas.trial import FAILED, Trial

#: architectures whose neighbours a strategy keeps (a run's fronts hold far fewer)
NEIGHBOURS_CACHED = 2048


@dataclass(frozen=True)
class Problem:
    """What a strategy optimises. `precheck` gives the total violation of the constraints
    that are cheap to compute (params, FLOPs, tabular latency), or None when there are
    none, so strategies can reject candidates before an expensive evaluation."""

    space: SearchSpace
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()
    precheck: Callable[[Architecture], float] | None = None

    def objective_vector(self, trial: Trial) -> np.ndarray:
        """Minimisation vector; NaN where a value is missing (failed trials)."""
        return np.array(
            [o.to_min(trial.values.get(o.metric.name, math.nan)) for o in self.objectives],
            dtype=np.float64,
        )

    def violation(self, trial: Trial) -> float:
        """Total constraint violation; infinite for failed trials."""
        if trial.status == FAILED:
            return math.inf
        total = 0.0
        for c in self.constraints:
            total += c.violation(trial.values.get(c.metric.name, math.nan))
        return total

    def matrices(self, trials: Sequence[Trial]) -> tuple[np.ndarray, np.ndarray]:
        """(objective vectors, violations) of `trials`, one row each: what
        `non_dominated_sort` ranks."""
        F = np.array([self.objective_vector(t) for t in trials])
        return F, np.array([self.violation(t) for t in trials])

    def passes_precheck(self, arch: Architecture) -> bool:
        """Whether no cheap constraint is known to be broken (True without a precheck)."""
        return self.precheck is None or self.precheck(arch) <= 0


def require_at_least(low: float, **options: float) -> None:
    """Refuse an option below `low` with a ValueError naming it (`make_strategy` turns it
    into a SpecError), so that every strategy words its checks alike."""
    for name, value in options.items():
        if not value >= low:  # NaN too
            raise ValueError(f"{name} must be >= {low}")


def require_fraction(**options: float) -> None:
    """Refuse an option outside [0, 1] (a share of a batch, a probability)."""
    for name, value in options.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1]")


class Strategy:
    """Base of every search strategy. Subclasses implement `_propose(n)` and may override
    `tell`; `ask` guarantees distinct architectures never asked before."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: preferred number of candidates per ask (e.g. a population size)
    batch_size: int = 1
    #: whether `snapshot`/`restore` capture all that `ask` depends on, so that a resumed
    #: study continues from the ledger's last snapshot instead of replaying every ask
    #: (strategies whose asks are cheap may leave it False: they are replayed)
    restorable: ClassVar[bool] = False

    def __init__(self, problem: Problem, seed: int = 0) -> None:
        self.problem = problem
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.trials: list[Trial] = []
        self._asked: set[str] = set()
        # per told trial, computed once: what every batch's front and ranks are made of
        self._told_F = np.zeros((0, len(problem.objectives)))
        self._told_v = np.zeros(0)
        self._neighbours: dict[str, list[Architecture]] = {}

    @property
    def space(self) -> SearchSpace:
        return self.problem.space

    def ask(self, n: int) -> list[Architecture]:
        """Up to `n` new architectures; fewer (or none) only when the space is exhausted."""
        out: list[Architecture] = []
        if n <= 0:  # a `_propose` may not look at n; nothing asked is nothing proposed
            return out
        for arch in self._propose(n):
            if arch.key not in self._asked:
                self._asked.add(arch.key)
                out.append(arch)
            if len(out) == n:
                break
        return out

    def tell(self, trials: Sequence[Trial]) -> None:
        self.trials.extend(trials)

    def _propose(self, n: int) -> list[Architecture]:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state that, with the told trials, lets `restore` continue exactly
        here: the random generator's state plus what `_state` adds."""
        return {"rng": self.rng.bit_generator.state, **self._state()}

    def restore(self, state: dict[str, Any], trials: Sequence[Trial]) -> None:
        """Bring a fresh strategy to where `snapshot` was taken, after `trials` (in told
        order) were told, without repeating the asks that led there."""
        if self.trials:
            raise RuntimeError("restore() needs a fresh strategy")
        self.rng.bit_generator.state = state["rng"]
        self.trials.extend(trials)
        self._asked.update(t.arch.key for t in trials)
        self._load_state(state)

    def _state(self) -> dict[str, Any]:
        """What a restorable subclass keeps beyond the random state and the trials."""
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        """Inverse of `_state`, called with `self.trials` already restored."""

    # --- helpers shared by strategies ----------------------------------------------------
    def is_new(self, arch: Architecture) -> bool:
        return arch.key not in self._asked

    def random_new(
        self, n: int, exclude: set[str] | None = None, checked: bool = True
    ) -> list[Architecture]:
        """Up to n random unseen architectures (distinct among themselves); uses the
        cheap-constraint precheck to skip candidates known to be infeasible (unless
        `checked` is False: candidates that are only scored, not proposed)."""
        exclude = set(exclude or ())
        out: list[Architecture] = []
        attempts = 0
        max_attempts = 200 * max(n, 1)
        while len(out) < n and attempts < max_attempts:
            attempts += 1
            arch = self.space.sample(self.rng)
            if arch.key in self._asked or arch.key in exclude:
                continue
            check = self.problem.precheck if checked else None
            if check is not None and attempts < max_attempts // 2 and check(arch) > 0:
                continue
            exclude.add(arch.key)
            out.append(arch)
        if len(out) < n:
            out += self._enumerate_new(n - len(out), exclude)
        return out

    def _enumerate_new(self, n: int, exclude: set[str]) -> list[Architecture]:
        """Deterministic sweep for the last unseen points of a small space."""
        if self.space.size() > 1_000_000:
            return []
        out = []
        for arch in self.space.enumerate():
            if arch.key not in self._asked and arch.key not in exclude:
                out.append(arch)
                if len(out) == n:
                    break
        return out

    def topped_up(self, picks: dict[str, Architecture], n: int) -> list[Architecture]:
        """`picks` (by key), then random unseen architectures up to `n`: what a strategy
        returns when its own moves found fewer new candidates than asked for."""
        if len(picks) < n:
            for arch in self.random_new(n - len(picks), exclude=set(picks)):
                picks[arch.key] = arch
        return list(picks.values())

    def told_matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """(objective vectors, violations) of every told trial, each row computed once:
        rebuilding them per batch made long runs quadratic."""
        done = len(self._told_v)
        if done < len(self.trials):
            F, v = self.problem.matrices(self.trials[done:])
            self._told_F = np.vstack([self._told_F, F.reshape(len(v), -1)])
            self._told_v = np.concatenate([self._told_v, v])
        return self._told_F, self._told_v

    def front_trials(self) -> list[Trial]:
        """Trials on the current feasible front (rank 0 of `non_dominated_sort`)."""
        F, v = self.told_matrices()
        usable = np.flatnonzero((v == 0) & np.all(np.isfinite(F), axis=1))
        return [self.trials[i] for i in usable[pareto_mask(F[usable])]]

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        """`space.neighbours(arch)`, computed once per architecture: front members are
        asked for their neighbours batch after batch."""
        cached = self._neighbours.get(arch.key)
        if cached is None:
            if len(self._neighbours) >= NEIGHBOURS_CACHED:  # fronts move on: start afresh
                self._neighbours.clear()
            cached = self._neighbours[arch.key] = self.space.neighbours(arch)
        return cached
