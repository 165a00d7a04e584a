from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pandas as pd
import pytest

import hwnas
from hwnas.errors import ConfigConflictError, HwnasError, SpecError, UnknownNameError
from hwnas.ledger import LEDGER_FILE, Ledger
from hwnas.report import write_outputs
from hwnas.sources import MetricSource


def test_optimize_returns_a_front_dataframe() -> None:
    study = hwnas.Study(budget=80, seed=0).optimize()
    front = study.pareto_front()
    assert isinstance(front, pd.DataFrame)
    assert list(front.columns) == ["arch", "status", "accuracy", "latency@pixel3", "trial"]
    assert (front["status"] == "ok").all() and len(front) >= 3
    # sorted by the first objective, accuracy descending, and truly non-dominated
    assert front["accuracy"].is_monotonic_decreasing
    assert front["latency@pixel3"].is_monotonic_decreasing
    evals = study.evaluations()
    assert len(evals) == 80 and evals["arch"].is_unique
    assert evals["trial"].tolist() == list(range(80))


def test_same_seed_same_evaluations_other_seed_differs() -> None:
    def keys(seed: int) -> list[str]:
        return hwnas.Study(budget=50, seed=seed).optimize().evaluations()["arch"].tolist()

    assert keys(3) == keys(3)
    assert keys(3) != keys(4)


def test_infeasible_recorded_never_on_front() -> None:
    # nsga2's offspring skip the cheap precheck, so some infeasible cells get recorded; the
    # default strategy (linas) never proposes what the precheck rejects
    study = hwnas.Study(
        constraints=["latency@pixel3<=5"], strategy="nsga2", budget=60, seed=0
    ).optimize()
    evals = study.evaluations()
    infeasible = evals[evals["status"] == "infeasible"]
    assert len(infeasible) > 0 and (infeasible["latency@pixel3"] > 5).all()
    ok = evals[evals["status"] == "ok"]
    assert (ok["latency@pixel3"] <= 5).all()
    front = study.pareto_front()
    assert (front["latency@pixel3"] <= 5).all() and set(front["arch"]) <= set(ok["arch"])
    true = study.true_front()
    assert true is not None and (true["latency@pixel3"] <= 5).all()


def test_constraint_metric_not_an_objective_gets_a_column() -> None:
    study = hwnas.Study(constraints=["params<=0.5"], budget=20, seed=0).optimize()
    assert "params" in study.evaluations().columns
    assert (study.pareto_front()["params"] <= 0.5).all()


def test_expensive_metrics_skipped_for_cheaply_infeasible() -> None:
    """A candidate that fails a cheap constraint never reaches an expensive metric."""
    study = hwnas.Study(
        objectives=["accuracy:max", "latency@pixel3:min"],
        constraints=["params<=0.3"],
        strategy="random",
        budget=30,
        seed=0,
    )
    seen: list[str] = []
    inner = study.sources["accuracy"]

    class Expensive(MetricSource):
        metric = "accuracy"
        cheap = False

        def evaluate(self, archs):  # type: ignore[no-untyped-def]
            seen.extend(a.key for a in archs)
            return inner.evaluate(archs)

    study.sources["accuracy"] = Expensive()
    # the strategy's cheap precheck would avoid infeasible proposals altogether (tested
    # below); without it, the study itself must stop them before the expensive metric
    problem = study.problem()
    study.problem = lambda: dataclasses.replace(problem, precheck=None)  # type: ignore[method-assign]
    evals = study.optimize().evaluations()
    infeasible = set(evals.loc[evals["status"] == "infeasible", "arch"])
    assert infeasible and not infeasible & set(seen)
    assert evals.loc[evals["status"] == "infeasible", "accuracy"].isna().all()


def test_cheap_constraints_steer_proposals_before_evaluation() -> None:
    """EEEA-Net style: with a cheap constraint, random search proposes only feasible cells."""
    study = hwnas.Study(constraints=["params<=0.3"], strategy="random", budget=30, seed=0)
    evals = study.optimize().evaluations()
    assert (evals["status"] == "ok").all() and (evals["params"] <= 0.3).all()


def test_a_failing_evaluation_is_recorded_and_the_search_goes_on() -> None:
    study = hwnas.Study(strategy="random", budget=30, seed=0)
    inner = study.sources["latency@pixel3"]

    class Flaky(MetricSource):
        metric = "latency@pixel3"

        def evaluate(self, archs):  # type: ignore[no-untyped-def]
            if any("avg_pool_3x3~0|+" in a.key for a in archs):
                raise RuntimeError("device unplugged")
            return inner.evaluate(archs)

    study.sources["latency@pixel3"] = Flaky()
    evals = study.optimize().evaluations()
    failed = evals[evals["status"] == "failed"]
    assert len(evals) == 30 and len(failed) > 0
    assert failed["error"].str.contains("latency@pixel3: RuntimeError: device unplugged").all()
    assert failed["arch"].str.contains(r"avg_pool_3x3~0\|\+", regex=True).all()
    assert not set(failed["arch"]) & set(study.pareto_front()["arch"])


