"""Indicators of one run's evaluations (a prefix per budget) against the true front."""

from __future__ import annotations

import numpy as np

from hwnas.bench._tasks import TaskContext
from hwnas.indicators import front_share, hypervolume_ratio, igd


def indicators(ctx: TaskContext, keys: list[str], F: np.ndarray) -> dict[str, float]:
    """HV gap (1 - HV ratio), IGD and the share of the true front found, for the
    evaluations `keys` with minimisation rows `F`."""
    ok = np.all(np.isfinite(F), axis=1)
    found = F[ok]
    ratio = hypervolume_ratio(found, ctx.true_F, ctx.lower, ctx.upper) if len(found) else 0.0
    return {
        "hv_gap": max(0.0, 1.0 - ratio),
        "igd": igd(found, ctx.true_F, ctx.lower, ctx.upper),
        "front_share": front_share(keys, ctx.true_keys),
    }
