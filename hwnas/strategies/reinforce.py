"""REINFORCE (Williams, 1992) over an independent categorical distribution per gene: the
policy-gradient controller of NAS (Zoph & Le, 2017) and MnasNet (Tan et al., 2019) without
the RNN, which on cell and macro spaces of a few dozen genes adds parameters, not search
quality. numpy only, so it runs wherever the core does.

The reward of a trial is a scalarisation of the study's objectives: each objective turned
into a minimisation value, min-max normalised over the feasible trials told so far, then a
weighted sum (`weights`, equal by default), negated: 0 is the best seen on every objective,
-1 the worst. Infeasible and failed trials get -1, the worst reward there is. A per-objective
product such as MnasNet's `acc * (lat / T) ** w` needs a target and an exponent per
objective and device; a normalised sum needs neither and holds for any objectives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnas.spaces import Architecture
from hwnas.strategies import register_strategy
from hwnas.strategies._base import Problem, Strategy, require_at_least, require_fraction
from hwnas.trial import OK, Trial

#: attempts per proposal at a new, valid, precheck-passing sample before random sampling
RETRIES = 50
#: the smallest spread a batch's advantages are divided by (a batch of equal rewards
#: teaches nothing, and must not be blown up into a step)
SCALE_FLOOR = 0.05


@register_strategy("reinforce")
class Reinforce(Strategy):
    """Policy-gradient search. Options:

    - `learning_rate` (1.0): step on the logits per batch, whose advantages are divided by
      the batch's reward spread (so the step does not depend on the objectives' scale).
    - `entropy` (0.01): weight of the entropy bonus that keeps the policy from collapsing
      onto one architecture before the space is explored.
    - `baseline_decay` (0.9): the exponential moving average of the batch's mean reward
      that is subtracted from each reward (the variance-reducing baseline).
    - `weights` (equal): one weight per objective for the scalarised reward.
    - `batch_size` (10): architectures sampled per policy update."""

    description = "REINFORCE policy gradient over a categorical distribution per gene"
    restorable = True

    def __init__(
        self,
        problem: Problem,
        seed: int = 0,
        learning_rate: float = 1.0,
        entropy: float = 0.01,
        baseline_decay: float = 0.9,
        weights: Sequence[float] | None = None,
        batch_size: int = 10,
    ) -> None:
        super().__init__(problem, seed)
        require_at_least(0, learning_rate=learning_rate, entropy=entropy)
        require_fraction(baseline_decay=baseline_decay)
        require_at_least(1, batch_size=batch_size)
        self.learning_rate = float(learning_rate)
        self.entropy = float(entropy)
        self.baseline_decay = float(baseline_decay)
        self.batch_size = batch_size
        self.weights = _weights(weights, len(problem.objectives))
        self.logits = [np.zeros(c) for c in self.space.cardinalities]
        self.baseline: float | None = None
        self._lo = np.full(len(problem.objectives), np.inf)
        self._hi = np.full(len(problem.objectives), -np.inf)

    # --- policy ------------------------------------------------------------------------
    def probabilities(self) -> list[np.ndarray]:
        """The policy: one distribution over each gene's choices."""
        return [_softmax(z) for z in self.logits]

    def _propose(self, n: int) -> list[Architecture]:
        probs = self.probabilities()
        cdfs = [np.cumsum(p) for p in probs]
        picks: dict[str, Architecture] = {}
        for _ in range(n):
            for _ in range(RETRIES):
                u = self.rng.random(len(cdfs))
                genes = [min(int(np.searchsorted(c, x, side="right")), len(c) - 1)
                         for c, x in zip(cdfs, u)]  # fmt: skip
                if not self.space.is_valid(genes):
                    continue
                arch = self.space.make(genes)
                if arch.key in picks or not self.is_new(arch):
                    continue
                if self.problem.passes_precheck(arch):
                    picks[arch.key] = arch
                    break
        return self.topped_up(picks, n)

    # --- learning ----------------------------------------------------------------------
    def rewards(self, trials: Sequence[Trial]) -> np.ndarray:
        """Each trial's scalarised reward in [-1, 0] under the current normalisation."""
        F = np.array([self.problem.objective_vector(t) for t in trials]).reshape(len(trials), -1)
        good = np.array([t.status == OK for t in trials], dtype=bool)
        good &= np.all(np.isfinite(F), axis=1)
        span = np.where(self._hi > self._lo, self._hi - self._lo, 1.0)
        scaled = np.clip((F - np.where(np.isfinite(self._lo), self._lo, 0.0)) / span, 0.0, 1.0)
        r = -(np.nan_to_num(scaled, nan=1.0) @ self.weights)
        return np.where(good, r, -1.0)

    def tell(self, trials: Sequence[Trial]) -> None:
        super().tell(trials)
        if not trials:
            return
        for t in trials:  # the batch widens the normalisation before it is scored
            f = self.problem.objective_vector(t)
            if t.status == OK and np.all(np.isfinite(f)):
                self._lo, self._hi = np.minimum(self._lo, f), np.maximum(self._hi, f)
        r = self.rewards(trials)
        baseline = float(r.mean()) if self.baseline is None else self.baseline
        advantage = (r - baseline) / max(float(r.std()), SCALE_FLOOR)
        probs = self.probabilities()
        for d, p in enumerate(probs):
            grad = -p * advantage.sum()  # sum over trials of adv * (onehot(gene) - p)
            for t, a in zip(trials, advantage):
                grad[t.arch.genes[d]] += a
            logp = np.log(np.maximum(p, 1e-12))
            grad_h = -p * (logp + float(-(p * logp).sum()))  # d entropy / d logits
            self.logits[d] = self.logits[d] + self.learning_rate * (
                grad / len(trials) + self.entropy * grad_h
            )
        mean = float(r.mean())
        self.baseline = (
            mean
            if self.baseline is None
            else self.baseline_decay * self.baseline + (1 - self.baseline_decay) * mean
        )

    # --- resume ------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        finite = bool(np.all(np.isfinite(self._lo)))
        return {
            "logits": [z.tolist() for z in self.logits],
            "baseline": self.baseline,
            "lo": self._lo.tolist() if finite else None,
            "hi": self._hi.tolist() if finite else None,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.logits = [np.array(z, dtype=np.float64) for z in state["logits"]]
        if [len(z) for z in self.logits] != list(self.space.cardinalities):
            raise ValueError("the snapshot's policy does not fit the space")
        self.baseline = None if state["baseline"] is None else float(state["baseline"])
        if state["lo"] is not None:
            self._lo = np.array(state["lo"], dtype=np.float64)
            self._hi = np.array(state["hi"], dtype=np.float64)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return np.asarray(e / e.sum())


def _weights(weights: Sequence[float] | None, n: int) -> np.ndarray:
    """Objective weights normalised to sum 1; equal when not given."""
    if weights is None:
        return np.full(n, 1.0 / n)
    if isinstance(weights, str) or len(weights) != n:
        raise ValueError(f"weights must be a list of {n} numbers, one per objective")
    w = np.array([float(x) for x in weights])
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all 0")
    return np.asarray(w / w.sum())
