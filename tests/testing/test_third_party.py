"""A third party's plugins, written here as an author outside hwnas would (public `hwnas`
names only): a toy space, a round-robin strategy and a target whose source is a formula of
the genes. Each passes its `hwnas.testing` suite and a `hwnas.Study` runs them together;
each suite also catches a broken plugin of its kind, with a message that says what broke."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pytest

import hwnas
from hwnas.testing import (
    check_executor,
    check_predictor,
    check_quality,
    check_space,
    check_strategy,
    check_target,
)


class Grid(hwnas.SearchSpace):
    """Width x depth x kernel, 48 networks keyed like `w16-d2-k5`."""

    datasets: ClassVar[tuple[str, ...]] = ("toy",)

    def __init__(self) -> None:
        self.dimensions = (
            hwnas.Dimension("w", (8, 16, 32, 64)),
            hwnas.Dimension("d", (1, 2, 3, 4)),
            hwnas.Dimension("k", (3, 5, 7)),
        )

    def key(self, genes: Sequence[int]) -> str:
        return "-".join(f"{d.name}{d.choices[g]}" for d, g in zip(self.dimensions, genes))

    def parse(self, text: str) -> hwnas.Architecture:
        parts = text.split("-")
        if len(parts) != len(self.dimensions):
            raise hwnas.SpecError(f"{text!r} is not an architecture like w16-d2-k5")
        try:
            genes = [
                d.choices.index(int(p.removeprefix(d.name))) for d, p in zip(self.dimensions, parts)
            ]
        except ValueError:
            raise hwnas.SpecError(f"{text!r} is not an architecture like w16-d2-k5") from None
        return self.make(genes)


class RoundRobin(hwnas.Strategy):
    """Sweeps the space in mixed-radix order (first dimension fastest) from a seeded start,
    skipping what the cheap constraints already rule out."""

    def __init__(self, problem: hwnas.Problem, seed: int = 0) -> None:
        super().__init__(problem, seed)
        self.start, self.steps = int(self.rng.integers(problem.space.size())), 0

    def _propose(self, n: int) -> list[hwnas.Architecture]:
        out: list[hwnas.Architecture] = []
        while len(out) < n and self.steps < self.space.size():
            rest, genes = (self.start + self.steps) % self.space.size(), []
            for card in self.space.cardinalities:
                rest, gene = divmod(rest, card)
                genes.append(gene)
            self.steps += 1
            precheck = self.problem.precheck
            if not self.space.is_valid(genes) or (precheck and precheck(self.space.make(genes))):
                continue
            arch = self.space.make(genes)
            if self.is_new(arch) and arch not in out:
                out.append(arch)
        return out


class Formula(hwnas.MetricSource):
    """Latency (ms) or energy (mJ) of a grid network, from a fitted formula."""

    def __init__(self, metric: hwnas.Metric, space: hwnas.SearchSpace) -> None:
        self.metric, self.base, self.space = metric.name, metric.base, space

    def evaluate_one(self, arch: hwnas.Architecture) -> hwnas.Measurement:
        c = self.space.describe(arch)
        work = c["w"] * c["d"] * c["k"] ** 2 / 1e3
        value = 0.5 + work if self.base == "latency" else 2.0 + 0.3 * work + 40 / c["w"]
        return hwnas.Measurement(value, {"kind": "analytic", "formula": "toy board, v1"})


class Board(hwnas.Target):
    """A toy board whose costs are formulas of the grid's genes."""

    def supports(self, ctx: hwnas.EvalContext) -> bool:
        return isinstance(ctx.space, Grid)

    def source(self, ctx: hwnas.EvalContext, metric: hwnas.Metric) -> hwnas.MetricSource:
        if not self.supports(ctx):
            raise hwnas.HwnasError(f"target {self.name!r} knows only the grid space")
        if metric.base not in self.metrics:
            raise hwnas.UnknownNameError(f"metric of {self.name!r}", metric.base, self.metrics)
        return Formula(metric, ctx.space)


