"""The hat space from the command line: counts of a HAT SubTransformer YAML file, a
latency@hat-* evaluation, a bad file as one line and exit code 2, and a search."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hwnas.cli import app

runner = CliRunner()
RPI_3_5S = str(
    resources.files("hwnas")
    / "data"
    / "hat"
    / "subtransformers"
    / "wmt14.en-de__HAT_wmt14ende_raspberrypi@3.5s_bleu@25.8.yml"
)
KEY = "e512:1024h4,3072h8,3072h4,2048h4,2048h4,2048h8|d512:3072h8e8a1"


def test_measure_analytic_counts_a_yaml_file_as_hat_does() -> None:
    pytest.importorskip("torch")
    args = ["measure", "--space", "hat", "--arch", RPI_3_5S, "--dataset", "wmt14.en-de"]
    result = runner.invoke(app, [*args, "--target", "analytic", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["arch"] == KEY
    assert out["params_M"] == pytest.approx(25.22, rel=0.005)  # HAT's README
    assert 2 * out["macs_M"] / 1e3 == pytest.approx(1.53, rel=0.03)  # FLOPs (G)


def test_evaluate_a_hat_latency_with_provenance() -> None:
    args = ["evaluate", KEY, "--space", "hat", "--dataset", "wmt14.en-de"]
    result = runner.invoke(app, [*args, "-m", "latency@hat-raspberrypi", "--json"])
    assert result.exit_code == 0, result.output
    metric = json.loads(result.stdout)["metrics"]["latency@hat-raspberrypi"]
    assert metric["value"] == pytest.approx(3500, rel=0.06)
    assert metric["provenance"]["predictor"] == "hat-cost-ols"


def test_evaluate_params_and_macs_for_the_hat_space() -> None:
    pytest.importorskip("torch")
    args = ["evaluate", KEY, "--space", "hat", "--dataset", "wmt14.en-de", "--json"]
    result = runner.invoke(app, [*args, "-m", "params", "-m", "macs"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["params"]["value"] == pytest.approx(25.22, rel=0.005)
    assert metrics["macs"]["provenance"]["unit"] == "M"


@pytest.mark.parametrize("arch", ["e512:1024h4|d512:3072h8e8a1", "no/such/file.yml"])
def test_a_bad_architecture_is_one_line_and_exit_code_2(arch: str) -> None:
    args = ["measure", "--space", "hat", "--arch", arch, "--dataset", "wmt14.en-de"]
    result = runner.invoke(app, [*args, "--target", "hat-xeon"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_a_latency_only_search_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["search", "--space", "hat", "--dataset", "wmt14.en-de", "--budget", "8"]
    objectives = ["-o", "latency@hat-raspberrypi:min", "-o", "latency@hat-titanxp:min"]
    result = runner.invoke(app, [*args, *objectives, "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert (out / "pareto.csv").read_text().count("\n") >= 2
