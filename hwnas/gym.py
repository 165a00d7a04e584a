"""Gymnasium environments over a study, as ArchGym offers architecture design to RL agents:
the action is an architecture's genes, one step evaluates it through the study (its
executor, its ledger: every step is a trial like any other, a repeated action is answered
from the ledger), the observation is the evaluated metrics, the reward a scalarisation of
the study's objectives. Needs the `gym` extra (`pip install "hwnas[gym]"`).

>>> env = HwnasEnv(objectives=["accuracy:max", "latency@pixel3:min"], out="runs/gym")
>>> obs, info = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hwnas._imports import optional_import
from hwnas.errors import SpecError
from hwnas.ledger import LEDGER_FILE
from hwnas.results import Evaluation
from hwnas.strategies import Strategy, make_strategy
from hwnas.study import Study
from hwnas.trial import FAILED, OK, Trial

gymnasium = optional_import("gymnasium", "hwnas.gym")

#: the id under which `gymnasium.make` builds a `HwnasEnv` (after `import hwnas.gym`, or as
#: `gymnasium.make("hwnas.gym:hwnas/Study-v0", ...)`)
ENV_ID = "hwnas/Study-v0"
#: the reward of an infeasible or failed evaluation, and of an action past the budget
WORST = -1.0
#: a study's budget when the environment starts one and none is given
DEFAULT_BUDGET = 1000

#: a reward function: the ledger's record of the step's evaluation -> reward
RewardFn = Callable[[Evaluation], float]


class HwnasEnv(gymnasium.Env):  # type: ignore[misc,name-defined]
    """One architecture per step, evaluated by a `Study`.

    - action: `MultiDiscrete(space.cardinalities)`, the genes (canonicalised by the space);
    - observation: a `Box` of `observation_names`: each metric's value, then the flags
      `feasible` (1 for an evaluation within every constraint) and `failed` (1 when it
      could not be evaluated; its metrics read 0); all 0 after `reset`;
    - reward: `"weighted"` (default) is minus the weighted sum (`weights`, equal by default)
      of the objectives as minimisation values, min-max normalised over the whole table
      when every objective is tabular (else over the feasible evaluations so far), so it
      lies in [-1, 0]; infeasible and failed evaluations get -1. Or a callable given the
      ledger's `Evaluation` of the step;
    - episode: `episode_length` steps (1: a bandit, ArchGym's one design point per episode);
      `truncated` when the study's budget is spent and the action is not yet recorded;
    - info: `arch`, `trial` (an earlier trial's number when the ledger already held the
      architecture), `status`, `feasible`, `metrics`, `provenance`, `error`.

    `out` is a run directory (a new one, or an existing run, resumed with its trials) or a
    `Study` to drive; `None` keeps the ledger in memory. With a `Study`, its configuration
    is the environment's: give no space, dataset, objectives or constraints then."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        space: str | None = None,
        dataset: str | None = None,
        objectives: Sequence[str] | None = None,
        constraints: Sequence[str] | None = None,
        reward: str | RewardFn = "weighted",
        weights: Sequence[float] | None = None,
        episode_length: int = 1,
        budget: int | None = None,
        out: str | Path | Study | None = None,
        quality: str | None = None,
    ) -> None:
        super().__init__()
        if not (isinstance(episode_length, int) and episode_length >= 1):
            raise SpecError(f"episode_length must be an integer >= 1, got {episode_length!r}")
        if not (callable(reward) or reward == "weighted"):
            raise SpecError(f"reward must be 'weighted' or a callable, got {reward!r}")
        given = {"space": space, "dataset": dataset, "objectives": objectives,
                 "constraints": constraints, "quality": quality}  # fmt: skip
        self._owns_study = not isinstance(out, Study)
        if isinstance(out, Study):
            named = sorted(k for k, v in {**given, "budget": budget}.items() if v is not None)
            if named:
                raise SpecError(
                    f"HwnasEnv(out=Study) drives that study's configuration; drop {', '.join(named)}"
                )
            self.study = out
        else:
            self.study = _open_study({k: v for k, v in given.items() if v is not None}, budget, out)
        self.space = self.study.space
        self.objectives = self.study.objectives
        self.reward_fn = reward
        try:
            self.weights = _weights(weights, len(self.objectives))
        except SpecError:
            if self._owns_study:
                self.study.ledger.close()
            raise
        self.episode_length = episode_length
        self.observation_names = [*self.study.metric_names, "feasible", "failed"]
        self.action_space = gymnasium.spaces.MultiDiscrete(list(self.space.cardinalities))
        n = len(self.study.metric_names)
        self.observation_space = gymnasium.spaces.Box(
            np.array([-np.inf] * n + [0.0, 0.0]),
            np.array([np.inf] * n + [1.0, 1.0]),
            dtype=np.float64,
        )
        self._bounds = _table_bounds(self.study)
        self._steps = 0
        self._closed = False

    # --- the Gymnasium API ---------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._steps = 0
        return np.zeros(len(self.observation_names)), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        try:
            genes = [int(g) for g in np.asarray(action).reshape(-1)]
        except (TypeError, ValueError):
            raise SpecError(f"action {action!r} is not a vector of gene indices") from None
        if len(genes) != len(self.space.cardinalities) or not self.action_space.contains(
            np.asarray(genes, dtype=self.action_space.dtype)
        ):
            raise SpecError(
                f"action {genes} is not in {self.action_space} ({self.space.name}'s genes)"
            )
        self._steps += 1
        terminated = self._steps >= self.episode_length
        try:
            arch = self.space.make(genes)
        except SpecError as exc:  # an invalid architecture: the space says why
            info = {"arch": None, "genes": genes, "status": FAILED, "feasible": False,
                    "error": str(exc)}  # fmt: skip
            return self._flagged(failed=True), WORST, terminated, False, info
        if self.remaining() <= 0 and self.study.lookup(arch) is None:
            info = {"arch": arch.key, "status": None, "feasible": False, "budget_spent": True}
            return self._flagged(failed=False), WORST, False, True, info
        evaluation = self.study.evaluate([arch])[0]
        return (
            self.observe(evaluation),
            self.reward(evaluation),
            terminated,
            False,
            {
                "arch": evaluation.arch,
                "trial": evaluation.trial,
                "status": evaluation.status,
                "feasible": evaluation.status == OK,
                "metrics": dict(evaluation.metrics),
                "provenance": evaluation.provenance,
                "error": evaluation.error,
            },
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.study.close()
        if self._owns_study:
            self.study.ledger.close()

    # --- reading -------------------------------------------------------------------------
    def remaining(self) -> int:
        """New architectures the study's budget still allows."""
        return self.study.config.budget - len(self.study.ledger)

    def observe(self, evaluation: Evaluation) -> np.ndarray:
        """The observation of an evaluation: metrics (0 where missing), feasible, failed."""
        values = [evaluation.value(m) for m in self.study.metric_names]
        values = [v if math.isfinite(v) else 0.0 for v in values]
        flags = [float(evaluation.status == OK), float(evaluation.status == FAILED)]
        return np.array(values + flags, dtype=np.float64)

    def reward(self, evaluation: Evaluation) -> float:
        """The reward of an evaluation under this environment's scalarisation."""
        if callable(self.reward_fn):
            return float(self.reward_fn(evaluation))
        if evaluation.status != OK:
            return WORST
        F = np.array([o.to_min(evaluation.value(o.metric.name)) for o in self.objectives])
        if not np.all(np.isfinite(F)):
            return WORST
        lo, hi = self._bounds if self._bounds is not None else self._seen_bounds()
        span = np.where(hi > lo, hi - lo, 1.0)
        return float(-(np.clip((F - lo) / span, 0.0, 1.0) @ self.weights))

    def _seen_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Minimisation bounds over the feasible evaluations so far (non-tabular metrics)."""
        rows = [e for e in self.study.results().rows if e.status == OK]
        F = np.array([[o.to_min(e.value(o.metric.name)) for o in self.objectives] for e in rows])
        F = F.reshape(len(rows), len(self.objectives))
        F = F[np.all(np.isfinite(F), axis=1)]
        if not len(F):
            return np.zeros(len(self.objectives)), np.ones(len(self.objectives))
        return F.min(axis=0), F.max(axis=0)

    def _flagged(self, failed: bool) -> np.ndarray:
        obs = np.zeros(len(self.observation_names))
        obs[-1] = float(failed)
        return obs


def run_strategy(
    env: HwnasEnv,
    strategy: str = "reinforce",
    steps: int = 100,
    seed: int = 0,
    options: dict[str, Any] | None = None,
) -> Strategy:
    """Drive `env` with a registered strategy as the agent, through its ask/tell: each
    asked architecture is one `env.step`, the strategy is told each batch. Returns the
    strategy (its learned state). Stops early when the space or the budget is exhausted."""
    agent = make_strategy(strategy, env.study.problem(), seed, options)
    env.reset(seed=seed)
    done = 0
    while done < steps:
        batch = agent.ask(min(max(agent.batch_size, 1), steps - done))
        if not batch:
            break
        trials = []
        for arch in batch:
            _, _, terminated, truncated, info = env.step(np.array(arch.genes))
            if truncated and info.get("budget_spent"):
                return agent
            trials.append(
                Trial(info["trial"], arch, info["status"], info["metrics"], info["error"])
            )
            if terminated or truncated:
                env.reset()
        agent.tell(trials)
        done += len(batch)
    return agent


def _open_study(config: dict[str, Any], budget: int | None, out: str | Path | None) -> Study:
    """A new study, or the run in `out` resumed (its trials kept, its budget raised to
    `budget` when that is given; another configuration is refused with the difference)."""
    if out is not None and (Path(out) / LEDGER_FILE).exists():
        overrides: dict[str, Any] = {**config, **({} if budget is None else {"budget": budget})}
        return Study.resume(out, **overrides)
    return Study(**config, budget=DEFAULT_BUDGET if budget is None else budget, out_dir=out)


def _table_bounds(study: Study) -> tuple[np.ndarray, np.ndarray] | None:
    """The objectives' minimisation bounds over the whole table, or None (not tabular)."""
    results = study.results()
    return results.table_bounds() if results.objectives_tabular() else None


def _weights(weights: Sequence[float] | None, n: int) -> np.ndarray:
    """Objective weights normalised to sum 1; equal when not given."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(w) != n or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise SpecError(f"weights must be {n} finite non-negative numbers, not all 0")
    return np.asarray(w / w.sum())


if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="hwnas.gym:HwnasEnv")
