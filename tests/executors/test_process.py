"""The local process pool: same evaluations as in-process, faults recorded and retried by
policy, one evaluation per device at a time, and a SIGKILLed driver resumes losslessly."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest
from fault_targets import attempts, hits, objective

import hwnas
from hwnas.errors import HwnasError, SpecError, UnknownNameError
from hwnas.evaluation import Evaluator
from hwnas.executors import list_executors, make_executor
from hwnas.spaces import get_space

TABLE = ["accuracy:max", "latency@pixel3:min"]


def run(folder: Path, mode: str, budget: int = 10, **executor: object) -> pd.DataFrame:
    folder.mkdir(exist_ok=True)
    ex = make_executor("process", **{"workers": 2, **executor})  # type: ignore[arg-type]
    study = hwnas.Study(
        objectives=["accuracy:max", objective(mode, folder)],
        strategy="random",
        budget=budget,
        seed=5,
        executor=ex,
    )
    return study.optimize().evaluations()


def test_registry_lists_the_executors() -> None:
    assert list_executors() == ["inprocess", "process", "ray"]
    with pytest.raises(UnknownNameError, match="valid: inprocess, process, ray"):
        make_executor("threads")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("inprocess", {"workers": 2}, "one worker"),
        ("inprocess", {"timeout": 5.0}, "cannot be interrupted"),
        ("process", {"workers": 0}, "workers must be >= 1"),
        ("process", {"timeout": -1.0}, "timeout must be a positive"),
        ("process", {"retries": -1}, "retries must be >= 0"),
        ("process", {"address": "auto"}, "executor 'process'"),
    ],
)
def test_bad_executor_options_are_spec_errors(name: str, options: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        make_executor(name, **options)


@pytest.mark.parametrize("strategy", ["random", "nsga2"])
def test_same_seed_same_evaluations_with_one_or_two_workers(strategy: str, tmp_path: Path) -> None:
    options = {"population_size": 8} if strategy == "nsga2" else {}
    # an expensive constraint (value: the sum of the genes), checked in the workers
    slow = objective("slow", tmp_path).removesuffix(":min")

    def evaluations(executor: str, workers: int | None) -> pd.DataFrame:
        study = hwnas.Study(
            objectives=TABLE,
            constraints=[f"{slow}<=10"],
            strategy=strategy,
            strategy_options=options,
            budget=24,
            seed=3,
            executor=executor,
            workers=workers,
        )
        return study.optimize().evaluations()

    reference = evaluations("inprocess", None)
    assert (reference["status"] == "infeasible").any()  # the constraint path is exercised
    if strategy == "nsga2":  # adaptive: what it asks depends on every result told
        pd.testing.assert_frame_equal(evaluations("process", 1), reference)
    pd.testing.assert_frame_equal(evaluations("process", 2), reference)


def test_an_exception_fails_its_evaluation_once_and_the_search_goes_on(tmp_path: Path) -> None:
    evals = run(tmp_path / "a", "raise", retries=3)
    failed = evals[evals["status"] == "failed"]
    space = get_space("nb201")
    expected = [hits(space.parse(a)) for a in evals["arch"]]
    assert (evals["status"] == "failed").tolist() == expected and any(expected)
    assert failed["error"].str.contains("RuntimeError: injected failure").all()
    assert (evals[evals["status"] == "ok"]["error"].isna()).all()
    assert attempts(tmp_path / "a") == len(evals)  # a deterministic error is not retried


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("exit", "worker exited with code 3"),
        ("segv", "worker died from SIGSEGV"),
        ("sigkill", "worker died from SIGKILL (killed: out of memory?)"),
    ],
)
def test_a_dying_worker_is_retried_then_recorded(tmp_path: Path, mode: str, reason: str) -> None:
    evals = run(tmp_path / mode, mode, retries=1)
    failed = evals[evals["status"] == "failed"]
    assert len(failed) > 0 and (evals["status"] == "ok").sum() > 0
    assert failed["error"].str.startswith(reason).all()
    assert failed["error"].str.contains("2 attempts").all()
    assert attempts(tmp_path / mode) == len(evals) + len(failed)  # each fault retried once


def test_a_hang_times_out_and_the_others_complete(tmp_path: Path) -> None:
    evals = run(tmp_path / "h", "hang", timeout=3.0, retries=0)
    failed = evals[evals["status"] == "failed"]
    assert len(failed) > 0 and (evals["status"] == "ok").sum() > 0
    assert (failed["error"] == "timed out after 3 s").all()


def test_a_retry_recovers_a_transient_worker_death(tmp_path: Path) -> None:
    evals = run(tmp_path / "f", "flaky", retries=1)
    assert (evals["status"] == "ok").all()
    space = get_space("nb201")
    n_hits = sum(hits(space.parse(a)) for a in evals["arch"])
    assert n_hits > 0 and attempts(tmp_path / "f") == len(evals) + n_hits


def test_without_retries_a_transient_death_is_recorded(tmp_path: Path) -> None:
    evals = run(tmp_path / "f0", "flaky", retries=0)
    failed = evals[evals["status"] == "failed"]
    assert len(failed) > 0 and failed["error"].str.startswith("worker exited with code 4").all()


def test_measurements_on_one_device_never_overlap(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    study = hwnas.Study(
        objectives=["accuracy:max", objective("device", folder)],
        strategy="random",
        budget=12,
        seed=1,
        executor="process",
        workers=2,
    ).optimize()
    assert study.evaluator.devices == ("testdev",)
    rows = list(study.ledger.rows())
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 12
    intervals = sorted(
        (p["started"], p["finished"])
        for r in rows
        for name, p in r["provenance"].items()
        if name.startswith("latency@")
    )
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(intervals))


def test_device_free_part_of_a_device_study_spreads_over_workers(tmp_path: Path) -> None:
    """A study that measures on a device: its device-free metric (here one that only
    completes when two evaluations run it at once) runs on both workers, while the
    measurements still never overlap."""
    meet, device = tmp_path / "meet", tmp_path / "dev"
    meet.mkdir()
    device.mkdir()
    study = hwnas.Study(
        objectives=["accuracy:max", objective("rendezvous", meet), objective("device", device)],
        strategy="random",
        budget=6,
        seed=2,
        executor="process",
        workers=2,
    ).optimize()
    rows = list(study.ledger.rows())
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    intervals = sorted(
        (p["started"], p["finished"])
        for r in rows
        for name, p in r["provenance"].items()
        if name.startswith("latency@fault:device")
    )
    assert len(intervals) == 6
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(intervals))


def test_device_free_work_runs_on_both_workers_at_once(tmp_path: Path) -> None:
    # each evaluation waits (up to 60 s) until another one runs at the same time
    evals = run(tmp_path / "r", "rendezvous", budget=4)
    assert (evals["status"] == "ok").all(), evals["error"].tolist()


def test_evaluator_devices_are_the_sources_devices() -> None:
    class Src(hwnas.sources.MetricSource):
        def __init__(self, device: str | None) -> None:
            self.metric, self.device = "m", device

    sources = {"a": Src("rpi4"), "b": Src(None), "c": Src("local-cpu"), "d": Src("rpi4")}
    assert Evaluator(sources).devices == ("local-cpu", "rpi4")  # type: ignore[arg-type]


# --- SIGKILL of the driver while a pool is evaluating ------------------------------------------
SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from fault_targets import objective
import hwnas
from pathlib import Path

if __name__ == "__main__":
    run_dir, mode, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    folder.mkdir(exist_ok=True)
    if mode == "resume":
        hwnas.Study.resume(run_dir, executor="process", workers=2).optimize()
    else:
        hwnas.Study(objectives=["accuracy:max", objective("slow", folder)], strategy="random",
                    budget=60, seed=9, out_dir=run_dir, executor="process", workers=2).optimize()
"""


