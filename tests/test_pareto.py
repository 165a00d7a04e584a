from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from hwnas.indicators import front_share, hypervolume_ratio, igd
from hwnas.pareto import crowding_distance, hypervolume, non_dominated_sort, pareto_mask


def brute_mask(F: np.ndarray) -> np.ndarray:
    n = len(F)
    return np.array(
        [not any(np.all(F[j] <= F[i]) and np.any(F[j] < F[i]) for j in range(n)) for i in range(n)]
    )


@pytest.mark.parametrize("m", [2, 3])
def test_pareto_mask_matches_brute_force(m: int) -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        F = rng.integers(0, 6, size=(25, m)).astype(float)  # many ties
        assert np.array_equal(pareto_mask(F), brute_mask(F))


def test_non_dominated_sort_with_constraints() -> None:
    F = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [0, 0], [4, 4]], dtype=float)
    v = np.array([0, 0, 0, 0, 2.0, 1.0])  # the best point is infeasible
    ranks = non_dominated_sort(F, v)
    assert list(ranks[:4]) == [0, 0, 0, 1]
    assert ranks[5] < ranks[4]  # less violation ranks first among the infeasible
    nan_rank = non_dominated_sort(np.array([[np.nan, 1.0], [5.0, 5.0]]))
    assert nan_rank[1] < nan_rank[0]  # a failed evaluation ranks last


def test_crowding_distance_boundaries_infinite() -> None:
    F = np.array([[0, 4], [1, 3], [2, 1], [4, 0]], dtype=float)
    d = crowding_distance(F)
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert d[1] == pytest.approx((2 - 0) / 4 + (4 - 1) / 4)


def test_hypervolume_2d_and_3d_by_hand() -> None:
    F = np.array([[0.2, 0.6], [0.5, 0.3], [0.8, 0.1]])
    expected = 0.8 * 0.4 + 0.5 * 0.3 + 0.2 * 0.2
    assert hypervolume(F, np.array([1.0, 1.0])) == pytest.approx(expected)
    # 3-D: union of boxes, checked by Monte-Carlo-free inclusion-exclusion
    G = np.array([[0.5, 0.5, 0.5], [0.2, 0.8, 0.8]])
    boxes = [np.prod(1 - g) for g in G]
    inter = np.prod(1 - np.maximum(G[0], G[1]))
    assert hypervolume(G, np.ones(3)) == pytest.approx(sum(boxes) - inter)
    # points outside the reference box contribute nothing
    assert hypervolume(np.array([[1.5, 0.1]]), np.ones(2)) == 0.0


def test_hypervolume_3d_matches_grid_count() -> None:
    rng = np.random.default_rng(1)
    G = rng.integers(0, 4, size=(6, 3)).astype(float)
    ref = np.full(3, 4.0)
    cells = sum(
        any(np.all(g <= np.array(c)) for g in G) for c in itertools.product(range(4), repeat=3)
    )
    assert hypervolume(G, ref) == pytest.approx(cells)


def test_indicators() -> None:
    true = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    lower, upper = np.zeros(2), np.full(2, 2.0)
    assert hypervolume_ratio(true, true, lower, upper) == pytest.approx(1.0)
    part = hypervolume_ratio(true[:1], true, lower, upper)
    assert 0 < part < 1
    assert igd(true, true, lower, upper) == pytest.approx(0.0)
    assert igd(true[:1], true, lower, upper) > 0
    assert front_share(["a", "x"], ["a", "b"]) == 0.5


def test_hypervolume_of_seven_objectives_is_estimated_quickly_and_reproducibly() -> None:
    # exact slicing grows as n ** (m - 1): 7 objectives x 300 points would never finish
    from hwnas.pareto import hypervolume_is_exact, hypervolume_method

    rng = np.random.default_rng(1)
    F = rng.random((300, 7))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    assert not hypervolume_is_exact(len(F), 7) and hypervolume_is_exact(10**6, 3)
    assert hypervolume_method(False) == "monte-carlo (100000 samples)"
    started = time.perf_counter()
    hv = hypervolume(F, np.ones(7))
    assert time.perf_counter() - started < 20
    assert hv == hypervolume(F, np.ones(7))
    # a single point's box is exact even at 7 objectives; the estimate sits near it
    assert hypervolume(np.full((1, 7), 0.5), np.ones(7)) == pytest.approx(0.5**7)
    ratio = hypervolume_ratio(F[:100], F, np.zeros(7), np.ones(7))
    assert 0 < ratio <= 1