BOARD = Board(
    "tp-board", "a toy board", "a formula", kind="analytic", metrics=("latency", "energy")
)


@pytest.fixture(scope="module")
def registered() -> None:
    hwnas.register_space("tp-grid")(Grid)
    hwnas.register_strategy("tp-round-robin")(RoundRobin)
    hwnas.register_target(BOARD)


def test_each_plugin_passes_its_suite(registered: None) -> None:
    check_space(hwnas.get_space("tp-grid"))
    check_strategy("tp-round-robin", study_budget=30)
    check_target(BOARD, "tp-grid")


def test_a_study_runs_the_three_together(registered: None) -> None:
    study = hwnas.Study(
        space="tp-grid",
        dataset="toy",
        objectives=["latency@tp-board:min", "energy@tp-board:min"],
        constraints=["latency@tp-board<=20"],
        strategy="tp-round-robin",
        budget=48,
        seed=1,
    ).optimize()
    evaluations = study.evaluations()
    assert len(evaluations) == 48 and evaluations["arch"].is_unique
    assert set(evaluations["status"]) <= {"ok", "infeasible"}
    row = next(study.ledger.rows())
    assert row["provenance"]["latency@tp-board"]["formula"] == "toy board, v1"
    assert len(study.pareto_front()) >= 2


# --- each suite catches a broken plugin --------------------------------------------------
def test_check_space_catches_a_key_that_is_not_canonical() -> None:
    class KernelBlind(Grid):
        name = "tp-kernel-blind"

        def key(self, genes: Sequence[int]) -> str:  # the kernel is left out
            return super().key(genes).rpartition("-")[0]

    with pytest.raises(AssertionError, match=r"key 'w\d+-d\d+' names two gene vectors"):
        check_space(KernelBlind())


def test_check_space_catches_a_head_that_ignores_the_datas_classes() -> None:
    torch = pytest.importorskip("torch")

    class TenAlways(Grid):
        """Builds networks, but always with the toy dataset's 10 classes."""

        name = "tp-ten-always"

        def input_shape(self, dataset: str) -> tuple[int, int, int]:
            return (1, 2, 2)

        def build(self, arch: hwnas.Architecture, dataset: str, classes: int | None = None) -> Any:
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 10))

    class OldContract(TenAlways):
        name = "tp-old-contract"

        def build(self, arch: hwnas.Architecture, dataset: str) -> Any:  # type: ignore[override]
            return super().build(arch, dataset)

    check_space(TenAlways())  # without networks, nothing is built
    with pytest.raises(AssertionError, match=r"classes=3\) maps .* expected \(1, 3\)"):
        check_space(TenAlways(), networks=True)
    with pytest.raises(AssertionError, match="build\\(\\) refused classes"):
        check_space(OldContract(), networks=True)


def test_check_space_catches_a_layer_table_that_ignores_the_datas_classes() -> None:
    """A profile for 3-class data timed the dataset's 10-class head: `layers` took no
    classes, so a table could not tell the two heads apart."""
    torch = pytest.importorskip("torch")

    class Layered(Grid, hwnas.LayeredSpace):
        name = "tp-layered"

        def input_shape(self, dataset: str) -> tuple[int, int, int]:
            return (1, 2, 2)

        def build(self, arch: hwnas.Architecture, dataset: str, classes: int | None = None) -> Any:
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, classes or 10))

        def layers(  # type: ignore[override]
            self, arch: hwnas.Architecture, dataset: str
        ) -> list[tuple[str, Any, tuple[int, ...]]]:
            return [("head:c10", lambda: torch.nn.Linear(4, 10), (4,))]

    with pytest.raises(AssertionError, match=r"layers\(\) refused classes"):
        check_space(Layered(), n=4, networks=True)


