"""`hwnas dnas` from the command line: a smoke run on 8x8 digits writes a run directory
that `hwnas show` and `hwnas export` read; bad input is one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hwnas.cli import app

pytest.importorskip("torch")
runner = CliRunner()
SMOKE = ["--data", "digits", "--epochs", "1", "--images", "100", "--width", "0.25",
         "--threads", "1"]  # fmt: skip


def test_smoke_run_writes_a_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["dnas", "--method", "proxyless", "--target-latency", "latency@eyeriss=4,6",
              *SMOKE, "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "latency@eyeriss=4: expected" in result.output
    for name in ("ledger.sqlite", "evaluations.csv", "pareto.csv", "report.html", "config.json"):
        assert (out / name).is_file(), name
    frame = pd.read_csv(out / "evaluations.csv")
    assert {"arch", "latency@eyeriss", "origin"} <= set(frame.columns)
    assert frame["origin"].str.startswith("derived by proxyless DNAS").all()
    shown = runner.invoke(app, ["show", str(out)])
    assert shown.exit_code == 0 and "strategy given" in shown.output
    exported = runner.invoke(
        app, ["export", str(out), "--pick", "best:latency@eyeriss", "--out", str(tmp_path / "e")]
    )
    assert exported.exit_code == 0, exported.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "darts", "--target-latency", "latency@pixel3=5"], "proxyless"),
        (["--target-latency", "latency@pixel3=1"], "cheapest architecture costs"),
        (["--target-latency", "latency@pixel3"], "METRIC=VALUE"),
        (["--derive", "best", "--target-latency", "latency@pixel3=5"], "budget"),
        ([], "at least one"),
        (["--target-latency", "latency@pixel3=8", "--objective", "accuracy:max"], "--quality"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["dnas", *args, *SMOKE, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
