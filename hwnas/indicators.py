"""Quality indicators of a found front against the true one, on minimisation matrices
min-max normalised with bounds taken over the whole space (reference point 1, ..., 1)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from hwnas.pareto import hypervolume, pareto_mask


def normalise(F: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    span = np.where(upper > lower, upper - lower, 1.0)
    return (np.asarray(F, dtype=np.float64) - lower) / span


def hypervolume_ratio(
    found: np.ndarray, true: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> float:
    """HV(found) / HV(true), both normalised to [0, 1] per objective, reference (1, ..., 1).
    The gap reported by benchmarks is 1 - this."""
    ref = np.ones(len(lower))
    true_hv = hypervolume(normalise(true, lower, upper), ref)
    if true_hv <= 0:
        return float("nan")
    found = np.asarray(found, dtype=np.float64).reshape(-1, len(lower))
    return hypervolume(normalise(found, lower, upper), ref) / true_hv


def igd(found: np.ndarray, true: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Inverted generational distance: mean distance from each true-front point to the
    nearest found point, in normalised objective space (lower is better)."""
    found = np.asarray(found, dtype=np.float64).reshape(-1, len(lower))
    if len(found) == 0:
        return float("inf")
    T = normalise(true, lower, upper)
    A = normalise(found[pareto_mask(found)], lower, upper)
    d = np.sqrt(((T[:, None, :] - A[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    return float(d.mean())


def front_share(found_keys: Iterable[str], true_keys: Iterable[str]) -> float:
    """Share of the true front's architectures that the search evaluated."""
    true = set(true_keys)
    return len(true & set(found_keys)) / len(true) if true else float("nan")
