from __future__ import annotations

import numpy as np

import hwnas
from hwnas.metrics import parse_objective
from hwnas.spaces import get_space
from hwnas.strategies import Problem
from hwnas.strategies.nsga2 import survival
from hwnas.trial import OK, Trial


def test_survival_keeps_whole_fronts_then_cuts_by_crowding() -> None:
    space = get_space("nb201")
    problem = Problem(space, (parse_objective("a:min"), parse_objective("b:min")))
    rng = np.random.default_rng(0)
    archs = list({space.sample(rng) for _ in range(40)})[:6]
    points = [(0, 4), (1, 3), (2, 2), (4, 0), (3, 3), (5, 5)]  # first four are rank 0
    pool = [Trial(i, a, OK, {"a": x, "b": y}) for i, (a, (x, y)) in enumerate(zip(archs, points))]
    survivors, ranks, _ = survival(problem, pool, 3)
    assert all(r == 0 for r in ranks)
    kept = {(t.values["a"], t.values["b"]) for t in survivors}
    assert {(0, 4), (4, 0)} <= kept  # boundary points have infinite crowding
    _, ranks5, _ = survival(problem, pool, 5)
    assert sorted(ranks5.tolist()) == [0, 0, 0, 0, 1]


def test_nsga2_beats_random_on_nb201_over_seeds() -> None:
    def hv(strategy: str, seed: int) -> float:
        return (
            hwnas.Study(strategy=strategy, budget=200, seed=seed).optimize().summary()["hv_ratio"]
        )

    nsga = np.mean([hv("nsga2", s) for s in range(4)])
    rand = np.mean([hv("random", s) for s in range(4)])
    assert nsga > rand