def ledger_rows(run_dir: Path) -> list[tuple]:
    try:
        db = sqlite3.connect(run_dir / "ledger.sqlite")
        try:
            return db.execute(
                "SELECT trial, arch, genes, status, metrics, error FROM evaluations ORDER BY trial"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return []


def test_sigkill_of_the_driver_loses_and_repeats_nothing(tmp_path: Path) -> None:
    script = tmp_path / "search.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    folder = tmp_path / "attempts"  # the target's name (and so the config) holds the folder
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(killed), "new", str(folder)])
    deadline = time.time() + 120
    while len(ledger_rows(killed)) < 15 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = ledger_rows(killed)
    assert 0 < len(before) < 60, "the run must be killed midway"

    resumed = subprocess.run(
        [sys.executable, str(script), str(killed), "resume", str(folder)], check=False
    )
    assert resumed.returncode == 0
    after = ledger_rows(killed)
    assert set(before) <= set(after)  # nothing completed was lost or rewritten

    reference = tmp_path / "reference"  # the same search, uninterrupted, in-process
    hwnas.Study(
        objectives=["accuracy:max", objective("slow", folder)],
        strategy="random",
        budget=60,
        seed=9,
        out_dir=reference,
    ).optimize()
    assert after == ledger_rows(reference)
    assert len(after) == 60 and len({row[1] for row in after}) == 60


