"""Quality indicators of a found front against the true one, on minimisation matrices
min-max normalised with bounds taken over the whole space (reference point 1, ..., 1)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from hwnas.pareto import (
    dominated,
    hv_samples,
    hypervolume,
    hypervolume_is_exact,
    hypervolume_method,
    pareto_mask,
)


def normalise(F: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    span = np.where(upper > lower, upper - lower, 1.0)
    return (np.asarray(F, dtype=np.float64) - lower) / span


def hv_ratio_exact(n_found: int, n_true: int, n_objectives: int) -> bool:
    """Whether `hypervolume_ratio` of fronts this size is exact (else an estimate)."""
    return hypervolume_is_exact(max(n_found, n_true), n_objectives)


def hv_ratio_method(n_found: int, n_true: int, n_objectives: int) -> str:
    """How `hypervolume_ratio` computes fronts of this size, for a summary to say."""
    return hypervolume_method(hv_ratio_exact(n_found, n_true, n_objectives))


def hypervolume_ratio(
    found: np.ndarray, true: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> float:
    """HV(found) / HV(true), both normalised to [0, 1] per objective, reference (1, ..., 1).
    The gap reported by benchmarks is 1 - this. Past the exact algorithm's size both are
    counted on the same seeded samples of the unit box, so the estimate stays <= 1."""
    m = len(lower)
    ref = np.ones(m)
    found = np.asarray(found, dtype=np.float64).reshape(-1, m)
    T, A = normalise(true, lower, upper), normalise(found, lower, upper)
    if not hv_ratio_exact(len(A), len(T), m):
        samples = hv_samples(np.zeros(m), ref)
        covered = dominated(T[pareto_mask(T)], samples).sum()
        return float(dominated(A, samples).sum() / covered) if covered else float("nan")
    true_hv = hypervolume(T, ref)
    if true_hv <= 0:
        return float("nan")
    return hypervolume(A, ref) / true_hv


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
