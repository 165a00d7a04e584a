"""Reading a run is not running it: `load_results` and the commands that read (show,
report) leave the run's files as they were, and read what the study recorded."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hwnas
from hwnas.cli import app
from hwnas.errors import HwnasError
from hwnas.ledger import Ledger
from hwnas.report import write_outputs

runner = CliRunner()


def _files(run: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.iterdir())
        if p.is_file()
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results") / "run"
    study = hwnas.Study(budget=25, seed=3, constraints=["latency@pixel3<=12"], out_dir=out)
    study.optimize(callbacks=[write_outputs])
    study.ledger.close()
    return out


def test_show_leaves_every_file_byte_identical(run: Path) -> None:
    before = _files(run)
    result = runner.invoke(app, ["show", str(run)])
    assert result.exit_code == 0, result.output
    assert "Pareto front" in result.output
    assert _files(run) == before


def test_report_changes_nothing_but_report_html(run: Path) -> None:
    (run / "report.html").unlink()
    before = _files(run)
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    after = _files(run)
    assert set(after) - set(before) == {"report.html"}
    assert {k: v for k, v in after.items() if k != "report.html"} == before


def test_a_killed_runs_ledger_is_read_without_being_checkpointed(run: Path, tmp_path: Path) -> None:
    """A run killed mid-way (here: still open) leaves its newest rows in the write-ahead
    log; reading must see them and must not fold the log into the database (that would
    write). Only SQLite's shared-memory index (-shm), which coordinates readers, may
    change."""
    killed = tmp_path / "killed"
    killed.mkdir()
    for name in ("ledger.sqlite", "config.json"):
        (killed / name).write_bytes((run / name).read_bytes())
    writer = sqlite3.connect(killed / "ledger.sqlite", isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("DELETE FROM evaluations WHERE trial >= 20")
    before = _files(killed)
    assert "ledger.sqlite-wal" in before
    results = hwnas.load_results(killed)
    assert len(results) == 20
    after = _files(killed)
    assert after.pop("ledger.sqlite-shm", None) is not None
    before.pop("ledger.sqlite-shm")
    assert after == before
    writer.close()


def test_results_match_the_study_that_wrote_them(run: Path) -> None:
    results = hwnas.load_results(run)
    study = hwnas.Study.resume(run)
    assert results.evaluations().equals(study.evaluations())
    assert results.pareto_front().equals(study.pareto_front())
    assert results.summary() == study.summary()
    assert results.config == study.config
    assert results.host["hwnas"] == hwnas.__version__
    first = results.rows[0]
    assert first.trial == 0 and first.provenance["latency@pixel3"]["table"]
    study.ledger.close()


def test_results_of_a_run_that_does_not_exist_say_so(tmp_path: Path) -> None:
    with pytest.raises(HwnasError, match="no such run directory"):
        hwnas.load_results(tmp_path / "missing")
    with pytest.raises(HwnasError, match="not a run directory"):
        hwnas.load_results(tmp_path)


def test_a_metric_recorded_beyond_the_configuration_is_listed_but_not_a_column(
    run: Path, tmp_path: Path
) -> None:
    """An edited or damaged row may record a metric the configuration does not name (found
    by fuzzing: `{"": null}`): the summary and the true front still work, and only export's
    picking sees the extra name."""
    copy = tmp_path / "run"
    copy.mkdir()
    (copy / "ledger.sqlite").write_bytes((run / "ledger.sqlite").read_bytes())
    db = sqlite3.connect(copy / "ledger.sqlite", isolation_level=None)
    db.execute("""UPDATE evaluations SET metrics = '{"": null, "extra": 1.0}' WHERE trial = 0""")
    db.close()
    results = hwnas.load_results(copy)
    assert results.metric_names == ["accuracy", "latency@pixel3"]
    assert results.recorded_metrics == ["accuracy", "latency@pixel3", "", "extra"]
    assert results.summary()["evaluations"] == 25
    assert results.true_front() is not None


def test_a_run_reads_without_the_files_its_metrics_came_from(run: Path, tmp_path: Path) -> None:
    """A run measured with a latency profile (or a supernet, or labels) that has since moved
    is still shown and reported from its directory alone (issue 21 item 4)."""
    copy = tmp_path / "run"
    copy.mkdir()
    (copy / "ledger.sqlite").write_bytes((run / "ledger.sqlite").read_bytes())
    ledger = Ledger(copy / "ledger.sqlite")
    config = ledger.get_meta("config")
    gone = str(tmp_path / "moved" / "cpu.json")
    ledger.set_meta("config", {**config, "objectives": ["accuracy:max", f"latency@{gone}:min"]})
    ledger.close()
    results = hwnas.load_results(copy)
    assert results.true_front() is None and results.summary()["evaluations"] == 25
    assert runner.invoke(app, ["show", str(copy)]).exit_code == 0
    assert runner.invoke(app, ["report", str(copy)]).exit_code == 0
    assert (copy / "report.html").exists()


def test_a_run_path_the_system_refuses_is_an_hwnas_error(tmp_path: Path) -> None:
    with pytest.raises(HwnasError, match="cannot read a run there"):
        hwnas.load_results(tmp_path / ("z" * 300))
