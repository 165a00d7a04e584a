"""Specifics of the surrogate-guided strategies (`bayes`, `linas`) and of the shared
machinery: the vectorised hypervolume improvement, the inner NSGA-II path of LINAS,
constraint-aware candidate pools, and learning from what was told only."""

from __future__ import annotations

import numpy as np
import pytest

import hwnas
from hwnas.bench import context, parse_task
from hwnas.pareto import hypervolume
from hwnas.spaces import Dimension, SearchSpace
from hwnas.strategies import Problem, make_strategy
from hwnas.strategies._surrogate import hvi_2d
from hwnas.trial import Trial


def test_hvi_2d_matches_exact_hypervolume_differences() -> None:
    rng = np.random.default_rng(0)
    ref = np.array([1.1, 1.1])
    for _ in range(20):
        front = rng.random((int(rng.integers(0, 8)), 2))
        points = rng.random((30, 2)) * 1.2
        got = hvi_2d(front, points, ref)
        base = hypervolume(front, ref) if len(front) else 0.0
        want = [
            hypervolume(np.vstack([front, p[None]]) if len(front) else p[None], ref) - base
            for p in points
        ]
        np.testing.assert_allclose(got, want, atol=1e-12)


def _run(method: str, task: str, seed: int, budget: int) -> float:
    from hwnas.bench import run_one

    return run_one(method, parse_task(task), seed, (budget,)).at[budget]["hv_gap"]


@pytest.mark.parametrize("method", ["bayes", "linas"])
def test_finds_a_better_front_than_random_on_nb201(method: str) -> None:
    """Averaged over a few seeds, on a task where latency is linear in op counts."""
    seeds = range(3)
    guided = np.mean([_run(method, "cifar10:eyeriss", s, 60) for s in seeds])
    random = np.mean([_run("random", "cifar10:eyeriss", s, 60) for s in seeds])
    assert guided < random


def test_linas_inner_nsga2_path_proposes_new_archs_that_pass_precheck() -> None:
    ctx = context(parse_task("cifar10:eyeriss"))
    problem = Problem(
        ctx.space,
        ctx.problem.objectives,
        precheck=lambda a: float(a.genes.count(3) > 3),  # at most 3 conv3x3
    )
    strategy = make_strategy(
        "linas",
        problem,
        seed=0,
        options={"exhaustive": False, "n_init": 10, "inner_generations": 3},
    )
    asked: list[str] = []
    for _ in range(3):
        batch = strategy.ask(10)
        assert all(a.genes.count(3) <= 3 for a in batch)
        strategy.tell(ctx.trials(batch, len(asked)))
        asked += [a.key for a in batch]
    assert len(asked) == 30 and len(set(asked)) == 30


@pytest.mark.parametrize("exhaustive", [False, True])
def test_linas_prechecks_only_what_it_ranks_for_a_batch(exhaustive: bool) -> None:
    """A precheck may build and count a network; linas checks candidates in rank order
    until a batch is full, not every child of its inner search (1,500 a batch) nor every
    cell of an enumerable space (15,625), and still proposes only what passes."""
    ctx = context(parse_task("cifar10:eyeriss"))
    checked: list[str] = []

    def precheck(arch: hwnas.Architecture) -> float:
        checked.append(arch.key)
        return float(arch.genes.count(3) > 3)  # at most 3 conv3x3

    problem = Problem(ctx.space, ctx.problem.objectives, precheck=precheck)
    options = {"exhaustive": exhaustive, "n_init": 10}
    strategy = make_strategy("linas", problem, seed=0, options=options)
    asked: list[str] = []
    for _ in range(4):
        before = len(checked)
        batch = strategy.ask(10)
        assert all(a.genes.count(3) <= 3 for a in batch)
        if len(asked) >= 10:  # a guided batch; a study caches prechecks by key
            new = set(checked[before:]) - set(checked[:before])
            assert len(new) <= 200, len(new)
        strategy.tell(ctx.trials(batch, len(asked)))
        asked += [a.key for a in batch]
    assert len(set(asked)) == 40


def test_linas_exhaustive_on_a_large_space_is_refused() -> None:
    from hwnas.strategies._surrogate import ENUMERATE_LIMIT

    class Big(SearchSpace):
        name = "big"

        def __init__(self) -> None:
            self.dimensions = tuple(Dimension(f"d{i}", tuple(range(10))) for i in range(6))

        def key(self, genes) -> str:  # type: ignore[no-untyped-def]
            return ",".join(map(str, genes))

    assert Big().size() > ENUMERATE_LIMIT
    problem = Problem(Big(), context(parse_task("cifar10:fpga")).problem.objectives)
    with pytest.raises(hwnas.SpecError, match="too large"):
        make_strategy("linas", problem, seed=0, options={"exhaustive": True})


