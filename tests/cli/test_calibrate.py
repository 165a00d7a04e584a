"""`hwnas calibrate`: design, measurements CSV, live measurement, and each bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hwnas.cli import app

runner = CliRunner()


def _raspi4(key: str) -> float:
    from hwnas.tabular.nb201 import load_frame

    frame = load_frame().set_index("arch_str")
    return float(frame.loc[key, "cifar10_raspi4_latency_ms"])


def _fail(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def design(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """The printed design of 12 architectures and the CSV it wrote."""
    out = tmp_path_factory.mktemp("calibrate") / "design.csv"
    args = ["calibrate", "--design", "12", "--exclude-device", "raspi4", "--design-out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout.split(), out


def test_design_prints_keys_and_writes_a_csv_to_fill_in(design: tuple[list[str], Path]) -> None:
    keys, path = design
    assert len(keys) == 12 and all(k.startswith("|") for k in keys)
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["arch"] for r in rows] == keys and all(r["latency_ms"] == "" for r in rows)
    result = runner.invoke(app, ["calibrate", "--design", "3", "--exclude-device", "raspi4"])
    assert "maximum posterior variance" in result.stderr


def test_measurements_to_predictor_to_evaluate(
    design: tuple[list[str], Path], tmp_path: Path
) -> None:
    keys, _ = design
    measured = tmp_path / "m.csv"
    measured.write_text("arch,latency_ms\n" + "".join(f"{k},{_raspi4(k)}\n" for k in keys))
    out = tmp_path / "pi.json"
    args = ["calibrate", "--measurements", str(measured), "--out", str(out)]
    result = runner.invoke(app, [*args, "--exclude-device", "raspi4"])
    assert result.exit_code == 0, result.output
    assert "leave-one-out on the measurements: Spearman" in result.stdout
    assert json.loads(out.read_text())["n"] == 12
    result = runner.invoke(app, ["evaluate", "5", "-m", f"latency@{out}", "--json"])
    assert result.exit_code == 0, result.output
    metric = json.loads(result.stdout)["metrics"][f"latency@{out}"]
    assert metric["value"] > 0 and metric["provenance"]["kind"] == "predicted"
    assert metric["provenance"]["std_ms"] > 0 and metric["provenance"]["n_measured"] == 12


def test_measure_through_a_target(tmp_path: Path) -> None:
    out, filled = tmp_path / "p.json", tmp_path / "measured.csv"
    args = ["calibrate", "--measure", "raspi4", "--design", "8", "--exclude-device", "raspi4"]
    result = runner.invoke(app, [*args, "--out", str(out), "--design-out", str(filled)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(filled.open()))
    assert len(rows) == 8 and float(rows[0]["latency_ms"]) == _raspi4(rows[0]["arch"])
    assert json.loads(out.read_text())["excluded"] == ["raspi4"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("arch,ms\nx,1\n", "missing column(s) latency_ms"),
        ("arch,latency_ms\n|bad|,1\n", "line 2: nb201 architecture '|bad|'"),
        ("arch,latency_ms\n{k0},1\n{k1},-2\n", "line 3: latency_ms '-2' is not a positive"),
        ("arch,latency_ms\n{k0},1\n{k1},nan\n", "line 3: latency_ms 'nan' is not a positive"),
        ("arch,latency_ms\n{k0},1\n{k1},\n", "line 3: latency_ms '' is not a positive"),
        ("arch,latency_ms\n{k0},1\n{k1},2\n{k0},3\n", "line 4: "),
        ("arch,latency_ms\n{k0},1\n{k1},2\n", "2 measurements, at least 3 needed"),
    ],
)
def test_bad_measurement_files_name_the_row(tmp_path: Path, text: str, message: str) -> None:
    k0 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    k1 = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    path = tmp_path / "m.csv"
    path.write_text(text.format(k0=k0, k1=k1))
    output = _fail(["calibrate", "--measurements", str(path), "--out", str(tmp_path / "p.json")])
    assert message in output
    if "line 4" in message:
        assert "measured already on line 2" in output


def test_bad_command_lines_say_what_is_wrong(tmp_path: Path) -> None:
    assert "nothing to do" in _fail(["calibrate"])
    assert "--out P.json is needed" in _fail(["calibrate", "--measure", "raspi4"])
    assert "not both" in _fail(
        ["calibrate", "--measure", "raspi4", "--measurements", "m.csv", "--out", "p.json"]
    )
    assert "does not exist" in _fail(
        ["calibrate", "--measurements", str(tmp_path / "none.csv"), "--out", "p.json"]
    )
    assert "unknown device to exclude 'raspi5'" in _fail(
        ["calibrate", "--design", "3", "--exclude-device", "raspi5"]
    )
    assert "--pool METRIC" in _fail(["calibrate", "--space", "mbv3", "--design", "3"])
    other = tmp_path / "other.json"
    other.write_text('{"kind": "nope"}')
    assert "is neither a latency profile" in _fail(["evaluate", "5", "-m", f"latency@{other}"])
