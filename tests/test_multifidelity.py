"""Multi-fidelity search (hwnas.multifidelity) on NB201 with a cheap estimator that has
fidelities: `noisy:S`, the table's accuracy plus a fixed per-architecture error of scale
S (0, the table itself, is the full fidelity; `noise=S` the cheaper ones)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hwnas import multifidelity
from hwnas.errors import ConfigConflictError, HwnasError, SpecError
from hwnas.executors import Executor, Job, make_executor
from hwnas.metrics import Metric
from hwnas.quality import QUALITY, QualityEstimator, register_quality
from hwnas.results import load_results
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.study import Study


class NoisySource(MetricSource):
    cheap = False

    def __init__(self, table: MetricSource, scale: float) -> None:
        self.metric, self.table_source, self.scale = table.metric, table, scale

    def evaluate_one(self, arch: Any) -> Measurement:
        value = self.table_source.evaluate([arch])[0].value
        digest = hashlib.sha256(arch.key.encode()).digest()
        error = (digest[0] / 255 - 0.5) * 2 * self.scale
        return Measurement(value + error, {"noise": self.scale, "source": "test table"})


class NoisyQuality(QualityEstimator):
    description = "the NB201 table's accuracy with a fixed error: noisy:SCALE (tests)"

    def __init__(self, scale: float = 0.0) -> None:
        self.scale = scale

    @classmethod
    def with_spec(cls, spec: str) -> NoisyQuality:
        return cls(float(spec))

    def fidelity(self, option: str, ctx: EvalContext) -> str:
        key, _, value = option.partition("=")
        if key != "noise":
            raise SpecError(f"fidelity {option!r}: the noisy estimator's is noise=S")
        if float(value) <= self.scale:
            raise SpecError(f"fidelity {option!r} is not cheaper than noisy:{self.scale}")
        return f"noisy:{float(value)}"

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        from hwnas.tabular import TABLES

        return NoisySource(TABLES.get("nb201").quality(ctx, metric.base), self.scale)


@pytest.fixture(autouse=True, scope="module")
def _noisy() -> Iterator[None]:
    """The test estimator is registered for this module only: the conformance suite lists
    the registry and must not see it."""
    register_quality("noisy")(NoisyQuality)
    yield
    QUALITY._entries.pop("noisy", None)


ARGS: dict[str, Any] = {
    "objectives": ["accuracy:max", "latency@pixel3:min"],
    "quality": "noisy:0",
    "strategy": "random",
    "strategy_options": {"batch_size": 6},
    "budget": 12,
    "seed": 0,
}


def search(out: Path, **changes: Any) -> Any:
    args = {"fidelities": ["noise=5"], "eta": 3, "promote": 4, **ARGS, **changes}
    return multifidelity.run(args.pop("fidelities"), out_dir=out, **args)


def test_low_fidelity_values_land_in_their_ledger_with_provenance(tmp_path: Path) -> None:
    results = search(tmp_path / "run")
    low = load_results(tmp_path / "run" / "fidelity" / "noise=5")
    assert low.config.quality == "noisy:5.0" and len(low) == 36  # 3 rounds of 4 x eta
    assert all(e.provenance["accuracy"]["noise"] == 5.0 for e in low.rows)
    assert len(results) == 12 and results.config.quality == "noisy:0"
    by_key = {e.arch: e for e in low.rows}
    for e in results.rows:
        assert e.provenance["accuracy"]["noise"] == 0.0  # the full fidelity's own
        link = e.provenance["accuracy"]["promoted_from"]
        below = by_key[e.arch]
        assert link["run"] == "fidelity/noise=5" and link["trial"] == below.trial
        assert link["values"]["accuracy"] == below.value("accuracy")
        assert e.value("accuracy") != below.value("accuracy")  # another fidelity's value
        assert "latency@pixel3" not in link["values"]


def test_promotions_are_the_best_of_each_round(tmp_path: Path) -> None:
    results = search(tmp_path / "run")
    low = load_results(tmp_path / "run" / "fidelity" / "noise=5")
    promoted = {e.arch for e in results.rows}
    for number in range(3):
        pool = [e for e in low.rows if 12 * number <= e.trial < 12 * (number + 1)]
        best = multifidelity.best(pool, low.objectives, 4)
        assert {e.arch for e in best} <= promoted
        # nothing in the round dominates its first pick
        f = [-best[0].value("accuracy"), best[0].value("latency@pixel3")]
        assert not any(-e.value("accuracy") <= f[0] and e.value("latency@pixel3") < f[1]
                       for e in pool)  # fmt: skip
    rounds = [e.provenance["accuracy"]["promoted_from"]["round"] for e in results.rows]
    assert rounds == [0] * 4 + [1] * 4 + [2] * 4


def test_best_ranks_by_front_then_crowding_and_skips_infeasible() -> None:
    from hwnas.metrics import parse_objective
    from hwnas.results import Evaluation

    def ev(n: int, acc: float, lat: float, status: str = "ok") -> Evaluation:
        metrics = {"accuracy": acc, "latency": lat}
        return Evaluation(n, f"a{n}", (n,), status, metrics, {}, None, 0.0, 0.0)

    objs = [parse_objective("accuracy:max"), parse_objective("latency:min")]
    rows = [
        ev(0, 90, 10), ev(1, 80, 5), ev(2, 85, 7), ev(3, 70, 9), ev(4, 99, 1, "infeasible"),
        ev(5, 86, 7.2),
    ]  # fmt: skip
    picked = [e.trial for e in multifidelity.best(rows, objs, 4)]
    assert picked[:2] in ([0, 1], [1, 0])  # the first front's ends (infinite crowding)
    assert set(picked[:4]) == {0, 1, 2, 5} and 4 not in picked


def test_two_cheaper_fidelities_chain(tmp_path: Path) -> None:
    results = search(tmp_path / "run", fidelities=["noise=9", "noise=3"], budget=4)
    low = load_results(tmp_path / "run" / "fidelity" / "noise=9")
    mid = load_results(tmp_path / "run" / "fidelity" / "noise=3")
    assert (len(low), len(mid), len(results)) == (36, 12, 4)
    assert all(e.provenance["accuracy"]["promoted_from"]["run"] == "fidelity/noise=3"
               for e in results.rows)  # fmt: skip
    assert {e.arch for e in results.rows} <= {e.arch for e in mid.rows}


def test_a_rerun_continues_and_resume_extends(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = search(out, budget=8)
    again = search(out, budget=8)
    assert [e.arch for e in again.rows] == [e.arch for e in first.rows]
    assert [e.finished for e in again.rows] == [e.finished for e in first.rows]  # not redone
    more = multifidelity.resume(out, budget=12)
    assert [e.arch for e in more.rows][:8] == [e.arch for e in first.rows]
    assert len(more) == 12 and len(load_results(out / "fidelity" / "noise=5")) == 36
    assert multifidelity.settings(out) == {"fidelities": ["noise=5"], "eta": 3, "promote": 4}


class _Killed(Exception):
    pass


def test_a_kill_in_a_round_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    reference = search(tmp_path / "whole")

    def kill(done: int, budget: int) -> None:
        if done >= 8:
            raise _Killed

    with pytest.raises(_Killed):
        search(out, progress=kill)
    assert len(load_results(out)) == 8
    # and a kill half-way through the next round's low-fidelity search
    low = Study.resume(out / "fidelity" / "noise=5", budget=30)
    low.optimize()
    low.ledger.close()
    finished = search(out)
    assert [e.arch for e in finished.rows] == [e.arch for e in reference.rows]


class _Reversed(Executor):
    """In-process evaluation that hands results back last first, as a pool's workers may
    finish, and is killed after two of a promotion's four when armed."""

    armed = True

    def __init__(self) -> None:
        super().__init__()
        self.inner = make_executor("inprocess", None)

    def open(self, job: Job) -> None:
        super().open(job)
        self.inner.open(job)

    def run(self, archs: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
        if len(archs) != 4:  # the low-fidelity batches of 6
            yield from self.inner.run(archs)
            return
        for done, outcome in enumerate(reversed(list(self.inner.run(archs)))):
            yield outcome
            if _Reversed.armed and done == 1:
                raise _Killed


def test_a_kill_while_promoting_out_of_order_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(_Killed):
        search(out, executor=_Reversed)
    assert sorted(e.trial for e in load_results(out).rows) == [2, 3]  # 0 and 1 never came
    _Reversed.armed = False
    finished = search(out, executor=_Reversed)
    assert len(finished.rows) == 12 and len({e.trial for e in finished.rows}) == 12


def test_the_run_directory_reads_like_a_search_run(tmp_path: Path) -> None:
    from hwnas.report import write_outputs

    out = tmp_path / "run"
    search(out, callbacks=[write_outputs])
    assert (out / "pareto.csv").exists() and (out / "evaluations.csv").exists()
    results = Study.load(out)
    front = results.pareto_front()
    assert len(front) >= 1 and set(front["arch"]) <= {e.arch for e in results.rows}
    assert results.summary()["front_size"] == len(front)
    assert all(not math.isnan(v) for v in front["accuracy"])


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"fidelities": ["noise=0"]}, SpecError, "not cheaper"),
        ({"fidelities": ["val=500"]}, SpecError, "noise=S"),
        ({"fidelities": []}, SpecError, "needs a cheaper fidelity"),
        ({"fidelities": ["noise=3", "noise=9"]}, SpecError, "cheapest first"),
        ({"eta": 1}, SpecError, "eta must be an integer of at least 2"),
        ({"promote": 0}, SpecError, "promote must be"),
        ({"quality": "tabular"}, SpecError, "offers no cheaper fidelity"),
        ({"budjet": 3}, SpecError, "unknown study argument"),
    ],
)
def test_bad_settings_are_refused(
    tmp_path: Path, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        search(tmp_path / "run", **changes)
    assert not (tmp_path / "run").exists()


def test_other_settings_or_a_single_fidelity_run_are_refused(tmp_path: Path) -> None:
    search(tmp_path / "run", budget=4)
    with pytest.raises(ConfigConflictError, match="eta: 3 -> 2"):
        search(tmp_path / "run", budget=4, eta=2)
    Study(**{**ARGS, "budget": 4}, out_dir=tmp_path / "single").optimize()
    with pytest.raises(HwnasError, match="single-fidelity run"):
        search(tmp_path / "single", budget=4)