def test_bayes_never_proposes_what_precheck_rejects_after_the_initial_design() -> None:
    ctx = context(parse_task("cifar10:fpga"))
    problem = Problem(ctx.space, ctx.problem.objectives, precheck=lambda a: float(a.genes[3] != 1))
    strategy = make_strategy("bayes", problem, seed=0, options={"n_init": 5})
    asked = 0
    for _ in range(4):
        batch = strategy.ask(5)
        assert batch and all(a.genes[3] == 1 for a in batch)
        strategy.tell(ctx.trials(batch, asked))
        asked += len(batch)


def test_bayes_learns_only_from_told_trials() -> None:
    """Telling different values changes the proposals: nothing else is read."""
    ctx = context(parse_task("cifar10:fpga"))

    def proposals(flip: bool) -> list[str]:
        strategy = make_strategy("bayes", ctx.problem, seed=3, options={"n_init": 10})
        batch = strategy.ask(10)
        trials = ctx.trials(batch, 0)
        if flip:  # tell the opposite accuracies
            trials = [
                Trial(
                    t.number, t.arch, t.status, {**t.values, "accuracy": 100 - t.values["accuracy"]}
                )
                for t in trials
            ]
        strategy.tell(trials)
        return [a.key for a in strategy.ask(10)]

    assert proposals(False) != proposals(True)


@pytest.mark.parametrize("name", ["bayes", "linas", "local", "evolution"])
def test_a_smaller_ask_is_a_prefix_of_a_larger_one(name: str) -> None:
    """A study whose budget ends mid-batch asks fewer; resumed, it asks a full batch and
    must get the same first picks, or the replay would not match the ledger."""
    ctx = context(parse_task("cifar10:pixel3"))

    def last_ask(n: int) -> list[str]:
        options = {"population_size": 20} if name == "evolution" else {"batch_size": 10}
        strategy = make_strategy(name, ctx.problem, seed=2, options=options)
        for told in range(0, 30, 10):
            strategy.tell(ctx.trials(strategy.ask(10), told))
        return [a.key for a in strategy.ask(n)]

    assert last_ask(5) == last_ask(10)[:5]


def test_auto_models_pick_a_linear_model_for_additive_cost_and_trees_for_accuracy() -> None:
    """The cross-validated choice of `predictor="auto"`: eyeriss latency is exactly linear
    in op counts, CIFAR-10 accuracy is not."""
    from hwnas.strategies._surrogate import ObjectiveModels

    ctx = context(parse_task("cifar10:eyeriss"))
    rng = np.random.default_rng(0)
    archs = list({a.key: a for a in (ctx.space.sample(rng) for _ in range(80))}.values())
    models = ObjectiveModels(ctx.problem, "auto")
    assert models.fit(ctx.trials(archs, 0))
    names = [type(model).name for model, _ in models.models]
    assert names == ["gbt", "ridge"]  # objectives: accuracy, then latency
    mean, std = models.predict(archs[:5])
    assert mean.shape == std.shape == (5, 2)


def test_linas_local_share_takes_its_slots_among_the_front_neighbours() -> None:
    """With local_share=0.3 and batches of 10, slots 0-2 of each batch are unseen one-gene
    neighbours of the told front; the rest are the best predicted anywhere."""
    ctx = context(parse_task("cifar10:raspi4"))
    strategy = make_strategy(
        "linas", ctx.problem, seed=1, options={"n_init": 10, "local_share": 0.3}
    )
    told = 0
    for _ in range(3):
        front = {t.arch.key for t in strategy.front_trials()}
        near = {a.key for t in strategy.front_trials() for a in ctx.space.neighbours(t.arch)} - {
            t.arch.key for t in strategy.trials
        }
        batch = strategy.ask(10)
        if told >= 10:  # past the random initial design
            assert front and all(a.key in near for a in batch[:3])
        assert len({a.key for a in batch}) == 10
        strategy.tell(ctx.trials(batch, told))
        told += 10
    with pytest.raises(ValueError, match="local_share"):
        make_strategy("linas", ctx.problem, seed=0, options={"local_share": 1.5})
