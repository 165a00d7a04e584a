"""The Ray executor on one local cluster (`ray.init(num_cpus=2)`, with one `device:testdev`
resource, as a node that owns a device advertises it). Starting Ray takes seconds, and
pytest-xdist would start one cluster per worker for a module-scoped fixture, so a single
test runs the checks, each a function that names what it checks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest
from fault_targets import attempts, hits, objective

import hwnas
from hwnas.errors import HwnasError
from hwnas.executors import make_executor
from hwnas.spaces import get_space

try:
    import ray
except ImportError:  # pragma: no cover - depends on the environment
    ray = None

pytestmark = pytest.mark.skipif(
    ray is None, reason="ray is not installed (pip install 'hwnas[ray]')"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        resources={"device:testdev": 1},
        include_dashboard=False,
        log_to_driver=False,
    )
    yield
    ray.shutdown()


def study(folder: Path, mode: str, budget: int = 10, **options: object) -> hwnas.Study:
    folder.mkdir(exist_ok=True)
    return hwnas.Study(
        objectives=["accuracy:max", objective(mode, folder)],
        strategy="random",
        budget=budget,
        seed=5,
        executor=make_executor("ray", **{"workers": 2, **options}),  # type: ignore[arg-type]
    )


def check_same_seed_same_evaluations_as_in_process() -> None:
    def evaluations(executor: str) -> pd.DataFrame:
        options = {"population_size": 8}
        s = hwnas.Study(
            strategy="nsga2",
            strategy_options=options,
            budget=24,
            seed=2,
            executor=executor,
            workers=2 if executor == "ray" else None,
        )
        return s.optimize().evaluations()

    pd.testing.assert_frame_equal(evaluations("ray"), evaluations("inprocess"))
    assert ray.is_initialized()  # a cluster the executor did not start is left running


def check_exceptions_and_worker_deaths_are_recorded(tmp_path: Path) -> None:
    raised = study(tmp_path / "raise", "raise").optimize().evaluations()
    space = get_space("nb201")
    expected = [hits(space.parse(a)) for a in raised["arch"]]
    assert (raised["status"] == "failed").tolist() == expected and any(expected)
    assert raised[raised["status"] == "failed"]["error"].str.contains("injected failure").all()

    died = study(tmp_path / "exit", "exit", retries=1).optimize().evaluations()
    failed = died[died["status"] == "failed"]
    assert len(failed) > 0 and (died["status"] == "ok").sum() > 0
    assert failed["error"].str.startswith("worker lost").all()
    assert failed["error"].str.contains("2 attempts").all()
    assert attempts(tmp_path / "exit") == len(died) + len(failed)


def check_device_tasks_use_the_device_resource_one_at_a_time(tmp_path: Path) -> None:
    """Measurements on `testdev` never overlap, while the study's device-free metric (one
    that completes only when two evaluations run it at once) spreads over both CPUs."""
    meet, device = tmp_path / "meet", tmp_path / "dev"
    meet.mkdir()
    device.mkdir()
    s = hwnas.Study(
        objectives=["accuracy:max", objective("rendezvous", meet), objective("device", device)],
        strategy="random",
        budget=8,
        seed=5,
        executor=make_executor("ray", workers=2),
    ).optimize()
    rows = list(s.ledger.rows())
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    intervals = sorted(
        (p["started"], p["finished"])
        for r in rows
        for name, p in r["provenance"].items()
        if name.startswith("latency@fault:device")
    )
    assert len(intervals) == 8
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(intervals))


def check_a_device_no_node_owns_is_a_clear_error(tmp_path: Path) -> None:
    class Elsewhere(hwnas.sources.MetricSource):
        metric, device = "latency@rpi-lab", "rpi-lab"

    s = study(tmp_path / "x", "slow")
    s.evaluator.sources["latency@rpi-lab"] = Elsewhere()  # as a target measuring on rpi-lab
    with pytest.raises(HwnasError, match=r"no node of the Ray cluster owns device 'rpi-lab'"):
        s.optimize()


def check_a_joined_cluster_is_named(caplog: pytest.LogCaptureFixture) -> None:
    """A cluster hwnas did not start is said (on stderr, through logging's last resort):
    its address, its nodes and the hwnas version they run."""
    executor = make_executor("ray", workers=2)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hwnas.executors.ray_cluster"):
        hwnas.Study(budget=2, seed=1, executor=executor).optimize()
    address = ray.get_runtime_context().gcs_address
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 1, said
    assert said[0].startswith(
        f"joined the Ray cluster at {address}, hwnas {hwnas.__version__} on its 1 node: "
    )
    assert said[0].endswith("(2 CPUs, device:testdev)")
    assert executor.cluster is not None and not executor.cluster.started  # type: ignore[attr-defined]


def check_another_hwnas_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose hwnas differs from the driver's stops the run before any evaluation:
    an `error:` line and exit code 2 (the driver pretends to be another version)."""
    from typer.testing import CliRunner

    from hwnas.cli import app

    monkeypatch.setattr("hwnas._version.__version__", "0.0.0-other")
    run = tmp_path / "other-version"
    args = ["search", "--executor", "ray", "--workers", "2", "--budget", "2", "--out", str(run)]
    result = CliRunner().invoke(app, args)
    monkeypatch.undo()
    assert result.exit_code == 2, result.output
    assert "runs another hwnas than this driver (0.0.0-other)" in result.output
    assert f"has hwnas {hwnas.__version__}" in result.output
    assert "Traceback" not in result.output
    assert len(hwnas.load_results(run).rows) == 0


def check_a_plugin_workers_cannot_resolve_stops_the_run(tmp_path: Path) -> None:
    """As the process pool does: one clear error before the first evaluation, not a budget
    of failed evaluations."""
    s = study(tmp_path / "unresolvable", "slow", imports=["hwnas_plugin_workers_lack"])
    with pytest.raises(HwnasError, match=r"a Ray worker on .* could not resolve the study: "):
        s.optimize()
    assert len(s.ledger) == 0


def test_ray_executor(
    cluster: None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check_same_seed_same_evaluations_as_in_process()
    check_exceptions_and_worker_deaths_are_recorded(tmp_path)
    check_device_tasks_use_the_device_resource_one_at_a_time(tmp_path)
    check_a_device_no_node_owns_is_a_clear_error(tmp_path)
    check_a_joined_cluster_is_named(caplog)
    check_another_hwnas_version_is_refused(tmp_path, monkeypatch)
    check_a_plugin_workers_cannot_resolve_stops_the_run(tmp_path)


def test_unreachable_cluster_fails_before_the_run_directory_exists(tmp_path: Path) -> None:
    """Refused at construction (a socket check, no Ray start), so no half-made run remains
    to block the same --out later."""
    from typer.testing import CliRunner

    from hwnas.cli import app

    run = tmp_path / "run"
    args = ["search", "--executor", "ray", "--ray-address", "127.0.0.1:1", "--out", str(run)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in result.output
    assert not run.exists()
