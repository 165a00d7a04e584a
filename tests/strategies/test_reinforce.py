"""`reinforce`: it learns on NB201 (its later trials beat its first), runs with two
objectives, scores failures worst, resumes from its snapshot, refuses bad options, and
runs from the CLI. The ask/tell contract itself is `test_conformance`'s."""

from __future__ import annotations

import numpy as np
import pytest

import hwnas
from hwnas.strategies import make_strategy
from hwnas.strategies.reinforce import Reinforce
from hwnas.testing._strategy import drive, synthetic, tiny_problem
from hwnas.trial import FAILED, INFEASIBLE, OK, Trial


def test_reinforce_learns_on_nb201_accuracy() -> None:
    study = hwnas.Study(objectives=["accuracy:max"], strategy="reinforce", budget=200, seed=0)
    acc = study.optimize().evaluations()["accuracy"].to_numpy()
    # uniform sampling averages about 84.5 %: the policy moved towards good cells
    assert acc[-50:].mean() > acc[:50].mean() + 1.5
    assert acc[-50:].mean() > 86.5


def test_reinforce_with_two_objectives_improves_its_scalarised_reward() -> None:
    study = hwnas.Study(
        objectives=["accuracy:max", "latency@pixel3:min"], strategy="reinforce", budget=200
    )
    frame = study.optimize().evaluations()
    assert len(frame) == 200 and len(study.pareto_front()) >= 3
    F = np.column_stack([-frame["accuracy"], frame["latency@pixel3"]])
    scaled = (F - F.min(0)) / (F.max(0) - F.min(0))
    reward = -scaled.mean(1)  # the strategy's scalarisation, normalised over the whole run
    assert reward[-50:].mean() > reward[:50].mean()


def test_infeasible_and_failed_trials_get_the_worst_reward() -> None:
    strategy = Reinforce(tiny_problem(["latency@x<=4"]), seed=0)
    archs = strategy.ask(3)
    trials = [
        Trial(0, archs[0], OK, synthetic(archs[0])),
        Trial(1, archs[1], INFEASIBLE, synthetic(archs[1])),
        Trial(2, archs[2], FAILED, {}, "boom"),
    ]
    strategy.tell(trials)
    assert list(strategy.rewards(trials)) == [0.0, -1.0, -1.0]
    for p in strategy.probabilities():
        assert p.sum() == pytest.approx(1.0)
    # the feasible cell's genes gained probability
    assert all(p[g] > 1 / len(p) for p, g in zip(strategy.probabilities(), archs[0].genes))


def test_weights_steer_the_reward() -> None:
    problem = tiny_problem()
    archs = [problem.space.make([2, 1, 0]), problem.space.make([0, 0, 0])]
    trials = [Trial(i, a, OK, synthetic(a)) for i, a in enumerate(archs)]
    for weights, best in (([1, 0], 0), ([0, 1], 1)):
        strategy = Reinforce(problem, weights=weights)
        strategy.tell(trials)
        assert int(np.argmax(strategy.rewards(trials))) == best


def test_snapshot_restores_the_policy_exactly() -> None:
    import json

    first = Reinforce(tiny_problem(), seed=3, batch_size=4)
    drive(first, budget=8)
    state = json.loads(json.dumps(first.snapshot()))
    again = Reinforce(tiny_problem(), seed=3, batch_size=4)
    again.restore(state, first.trials)
    assert [a.key for a in again.ask(4)] == [a.key for a in first.ask(4)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"weights": [1.0]}, "weights must be a list of 2 numbers"),
        ({"weights": [-1, 1]}, "non-negative"),
        ({"learning_rate": -0.1}, "learning_rate must be >= 0"),
        ({"baseline_decay": 1.5}, "baseline_decay must be in"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict, message: str) -> None:
    with pytest.raises(hwnas.SpecError, match=message):
        make_strategy("reinforce", tiny_problem(), 0, options)


def test_cli_search_with_reinforce(cli, tmp_path) -> None:
    result = cli(
        "search", "--strategy", "reinforce", "--option", "weights=[2,1]", "--budget", "20",
        "--out", "run", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(hwnas.load_results(tmp_path / "run")) == 20
