"""Pareto machinery on minimisation matrices (rows = points, columns = objectives):
dominance, non-dominated sorting with Deb's constraint handling, crowding, hypervolume."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def pareto_mask(F: np.ndarray) -> np.ndarray:
    """Rows not dominated by any other row (duplicates of a front point are all kept).
    A row with a missing (NaN) value is never on the front."""
    F = np.asarray(F, dtype=np.float64)
    n = len(F)
    if n == 0:
        return np.zeros(0, dtype=bool)
    missing = np.isnan(F).any(axis=1)
    if missing.any():
        mask = np.zeros(n, dtype=bool)
        mask[~missing] = pareto_mask(F[~missing])
        return mask
    if F.shape[1] == 2:
        return _pareto_mask_2d(F)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if mask[i]:
            dominated = np.all(F[i] <= F, axis=1) & np.any(F[i] < F, axis=1)
            mask &= ~dominated
    return mask


def _pareto_mask_2d(F: np.ndarray) -> np.ndarray:
    """O(n log n), vectorised: sorted by f0 then f1, a point is on the front iff it has
    the lowest f1 of its f0 group and that f1 is below every f1 of points with strictly
    smaller f0 (so ties with a front point stay on it, as in the general case)."""
    order = np.lexsort((F[:, 1], F[:, 0]))
    f0, f1 = F[order, 0], F[order, 1]
    starts = np.flatnonzero(np.r_[True, f0[1:] != f0[:-1]])
    group = np.cumsum(np.r_[True, f0[1:] != f0[:-1]]) - 1
    before = np.r_[np.inf, np.minimum.accumulate(f1)[:-1]][starts]  # min f1 of smaller f0
    lowest = f1[starts]  # the group's lowest f1 (sorted within the group)
    on_front = (f1 == lowest[group]) & (lowest[group] < before[group])
    mask = np.zeros(len(F), dtype=bool)
    mask[order[on_front]] = True
    return mask


def fronts(F: np.ndarray, violation: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Row indices of each front in rank order, peeled only as far as the caller reads
    (a strategy that needs the first front or two does not pay for all of them). Deb's
    rules with `violation`: feasible rows first, then infeasible ones by total violation;
    rows with a missing value count as infinitely infeasible."""
    F = np.asarray(F, dtype=np.float64)
    n = len(F)
    v = np.zeros(n) if violation is None else np.asarray(violation, dtype=np.float64)
    v = np.where(np.all(np.isfinite(F), axis=1), v, np.inf)
    remaining = np.flatnonzero(v == 0)
    while len(remaining):
        mask = pareto_mask(F[remaining])
        yield remaining[mask]
        remaining = remaining[~mask]
    infeasible = np.flatnonzero(v != 0)
    for level in np.unique(v[infeasible]):
        yield infeasible[v[infeasible] == level]


def non_dominated_sort(F: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """Front rank of every row (0 = best), by `fronts`."""
    ranks = np.full(len(F), -1, dtype=np.int64)
    for rank, members in enumerate(fronts(F, violation)):
        ranks[members] = rank
    return ranks


def crowding_distance(F: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance within one front; boundary points get infinity."""
    F = np.asarray(F, dtype=np.float64)
    n, m = F.shape if F.ndim == 2 else (len(F), 0)
    if n <= 2:
        return np.full(n, np.inf)
    dist = np.zeros(n)
    for k in range(m):
        order = np.argsort(F[:, k], kind="stable")
        span = F[order[-1], k] - F[order[0], k]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (F[order[2:], k] - F[order[:-2], k]) / span
    return dist


# Exact slicing costs about n ** (m - 1) steps: 5e6 is about a second here (6 objectives
# and 50 points took minutes). Past it the volume is a seeded Monte-Carlo estimate.
EXACT_HV_WORK = 5_000_000
HV_SAMPLES = 100_000


def hypervolume_is_exact(n_points: int, n_objectives: int, calls: int = 1) -> bool:
    """Whether `hypervolume` computes a front of this size exactly (always for up to 3
    objectives) rather than estimating it, so callers can say which they report; `calls`
    lets a caller that measures many such fronts (a curve) bound its total time."""
    return n_objectives <= 3 or calls * n_points ** (n_objectives - 1) <= EXACT_HV_WORK


def hypervolume_method(exact: bool) -> str:
    """How a hypervolume was computed, in words for summaries and reports."""
    return "exact" if exact else f"monte-carlo ({HV_SAMPLES} samples)"


def hypervolume(F: np.ndarray, ref: np.ndarray) -> float:
    """Volume dominated by the rows of F and bounded by `ref` (minimisation). Exact by
    slicing when `hypervolume_is_exact` says so, since that grows as
    n ** (m - 1); otherwise a Monte-Carlo estimate from HV_SAMPLES seeded samples, the
    same for the same input."""
    F = np.asarray(F, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if len(F) == 0:
        return 0.0
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    F = F[pareto_mask(F)]
    if hypervolume_is_exact(len(F), F.shape[1]):
        return _hv(F, ref)
    lower = F.min(axis=0)
    share = dominated(F, hv_samples(lower, ref)).mean()
    return float(share * np.prod(ref - lower))


def hv_samples(lower: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """HV_SAMPLES points uniform in the box [lower, ref], from a fixed seed so that an
    estimate is reproducible and two fronts measured on one box share their samples."""
    lower = np.asarray(lower, dtype=np.float64)
    unit = np.random.default_rng(0).random((HV_SAMPLES, len(lower)))
    return lower + unit * (np.asarray(ref, dtype=np.float64) - lower)


def dominated(F: np.ndarray, samples: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Which samples some row of F weakly dominates (in chunks, to bound the memory)."""
    F = np.asarray(F, dtype=np.float64)
    out = np.zeros(len(samples), dtype=bool)
    if len(F) == 0:
        return out
    for start in range(0, len(samples), chunk):
        S = samples[start : start + chunk]
        out[start : start + chunk] = np.all(F[None, :, :] <= S[:, None, :], axis=2).any(axis=1)
    return out


def _hv(F: np.ndarray, ref: np.ndarray) -> float:
    if F.shape[1] == 1:
        return float(ref[0] - F[:, 0].min())
    if F.shape[1] == 2:
        order = np.argsort(F[:, 0], kind="stable")
        F = F[order]
        volume, prev_f1 = 0.0, ref[1]
        for f0, f1 in F:
            if f1 < prev_f1:
                volume += (ref[0] - f0) * (prev_f1 - f1)
                prev_f1 = f1
        return float(volume)
    # slice along the last objective
    order = np.argsort(F[:, -1], kind="stable")
    F = F[order]
    volume = 0.0
    for i in range(len(F)):
        upper = F[i + 1, -1] if i + 1 < len(F) else ref[-1]
        depth = upper - F[i, -1]
        if depth > 0:
            sub = F[: i + 1, :-1]
            sub = sub[pareto_mask(sub)]
            volume += depth * _hv(sub, ref[:-1])
    return float(volume)
