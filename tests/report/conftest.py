"""Runs shared by the report tests: a small NB201 search with a constraint, a
three-objective one, and a non-tabular toy space whose evaluations can fail (with hostile
text in the error and the provenance)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hwnas.cost import TARGETS, Target
from hwnas.metrics import Metric
from hwnas.report import write_outputs
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import SPACES, Dimension, SearchSpace, get_space, register_space
from hwnas.study import Study

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def nb201_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "nb201-c10"
    Study(budget=60, seed=1, constraints=["latency@pixel3<=8"], out_dir=out).optimize(
        callbacks=[write_outputs]
    )
    return out


@pytest.fixture(scope="session")
def nb201_random_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "nb201-random"
    Study(
        budget=40, seed=2, strategy="random", constraints=["latency@pixel3<=8"], out_dir=out
    ).optimize(callbacks=[write_outputs])
    return out


@pytest.fixture(scope="session")
def three_objective_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "nb201-3obj"
    Study(
        budget=40,
        seed=3,
        objectives=["accuracy:max", "latency@pixel3:min", "params:min"],
        out_dir=out,
    ).optimize(callbacks=[write_outputs])
    return out


class ToyBlocks(SearchSpace):
    """An OFA-like toy: a width, one stage's depth, per-block kernel and expand."""

    datasets = ("toy",)

    def __init__(self) -> None:
        self.dimensions = (
            Dimension("width", (0.5, 1.0)),
            Dimension("stage0_depth", (1, 2)),
            Dimension("stage0_block0_kernel", (3, 5, 7)),
            Dimension("stage0_block1_kernel", (3, 5, 7)),
            Dimension("stage0_block0_expand", (3, 6)),
            Dimension("stage0_block1_expand", (3, 6)),
        )

    def key(self, genes: object) -> str:
        return "-".join(str(g) for g in genes)  # type: ignore[attr-defined]

    def parse(self, text: str) -> object:
        return self.make([int(t) for t in text.split("-")])


class ToySource(MetricSource):
    """Made-up costs; the score of kernel 7 in both blocks fails with hostile text in the
    error (the latency, the constrained metric, does not fail, so these get evaluated)."""

    cheap = False  # as a measurement: infeasible candidates get evaluated and recorded

    def __init__(self, metric: Metric) -> None:
        self.metric = metric.name
        self.base = metric.base

    def evaluate_one(self, arch: object) -> Measurement:
        g = arch.genes  # type: ignore[attr-defined]
        if self.base == "score" and g[2] == 2 and g[3] == 2:
            raise ValueError(f"{HOSTILE} kernel 7 twice")
        if self.base == "latency":
            value = 1.0 + g[0] + g[1] + g[2] + g[3] + 0.5 * (g[4] + g[5])
        else:
            value = 50.0 + 8 * g[0] + 4 * g[1] + 3 * g[2] + 2 * g[3] + g[4] - g[5]
        return Measurement(value, {"kind": "toy", "note": "<img src=x onerror=alert(2)>"})


class ToyTarget(Target):
    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        return ToySource(metric)


@pytest.fixture(scope="module")
def toy_space() -> Iterator[str]:
    """Register the toy space and device for one module, then remove them again."""
    register_space("toyblocks")(ToyBlocks)
    TARGETS.add(
        "toydev", ToyTarget("toydev", "toy device", "tests", "analytic", ("latency", "score"))
    )
    yield "toyblocks"
    SPACES._entries.pop("toyblocks", None)
    TARGETS._entries.pop("toydev", None)
    get_space.cache_clear()


@pytest.fixture(scope="module")
def toy_run(toy_space: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "<img src=x onerror=alert(3)>"
    Study(
        space=toy_space,
        dataset="toy",
        objectives=["score@toydev:max", "latency@toydev:min"],
        constraints=["latency@toydev<=6"],
        strategy="random",
        budget=60,
        seed=0,
        out_dir=out,
    ).optimize(callbacks=[write_outputs])
    return out
