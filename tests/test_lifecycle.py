"""A run's life from start to end (issue 21): a run killed as it starts is not stuck, a
resume cannot contradict what is recorded, and a run that found nothing says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

import hwnas
from hwnas.cli._search import _run
from hwnas.errors import HwnasError, SpecError
from hwnas.ledger import LEDGER_FILE, Ledger
from hwnas.sources import MetricSource


# --- killed as it starts ----------------------------------------------------------------------
@pytest.mark.parametrize("left", ["empty file", "tables only"])
def test_a_run_killed_before_it_started_is_taken_over(tmp_path: Path, left: str) -> None:
    path = tmp_path / LEDGER_FILE
    if left == "empty file":
        path.touch()
    else:  # what hwnas before the fix left: the tables, and no configuration
        Ledger(path).close()
    study = hwnas.Study(strategy="random", budget=5, seed=0, out_dir=tmp_path).optimize()
    assert len(study.evaluations()) == 5
    assert Ledger.holds_run(path)


def test_the_configuration_is_written_with_the_ledger_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / LEDGER_FILE
    with pytest.raises(HwnasError):
        Ledger(path, meta={"config": object()})  # fails inside the creating transaction
    assert path.exists() and not Ledger.holds_run(path)
    ledger = Ledger(path, meta={"config": {"space": "nb201"}})
    assert ledger.get_meta("config") == {"space": "nb201"} and ledger.get_meta("schema_version")
    ledger.close()


def test_resuming_a_run_that_never_started_says_to_start_it(tmp_path: Path) -> None:
    Ledger(tmp_path / LEDGER_FILE).close()
    with pytest.raises(HwnasError, match="stopped before it started.*--out"):
        hwnas.Study.resume(tmp_path)


def test_a_started_run_is_not_taken_over(tmp_path: Path) -> None:
    hwnas.Study(strategy="random", budget=2, seed=0, out_dir=tmp_path)
    with pytest.raises(HwnasError, match="already holds a run"):
        hwnas.Study(strategy="random", budget=2, seed=0, out_dir=tmp_path)


# --- resume drift -----------------------------------------------------------------------------
def test_a_budget_below_the_recorded_evaluations_is_refused(tmp_path: Path) -> None:
    hwnas.Study(strategy="random", budget=12, seed=0, out_dir=tmp_path).optimize()
    with pytest.raises(HwnasError, match="12 evaluations recorded.*at least 12"):
        hwnas.Study.resume(tmp_path, budget=8)
    assert hwnas.load_results(tmp_path).config.budget == 12
    assert len(hwnas.Study.resume(tmp_path, budget=12).optimize().evaluations()) == 12


def test_cli_resume_drift_and_repeated_flags_are_errors(cli, tmp_path: Path) -> None:
    assert cli("search", "--budget", "6", "--out", "a", "-q").returncode == 0
    lower = cli("search", "--resume", "a", "--budget", "3")
    assert lower.returncode == 2 and "6 evaluations recorded" in lower.stderr
    twice = cli("search", "--resume", "a", "--resume", "b")
    assert twice.returncode == 2 and "--resume is given 2 times" in twice.stderr
    outs = cli("search", "--out", "c", "--out", "d")
    assert outs.returncode == 2 and "--out is given 2 times" in outs.stderr
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


# --- a run that cannot work -------------------------------------------------------------------
def test_cli_a_run_with_every_evaluation_infeasible_exits_1(cli, tmp_path: Path) -> None:
    result = cli("search", "-c", "latency@pixel3<=0", "--budget", "8", "--out", "r")
    assert result.returncode == 1
    assert (
        "8 infeasible" in result.stderr and "no evaluation met latency@pixel3<=0" in result.stderr
    )
    assert (tmp_path / "r" / "evaluations.csv").exists()


def test_cli_a_run_with_every_evaluation_failed_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = hwnas.Study(strategy="random", budget=4, seed=0, out_dir=tmp_path / "r")

    class Broken(MetricSource):
        metric = "latency@pixel3"

        def evaluate_one(self, arch):  # type: ignore[no-untyped-def]
            raise RuntimeError("device unplugged")

    study.sources["latency@pixel3"] = Broken()
    with pytest.raises(typer.Exit) as exit_:
        _run(study, quiet=True)
    assert exit_.value.exit_code == 1
    err = capsys.readouterr().err
    assert "4 failed" in err and "RuntimeError: device unplugged" in err
    assert (tmp_path / "r" / "evaluations.csv").exists()
    # the Python API returns; the summary tells
    assert study.optimize().summary()["failed"] == 4


def test_predictor_without_a_table_or_labels_is_refused_before_evaluating() -> None:
    with pytest.raises(SpecError, match="predictor:LABELS.csv"):
        hwnas.Study(
            space="mbv3", quality="predictor:n=5,proxies=", objectives=["accuracy:max", "macs:min"]
        )


def test_cli_predictor_on_a_space_without_table_exits_2(cli, tmp_path: Path) -> None:
    result = cli(
        "search", "--space", "mbv3", "--quality", "predictor", "-o", "accuracy:max",
        "-o", "macs:min", "--budget", "2", "--out", "r",
    )  # fmt: skip
    assert result.returncode == 2 and "has none" in result.stderr
    assert "predictor:LABELS.csv" in result.stderr and not (tmp_path / "r").exists()