def test_a_second_writer_of_a_run_gets_a_clear_error(tmp_path: Path) -> None:
    """Each evaluation is one INSERT: a duplicate is refused whole, the ledger unchanged."""
    from hwnas.ledger import Ledger
    from hwnas.trial import Trial

    ledger = Ledger(tmp_path / "ledger.sqlite")
    arch = get_space("nb201").parse("5")
    ledger.record(Trial(0, arch, "ok", {"accuracy": 90.0}), {}, 0.0)
    with pytest.raises(HwnasError, match="already recorded; is another hwnas process"):
        ledger.record(Trial(1, arch, "ok", {"accuracy": 91.0}), {}, 0.0)
    assert [(r["trial"], r["metrics"]) for r in ledger.rows()] == [(0, {"accuracy": 90.0})]


def test_plugins_outside_their_class_module_are_named_in_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target registered by a module other than its class's: workers cannot guess that
    module; the error says so, and `imports=` fixes it."""
    (tmp_path / "attempts").mkdir()
    (tmp_path / "extra_plugin.py").write_text(
        "from pathlib import Path\n"
        "from fault_targets import FaultTarget\n"
        "from hwnas.cost import register_target\n"
        f"register_target(FaultTarget('extra-slow', 'slow', Path({str(tmp_path / 'attempts')!r})))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import extra_plugin  # noqa: F401 - registers `extra-slow` here, in the driver

    def study(**options: object) -> hwnas.Study:
        ex = make_executor("process", workers=1, **options)  # type: ignore[arg-type]
        objectives = ["accuracy:max", "latency@extra-slow:min"]
        return hwnas.Study(objectives=objectives, strategy="random", budget=3, executor=ex)

    with pytest.raises(HwnasError, match=r"unknown target 'extra-slow'.*executor's imports"):
        study().optimize()
    evals = study(imports=["extra_plugin"]).optimize().evaluations()
    assert (evals["status"] == "ok").all() and len(evals) == 3


@pytest.mark.parametrize("executor", ["inprocess", "process"])
def test_a_setup_failure_in_a_worker_stops_the_study(tmp_path: Path, executor: str) -> None:
    from hwnas.errors import SetupError

    (tmp_path / "f").mkdir()
    study = hwnas.Study(
        objectives=["accuracy:max", objective("setup", tmp_path / "f")], strategy="random",
        budget=40, seed=5, out_dir=tmp_path / "run", executor=executor,
    )  # fmt: skip
    with pytest.raises(SetupError, match="stopped: .*injected: the data file is gone"):
        study.optimize()
    statuses = {r["status"] for r in study.ledger.rows()}
    assert statuses <= {"ok"}  # nothing recorded for the failure, and nothing failed
