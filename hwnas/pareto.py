"""Pareto machinery on minimisation matrices (rows = points, columns = objectives):
dominance, non-dominated sorting with Deb's constraint handling, crowding, hypervolume."""

from __future__ import annotations

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
    """O(n log n): sort by f0 then f1; a point is on the front iff its f1 is below every
    f1 of points with strictly smaller f0 (and not beaten by an equal-f0 point)."""
    order = np.lexsort((F[:, 1], F[:, 0]))
    mask = np.zeros(len(F), dtype=bool)
    best_f1 = np.inf
    i = 0
    while i < len(order):
        j = i
        f0 = F[order[i], 0]
        while j < len(order) and F[order[j], 0] == f0:
            j += 1
        group = order[i:j]
        gmin = F[group, 1].min()
        if gmin < best_f1:
            mask[group[F[group, 1] == gmin]] = True
            best_f1 = gmin
        i = j
    return mask


def non_dominated_sort(F: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """Front rank of every row (0 = best). With `violation`, Deb's rules: feasible rows
    beat infeasible ones, infeasible rows are ranked by total violation."""
    F = np.asarray(F, dtype=np.float64)
    n = len(F)
    ranks = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return ranks
    v = np.zeros(n) if violation is None else np.asarray(violation, dtype=np.float64)
    bad = ~np.all(np.isfinite(F), axis=1)
    v = np.where(bad, np.inf, v)
    feasible = v == 0
    rank = 0
    remaining = np.flatnonzero(feasible)
    while len(remaining):
        mask = pareto_mask(F[remaining])
        ranks[remaining[mask]] = rank
        remaining = remaining[~mask]
        rank += 1
    infeasible = np.flatnonzero(~feasible)
    if len(infeasible):
        levels = np.unique(v[infeasible])
        for level in levels:
            ranks[infeasible[v[infeasible] == level]] = rank
            rank += 1
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