def test_provenance_is_stored_with_every_value(tmp_path: Path) -> None:
    hwnas.Study(budget=5, seed=0, out_dir=tmp_path / "run").optimize()
    rows = list(Ledger(tmp_path / "run" / LEDGER_FILE).rows())
    prov = rows[0]["provenance"]
    assert prov["latency@pixel3"]["column"] == "cifar10_pixel3_latency_ms"
    assert "HW-NAS-Bench" in prov["latency@pixel3"]["source"]
    assert prov["accuracy"]["column"] == "cifar10valid_valid_acc_200ep"
    assert rows[0]["finished"] >= rows[0]["started"] > 0


def test_run_directory_files(tmp_path: Path) -> None:
    run = tmp_path / "run"
    study = hwnas.Study(budget=40, seed=0, out_dir=run).optimize(callbacks=[write_outputs])
    for name in ("ledger.sqlite", "evaluations.csv", "pareto.csv", "pareto.png", "config.json"):
        assert (run / name).stat().st_size > 0, name
    evals = pd.read_csv(run / "evaluations.csv")
    assert list(evals.columns)[:4] == ["arch", "status", "accuracy", "latency@pixel3"]
    pareto = pd.read_csv(run / "pareto.csv")
    assert pareto["arch"].tolist() == study.pareto_front()["arch"].tolist()
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["budget"] == 40 and config["config"]["strategy"]
    assert config["host"]["python"] and config["host"]["hwnas"] == hwnas.__version__
    assert (run / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_continues_to_the_same_ledger(tmp_path: Path) -> None:
    straight = hwnas.Study(budget=90, seed=2, out_dir=tmp_path / "a").optimize()
    hwnas.Study(budget=35, seed=2, out_dir=tmp_path / "b").optimize()
    resumed = hwnas.Study.resume(tmp_path / "b", budget=90).optimize()
    cols = ["trial", "arch", "status", "accuracy", "latency@pixel3"]
    pd.testing.assert_frame_equal(straight.evaluations()[cols], resumed.evaluations()[cols])


def test_resume_refuses_a_different_configuration(tmp_path: Path) -> None:
    hwnas.Study(budget=10, seed=0, out_dir=tmp_path / "run").optimize()
    with pytest.raises(ConfigConflictError, match="seed: 0 -> 1"):
        hwnas.Study.resume(tmp_path / "run", seed=1)
    with pytest.raises(ConfigConflictError, match="objectives"):
        hwnas.Study.resume(tmp_path / "run", objectives=["accuracy:max", "latency@raspi4:min"])
    # a different spelling of the same objective is the same configuration
    hwnas.Study.resume(tmp_path / "run", objectives=["accuracy : max", "latency@pixel3:min"])


def test_existing_run_directory_is_not_overwritten(tmp_path: Path) -> None:
    hwnas.Study(budget=5, seed=0, out_dir=tmp_path / "run").optimize()
    with pytest.raises(HwnasError, match="already holds a run"):
        hwnas.Study(budget=5, seed=0, out_dir=tmp_path / "run")
    with pytest.raises(HwnasError, match="no run to resume"):
        hwnas.Study.resume(tmp_path / "nothing")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"space": "nb999"}, UnknownNameError, "valid: .*nb201"),
        ({"dataset": "mnist"}, UnknownNameError, "cifar10, cifar100, imagenet16"),
        ({"strategy": "annealing"}, UnknownNameError, "nsga2"),
        ({"objectives": ["accuracy:max", "latency@moon:min"]}, UnknownNameError, "pixel3"),
        ({"objectives": ["energy:min"]}, UnknownNameError, "latency@pixel3"),
        ({"objectives": ["accuracy"]}, SpecError, "METRIC:min"),
        ({"objectives": []}, SpecError, "at least one objective"),
        ({"objectives": ["accuracy:max", "accuracy:min"]}, SpecError, "twice"),
        ({"constraints": ["latency@pixel3=<5"]}, SpecError, "unknown comparison"),
        ({"constraints": ["latency@pixel3 5"]}, SpecError, "expected METRIC<=BOUND"),
        ({"budget": 0}, SpecError, "budget"),
        ({"strategy_options": {"population_size": 1}}, SpecError, "population_size"),
        ({"quality": "oracle"}, UnknownNameError, "tabular"),
    ],
)
def test_bad_configuration_is_a_clear_error(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        hwnas.Study(**kwargs)


def test_budget_larger_than_the_space_stops_when_exhausted() -> None:
    study = hwnas.Study(strategy="random", budget=20_000, seed=0, objectives=["params:min"])
    evals = study.optimize().evaluations()
    assert len(evals) == 15_625 and evals["arch"].is_unique
    assert study.pareto_front()["params"].iloc[0] == pytest.approx(0.073306)


def test_single_objective_and_three_objectives() -> None:
    one = hwnas.Study(objectives=["accuracy:max"], budget=30, seed=0).optimize()
    assert len(one.pareto_front()) == 1
    three = hwnas.Study(
        objectives=["accuracy:max", "latency@eyeriss:min", "params:min"], budget=60, seed=0
    ).optimize()
    s = three.summary()
    assert 0 < s["hv_ratio"] <= 1 and not math.isnan(s["hv_ratio"])


def test_summary_against_true_front() -> None:
    s = hwnas.Study(budget=200, seed=0).optimize().summary()
    assert s["evaluations"] == 200 and s["ok"] == 200
    assert 0.9 < s["hv_ratio"] <= 1.0
    assert s["true_front_size"] > 10 and 0 <= s["true_front_found"] <= 1


def test_expensive_evaluations_are_committed_one_by_one_in_process() -> None:
    """Issue 21 item 2: a batch of expensive evaluations lands row by row, so a kill loses
    at most the evaluation in progress; the cheap table lookups still answer a batch."""
    study = hwnas.Study(strategy="evolution", budget=30, seed=3)
    inner = study.sources["latency@pixel3"]
    seen: list[tuple[int, int]] = []  # (archs in the call, ledger rows at the call)

    class Expensive(MetricSource):
        metric = "latency@pixel3"
        cheap = False

        def evaluate(self, archs):  # type: ignore[no-untyped-def]
            seen.append((len(archs), len(study.ledger)))
            return inner.evaluate(archs)

    study.sources["latency@pixel3"] = Expensive()
    evals = study.optimize().evaluations()
    assert seen == [(1, n) for n in range(30)]
    plain = hwnas.Study(strategy="evolution", budget=30, seed=3).optimize().evaluations()
    pd.testing.assert_frame_equal(evals, plain)


def test_an_unusable_run_directory_is_an_hwnas_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    too_long = tmp_path / ("x" * 300)
    with pytest.raises(HwnasError, match="cannot use it as the run directory"):
        hwnas.Study(budget=2, out_dir=too_long)
    with pytest.raises(HwnasError, match="cannot use it as the run directory"):
        hwnas.Study.resume(too_long)
    # a read-only file system (root ignores permissions, so the check is faked here)
    monkeypatch.setattr(hwnas.study.os, "access", lambda path, mode: False)
    with pytest.raises(HwnasError, match="cannot write the run there"):
        hwnas.Study(budget=2, out_dir=tmp_path / "ro")


def test_a_full_disk_says_so_and_the_run_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def full(path: object, content: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(hwnas.study, "atomic_write", full)
    with pytest.raises(HwnasError, match="the disk is full .* resume the run"):
        hwnas.Study(budget=4, out_dir=tmp_path / "run")
    monkeypatch.undo()
    assert len(hwnas.Study.resume(tmp_path / "run").optimize().evaluations()) == 4


def test_an_implausible_start_time_is_no_date(tmp_path: Path) -> None:
    import sqlite3

    hwnas.Study(budget=2, out_dir=tmp_path / "run").optimize()
    db = sqlite3.connect(tmp_path / "run" / LEDGER_FILE)
    db.execute("UPDATE meta SET value = '1e300' WHERE key = 'created'")
    db.commit()
    db.close()
    assert hwnas.load_results(tmp_path / "run").created is None
    write_outputs(hwnas.load_results(tmp_path / "run"))  # formatting 1e300 overflowed


def test_a_setup_failure_mid_run_stops_it_and_a_fixed_resume_is_clean(tmp_path: Path) -> None:
    """A failure every evaluation would share (a data file gone mid-run) ends the run
    instead of being recorded: recorded, it would stay failed after the cause is fixed."""
    from hwnas.errors import SetupError

    gone = {"file": False}

    def unplug(study: hwnas.Study) -> hwnas.Study:
        inner = study.sources["latency@pixel3"]

        class Unplugged(MetricSource):
            metric = "latency@pixel3"
            cheap = False  # evaluated and committed one at a time

            def evaluate(self, archs):  # type: ignore[no-untyped-def]
                gone["file"] = gone["file"] or len(study.ledger) == 5
                if gone["file"]:
                    raise SetupError("data file images.npz does not exist")
                return inner.evaluate(archs)

        study.sources["latency@pixel3"] = Unplugged()
        return study

    run = tmp_path / "run"
    with pytest.raises(SetupError, match="stopped: .*images.npz does not exist.* --resume"):
        unplug(hwnas.Study(strategy="random", budget=12, seed=0, out_dir=run)).optimize()
    ledger = Ledger(run / LEDGER_FILE)
    assert len(ledger) == 5 and {r["status"] for r in ledger.rows()} == {"ok"}
    ledger.close()
    gone["file"] = False  # the file is back
    evals = hwnas.Study.resume(run).optimize().evaluations()
    assert len(evals) == 12 and (evals["status"] == "ok").all()


@pytest.mark.parametrize("strategy", ["linas", "bayes", "local", "random"])
def test_resume_restores_the_strategy_instead_of_replaying_it(
    tmp_path: Path, strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume continues from the strategy's snapshot after its last full batch (here
    60; the 5 trials after it are what a kill mid-batch leaves) and reaches the ledger of
    an uninterrupted run, asking only the batches after the snapshot."""
    from hwnas.study import SNAPSHOT_KEY

    opts = {"objectives": ["accuracy:max", "latency@raspi4:min"], "strategy": strategy}
    straight = hwnas.Study(budget=100, seed=3, **opts).optimize()
    hwnas.Study(budget=65, seed=3, out_dir=tmp_path / "run", **opts).optimize()
    ledger = Ledger(tmp_path / "run" / LEDGER_FILE)
    assert ledger.get_meta(SNAPSHOT_KEY)["told"] == 60
    ledger.close()
    cls = hwnas.strategies.get_strategy(strategy)
    asks: list[int] = []
    propose = cls._propose
    monkeypatch.setattr(cls, "_propose", lambda self, n: asks.append(n) or propose(self, n))
    resumed = hwnas.Study.resume(tmp_path / "run", budget=100).optimize()
    cols = ["trial", "arch", "status", "accuracy", "latency@raspi4"]
    pd.testing.assert_frame_equal(straight.evaluations()[cols], resumed.evaluations()[cols])
    assert len(asks) == 4  # trials 60-69 (5 of them recorded), 70-79, 80-89, 90-99


def test_a_snapshot_that_does_not_restore_is_replayed(tmp_path: Path) -> None:
    """A damaged or foreign snapshot costs a replay, never a different run."""
    from hwnas.study import SNAPSHOT_KEY

    opts = {"objectives": ["accuracy:max", "latency@raspi4:min"], "strategy": "linas"}
    straight = hwnas.Study(budget=60, seed=4, **opts).optimize()
    hwnas.Study(budget=40, seed=4, out_dir=tmp_path / "run", **opts).optimize()
    ledger = Ledger(tmp_path / "run" / LEDGER_FILE)
    saved = ledger.get_meta(SNAPSHOT_KEY)
    ledger.set_meta(SNAPSHOT_KEY, {**saved, "state": {"rng": "damaged"}})
    ledger.close()
    resumed = hwnas.Study.resume(tmp_path / "run", budget=60).optimize()
    cols = ["trial", "arch", "status", "accuracy", "latency@raspi4"]
    pd.testing.assert_frame_equal(straight.evaluations()[cols], resumed.evaluations()[cols])


def test_evaluate_records_caller_chosen_architectures_once(tmp_path) -> None:
    study = hwnas.Study(budget=3, out_dir=tmp_path / "run")
    first = study.evaluate(["6111", study.space.parse("6111"), "1234"])
    assert [e.trial for e in first] == [0, 0, 1] and first[0].status == "ok"
    assert set(first[0].provenance) == {"accuracy", "latency@pixel3"}
    again = study.evaluate(["1234"])  # answered from the ledger: nothing new recorded
    assert again[0].trial == 1 and len(study.results()) == 2
    with pytest.raises(hwnas.HwnasError, match="exceed the budget of 3"):
        study.evaluate(["4321", "4322"])
    with pytest.raises(hwnas.HwnasError, match="chosen by the caller"):
        study.optimize()
    study.close()
    resumed = hwnas.Study.resume(tmp_path / "run")
    assert resumed.evaluate(["1234"])[0].trial == 1
    assert hwnas.load_results(tmp_path / "run").evaluations()["trial"].tolist() == [0, 1]
