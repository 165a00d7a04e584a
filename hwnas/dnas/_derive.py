"""Reading an architecture off the learned distribution. FBNet and ProxylessNAS take each
layer's most probable choice (`argmax`; on a cell, DARTS's convention leaves out the zero
op, NB201's baseline keeps it: `argmax+none`); when the search was given a cost target, the
argmax of a distribution that is not yet peaked can land far from it (the expected cost
meets the target, the mode need not). `budget` derivation returns instead the most
probable architecture, sum over layers of log p, whose cost is at most the target: a
multiple-choice knapsack solved exactly by dynamic programming over the cost in `bins`
steps, each layer's cost rounded up so the result never exceeds the budget."""

from __future__ import annotations

import math

import numpy as np


def argmax(probabilities: np.ndarray, exclude: int | None = None) -> tuple[int, ...]:
    """Each layer's most probable choice; `exclude` a choice never taken (DARTS derives
    its cells without the zero op)."""
    p = np.array(probabilities, dtype=np.float64)
    if exclude is not None:
        p[:, exclude] = -np.inf
    return tuple(int(k) for k in p.argmax(axis=1))


def most_probable_within(
    probabilities: np.ndarray, base: float, delta: np.ndarray, budget: float, bins: int = 4000
) -> tuple[int, ...] | None:
    """The genes maximising sum log p with base + sum delta <= budget; None when even the
    cheapest architecture costs more."""
    logp = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-300, None))
    lowest = delta.min(axis=1)
    room = budget - base - float(lowest.sum())
    if room < 0:
        return None
    extra = delta - lowest[:, None]  # >= 0, one cheapest choice per layer at 0
    unit = room / bins if room > 0 else 1.0
    steps = (
        np.ceil(extra / unit - 1e-9).astype(np.int64)
        if room > 0
        else np.where(extra > 0, bins + 1, 0)
    )
    layers, choices = delta.shape
    best = np.zeros(bins + 1)  # best log p of the layers so far within b steps
    picks = np.zeros((layers, bins + 1), dtype=np.int64)
    for layer in range(layers):
        new = np.full(bins + 1, -math.inf)
        for k in range(choices):
            s = int(steps[layer, k])
            if s > bins:
                continue
            cand = np.full(bins + 1, -math.inf)
            cand[s:] = best[: bins + 1 - s] + logp[layer, k]
            better = cand > new
            new[better] = cand[better]
            picks[layer, better] = k
        best = new
    genes = []
    b = int(np.argmax(best))
    for layer in range(layers - 1, -1, -1):
        k = int(picks[layer, b])
        genes.append(k)
        b -= int(steps[layer, k])
    return tuple(reversed(genes))
