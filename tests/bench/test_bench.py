"""The bench: indicators on a hand-computed case, task parsing, the evaluation oracle's
budget and repeat rules, and a tiny run end to end (API and CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwnas.bench import (
    Evaluator,
    context,
    parse_task,
    run_many,
    run_one,
    summary_frame,
    write_report,
)
from hwnas.bench._indicators import indicators
from hwnas.errors import SpecError, UnknownNameError
from hwnas.indicators import front_share, hypervolume_ratio, igd


def test_indicators_against_a_hand_computed_case() -> None:
    lower, upper = np.array([0.0, 0.0]), np.array([10.0, 10.0])
    true = np.array([[0.0, 5.0], [5.0, 0.0]])  # normalised: (0, .5), (.5, 0); HV = .75
    found = np.array([[0.0, 5.0], [10.0, 10.0]])  # HV = .5
    assert hypervolume_ratio(found, true, lower, upper) == pytest.approx(0.5 / 0.75)
    # IGD: (0 + distance from (.5, 0) to (0, .5)) / 2
    assert igd(found, true, lower, upper) == pytest.approx(np.sqrt(0.5) / 2)
    assert front_share(["a", "x"], ["a", "b"]) == 0.5


def test_true_front_is_non_dominated_and_bounds_cover_the_table() -> None:
    ctx = context(parse_task("cifar10:fpga"))
    assert len(ctx.true_keys) == len(ctx.true_F) > 3
    assert np.all(ctx.true_F >= ctx.lower) and np.all(ctx.true_F <= ctx.upper)
    # the whole true front scores a zero gap, and everything found is in [0, 1]
    assert indicators(ctx, ctx.true_keys, ctx.true_F)["hv_gap"] == pytest.approx(0.0, abs=1e-12)
    assert indicators(ctx, ctx.true_keys, ctx.true_F)["front_share"] == 1.0


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("cifar10", SpecError),
        ("cifar10:nowhere", UnknownNameError),
        ("mnist:fpga", UnknownNameError),
    ],
)
def test_bad_tasks_are_clear_errors(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_task(text)


def test_evaluator_counts_distinct_architectures_and_stops_at_the_budget() -> None:
    from hwnas.bench._run import BudgetSpent

    ctx = context(parse_task("cifar10:eyeriss"))
    space = ctx.space
    a, b, c = space.make([1] * 6), space.make([2] * 6), space.make([3] * 6)
    ev = Evaluator(ctx, budget=2)
    ev([a, a, b])
    assert ev.keys == [a.key, b.key] and ev.done
    ev([a])  # a repeat is free
    with pytest.raises(BudgetSpent):
        ev([c])


def test_tiny_bench_table_shape_gaps_and_files(tmp_path: Path) -> None:
    pytest.importorskip("pymoo")
    pytest.importorskip("optuna")
    tasks = [parse_task("cifar10:eyeriss")]
    methods = ["random", "nsga2", "pymoo-nsga2", "optuna-nsga2"]
    results = run_many(methods, tasks, seeds=range(2), budgets=(10, 30), workers=2)
    assert len(results) == len(methods) * 2
    assert all(r.evaluations == 30 for r in results)
    summary = summary_frame(results)
    assert len(summary) == len(methods) * 2  # methods x budgets, one task
    assert set(summary["seeds"]) == {2}
    assert summary["hv_gap_mean"].between(0, 1).all()
    # more evaluations never hurt a run (prefixes of one sequence)
    for r in results:
        assert r.at[30]["hv_gap"] <= r.at[10]["hv_gap"]
    paths = write_report(results, tmp_path)
    assert all(p.exists() for p in paths.values())
    assert "| cifar10:eyeriss | random |" in paths["markdown"].read_text()


def test_seeds_are_reproducible_and_differ() -> None:
    pytest.importorskip("pymoo")
    task = parse_task("cifar10:fpga")
    runs = run_many(["pymoo-nsga2"], [task], seeds=(0, 0, 1), budgets=(25,), workers=1)
    gaps = [r.at[25]["hv_gap"] for r in runs]
    assert gaps[0] == gaps[1]
    assert runs[0].curve == runs[1].curve
    assert runs[2].curve != runs[0].curve


def test_unknown_method_fails_before_running() -> None:
    with pytest.raises(UnknownNameError, match="pymoo-nsga2"):
        run_many(["nope"], [parse_task("cifar10:fpga")], seeds=(0,), budgets=(5,))


def test_bad_strategy_option_fails_before_the_output_exists(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b"
    res = cli("bench", "-t", "cifar10:fpga", "-m", 'nsga2:population_size="x"', "--out", str(out))
    assert res.returncode == 2
    assert "option population_size must be an integer" in res.stderr
    assert not out.exists()


def test_cli_bench_writes_table_and_plot(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("optuna")
    res = cli(
        "bench",
        "--task",
        "cifar10:fpga",
        "--method",
        "random",
        "--method",
        "optuna-tpe",
        "--seeds",
        "2",
        "--budget",
        "10",
        "--budget",
        "20",
        "--out",
        "b",
    )
    assert res.returncode == 0, res.stderr
    assert "| cifar10:fpga | optuna-tpe |" in res.stdout
    assert (tmp_path / "b" / "hv_gap.png").stat().st_size > 0
    bad = cli("bench", "--task", "cifar10:fpga", "--method", "nope", "--seeds", "1")
    assert bad.returncode == 2 and "unknown strategy or baseline" in bad.stderr


def _children(pid: int) -> list[int]:
    """The live child processes of `pid`, read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended while listing
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_pool_workers_die_with_a_killed_driver(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    driver = subprocess.Popen(
        [sys.executable, "-m", "hwnas", "bench", "--task", "cifar10:pixel3", "--method",
         "random", "--seeds", "2000", "--budget", "50", "--workers", "2", "--out",
         str(tmp_path / "b")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(workers := _children(driver.pid)) < 2 and time.monotonic() < deadline:
            assert driver.poll() is None, "the bench ended before its workers were seen"
            time.sleep(0.1)
        assert len(workers) >= 2
        time.sleep(0.5)  # the workers are past their initializer and running
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 10
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [w for w in workers if _alive(w)]
        for pid in survivors:  # do not leave them behind even when the test fails
            os.kill(pid, signal.SIGKILL)
        assert not survivors, f"pool workers {survivors} outlived the killed driver"
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="forks, reads /proc (Linux)")
def test_the_portable_fallback_also_ends_an_orphaned_worker(tmp_path: Path) -> None:
    """Where the parent-death signal is not available, the watchdog thread ends the worker."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "worker.pid"
    script = f"""
import os, signal, sys, time
from hwnas.bench import _run
driver = os.getpid()
if os.fork() == 0:
    sys.platform = "other"  # as on a system without prctl
    _run._die_with(driver)
    open({str(pid_file)!r} + ".tmp", "w").write(str(os.getpid()))
    os.replace({str(pid_file)!r} + ".tmp", {str(pid_file)!r})
    time.sleep(60)
    os._exit(0)
while not os.path.exists({str(pid_file)!r}):
    time.sleep(0.05)
os.kill(driver, signal.SIGKILL)
"""
    subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    if survived := _alive(worker):
        os.kill(worker, signal.SIGKILL)  # do not leave it behind even when the test fails
    assert not survived, "the orphaned worker outlived its driver"


def test_botorch_baseline_runs_in_the_harness() -> None:
    """BoTorch's qLogNEHVI through the same oracle: distinct evaluations up to the budget,
    a gap that never grows with the budget."""
    pytest.importorskip("botorch")
    (result,) = run_many(
        ["botorch-qlognehvi"], [parse_task("cifar10:eyeriss")], seeds=range(1), budgets=(10, 14),
        workers=1,
    )  # fmt: skip
    assert result.evaluations == 14
    assert 0 <= result.at[14]["hv_gap"] <= result.at[10]["hv_gap"] <= 1


def test_tpe_multivariate_baseline_runs_and_is_seeded() -> None:
    pytest.importorskip("optuna")
    task = parse_task("cifar10:fpga")
    runs = [run_one("optuna-tpe-multivariate", task, seed, (15,)) for seed in (0, 0, 1)]
    assert all(r.evaluations == 15 for r in runs)
    assert runs[0].at == runs[1].at != runs[2].at
