"""Shared fixtures: fast predictor settings, NB201 encodings and targets (loaded once per
session)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def nb201_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, cifar10 validation accuracy, raspi4 latency) of every NB201 cell."""
    from hwnas.spaces import get_space
    from hwnas.tabular.nb201 import load_frame

    space = get_space("nb201")
    frame = load_frame()
    genes = frame[["op_1_0", "op_2_0", "op_2_1", "op_3_0", "op_3_1", "op_3_2"]].to_numpy()
    archs = [space.make(g) for g in genes]
    X = np.hstack([space.encode(archs, "onehot"), space.encode(archs, "opcount")])
    return (
        X,
        frame["cifar10valid_valid_acc_200ep"].to_numpy(dtype=float),
        frame["cifar10_raspi4_latency_ms"].to_numpy(dtype=float),
    )


@pytest.fixture(scope="session")
def fast() -> dict[str, dict[str, int]]:
    """Smaller ensembles for the predictors that are slow at their defaults."""
    return {"gbt": {"n_members": 3, "n_estimators": 60}, "mlp": {"n_members": 2, "max_iter": 300}}