def test_check_strategy_catches_a_strategy_that_asks_twice() -> None:
    @hwnas.register_strategy("tp-stuck")
    class Stuck(hwnas.Strategy):
        def ask(self, n: int) -> list[hwnas.Architecture]:
            return [self.space.make([0] * len(self.space.dimensions))]

    with pytest.raises(AssertionError, match="strategy 'tp-stuck': asked 0-0-0 twice"):
        check_strategy(Stuck)


def test_check_strategy_needs_a_registered_strategy() -> None:
    with pytest.raises(AssertionError, match="register_strategy"):
        check_strategy(type("Anonymous", (RoundRobin,), {}))


def test_check_target_catches_a_source_that_loses_a_measurement(registered: None) -> None:
    class Lossy(Formula):
        def evaluate(self, archs: Sequence[Any]) -> list[hwnas.Measurement]:
            return super().evaluate(archs)[:-1]

    class LossyBoard(Board):
        def source(self, ctx: hwnas.EvalContext, metric: Any) -> hwnas.MetricSource:
            return Lossy(metric, ctx.space)

    board = LossyBoard("tp-lossy", "drops one", "a formula", kind="analytic")
    with pytest.raises(AssertionError, match="returned 7 measurements; one per architecture"):
        check_target(board, Grid())


def test_check_target_catches_a_traceback_on_a_foreign_space(registered: None) -> None:
    class Careless(Board):
        def supports(self, ctx: hwnas.EvalContext) -> bool:
            return True  # but its formula reads the grid's dimension names

    board = Careless("tp-careless", "any space", "a formula", kind="analytic")
    with pytest.raises(AssertionError, match="raised KeyError.*refuse with an HwnasError"):
        check_target(board, Grid())


def test_check_predictor_catches_learning_in_init() -> None:
    class Eager(hwnas.Predictor):
        def __init__(self, shrink: float = 0.0) -> None:
            self.shrink = shrink
            self.coef_ = np.zeros(1)  # learned state belongs to fit()

    with pytest.raises(AssertionError, match=r"already holds learned state \['coef_'\]"):
        check_predictor(Eager())


def test_check_quality_catches_a_value_without_provenance() -> None:
    class Unsourced(hwnas.MetricSource):
        metric = "accuracy"

        def evaluate_one(self, arch: hwnas.Architecture) -> hwnas.Measurement:
            return hwnas.Measurement(50.0)

    class Guess(hwnas.QualityEstimator):
        name = "tp-guess"

        def source(self, ctx: hwnas.EvalContext, metric: Any) -> hwnas.MetricSource:
            return Unsourced()

    with pytest.raises(AssertionError, match="provenance {} is not a non-empty dict"):
        check_quality(Guess())


def test_check_executor_catches_an_executor_that_changes_values() -> None:
    class Rounding(hwnas.Executor):
        name = "tp-rounding"

        def run(self, archs: Sequence[hwnas.Architecture]) -> Iterator[Any]:
            for arch, outcome in self.job.evaluator.evaluate(archs):
                yield (
                    arch,
                    replace(outcome, values={k: round(v) for k, v in outcome.values.items()}),
                )

    with pytest.raises(AssertionError, match="executor 'tp-rounding': trial 0 has metrics"):
        check_executor(Rounding())


def test_ask_zero_proposes_nothing_and_the_suite_checks_it() -> None:
    class Eager(RoundRobin):
        """Proposes two whatever n is."""

        def _propose(self, n: int) -> list[hwnas.Architecture]:
            return super()._propose(max(n, 2))

    problem = hwnas.Problem(Grid(), (hwnas.parse_objective("latency@tp-board:min"),), ())
    assert Eager(problem, 0).ask(0) == []  # the base class guards _propose

    @hwnas.register_strategy("tp-ask-zero")
    class AskZero(RoundRobin):
        def ask(self, n: int) -> list[hwnas.Architecture]:
            return super().ask(max(n, 1))  # an override that skips the guard

    with pytest.raises(AssertionError, match=r"strategy 'tp-ask-zero': ask\(0\) returned 1"):
        check_strategy(AskZero, study_budget=0)
