"""The CLI as a user runs it: in a subprocess, checking output files and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest


def only_run_dir(tmp_path: Path) -> Path:
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    return runs[0]


def test_default_search_writes_the_run_and_says_where(cli, tmp_path: Path) -> None:
    result = cli("search")
    assert result.returncode == 0, result.stderr
    run = only_run_dir(tmp_path)
    assert run.name.startswith("nb201-cifar10-") and "-seed0-" in run.name
    assert str(run.relative_to(tmp_path)) in result.stdout
    assert "Pareto front" in result.stdout and "hypervolume" in result.stdout
    evals = pd.read_csv(run / "evaluations.csv")
    assert len(evals) == 200 and evals["arch"].is_unique
    assert list(evals.columns[:4]) == ["arch", "status", "accuracy", "latency@pixel3"]
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["space"] == "nb201" and config["dataset"] == "cifar10" and config["seed"] == 0
    assert config["objectives"] == ["accuracy:max", "latency@pixel3:min"]
    for name in ("pareto.csv", "pareto.png", "ledger.sqlite"):
        assert (run / name).exists()

    shown = cli("show", str(run))
    assert shown.returncode == 0, shown.stderr
    assert "Pareto front" in shown.stdout and "strategy" in shown.stdout


def test_console_script_is_installed() -> None:
    if shutil.which("hwnas") is None:
        pytest.skip("the hwnas console script is not on PATH (package not installed)")
    import subprocess

    result = subprocess.run(["hwnas", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "search" in result.stdout


def test_search_on_tables_imports_no_optional_package(tmp_path: Path) -> None:
    """The README's promise: a search on published tables needs no extra. `hwnas search` in
    a fresh interpreter must not even import one, whether or not it is installed (the
    core-only CI run also checks that it runs without them)."""
    import subprocess
    import sys

    code = (
        "import sys; from hwnas.cli import main; "
        "sys.argv = ['hwnas', 'search', '--budget', '20', '-q', '--out', 'run']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "optional = ('torch', 'onnx', 'onnxruntime', 'safetensors', 'ray', 'pymoo', 'optuna',"
        " 'playwright')\n"
        "print(sorted(m for m in optional if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
        check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]", result.stdout
    assert len(pd.read_csv(tmp_path / "run" / "evaluations.csv")) == 20


def test_search_with_objectives_constraints_and_options(cli, tmp_path: Path) -> None:
    result = cli(
        "search",
        "--dataset",
        "cifar100",
        "-o",
        "accuracy:max",
        "-o",
        "latency@raspi4:min",
        "-c",
        "latency@raspi4<=20",
        "--strategy",
        "nsga2",
        "--option",
        "population_size=10",
        "--budget",
        "50",
        "--seed",
        "3",
        "--out",
        "myrun",
    )
    assert result.returncode == 0, result.stderr
    evals = pd.read_csv(tmp_path / "myrun" / "evaluations.csv")
    assert len(evals) == 50
    assert set(evals["status"]) <= {"ok", "infeasible"}
    front = pd.read_csv(tmp_path / "myrun" / "pareto.csv")
    assert (front["latency@raspi4"] <= 20).all() and (front["status"] == "ok").all()
    config = json.loads((tmp_path / "myrun" / "config.json").read_text())["config"]
    assert config["strategy_options"] == {"population_size": 10}
    assert config["constraints"] == ["latency@raspi4<=20"]


def test_resume_extends_to_the_same_evaluations(cli, tmp_path: Path) -> None:
    assert cli("search", "--budget", "70", "--seed", "5", "--out", "full", "-q").returncode == 0
    assert cli("search", "--budget", "30", "--seed", "5", "--out", "part", "-q").returncode == 0
    resumed = cli("search", "--resume", "part", "--budget", "70", "-q")
    assert resumed.returncode == 0, resumed.stderr
    full = pd.read_csv(tmp_path / "full" / "evaluations.csv")
    part = pd.read_csv(tmp_path / "part" / "evaluations.csv")
    pd.testing.assert_frame_equal(full, part)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--space", "nb999"], "unknown space 'nb999'; valid:"),
        (
            ["search", "--dataset", "mnist"],
            "unknown dataset 'mnist' for space 'nb201'; valid: cifar10, cifar100, imagenet16",
        ),
        (["search", "--strategy", "annealing"], "unknown strategy 'annealing'; valid:"),
        (["search", "-o", "accuracy:max", "-o", "latency@moon:min"], "unknown target 'moon'"),
        (["search", "-o", "energy:min"], "unknown metric 'energy'; valid:"),
        (["search", "-o", "accuracy:best"], "expected METRIC:min or METRIC:max"),
        (["search", "-c", "latency@pixel3<=fast"], "bound 'fast' is not a number"),
        (["search", "--option", "population_size"], "expected KEY=VALUE"),
        (["search", "--option", "sigma=2"], "has no option(s) sigma"),
        (
            ["search", "--strategy", "nsga2", "--option", "population_size=abc"],
            "option population_size must be an integer, got 'abc'",
        ),
        (
            ["search", "--strategy", "nsga2", "--option", "mutation_rate=NaN"],
            "option mutation_rate must be finite, got nan",
        ),
        (
            ["search", "--strategy", "bayes", "--option", "kappa=Infinity"],
            "option kappa must be finite, got inf",
        ),
        (["search", "--strategy", "nsga2", "--option", "mutation_rate=-1"], "in [0, 1]"),
        (["search", "--strategy", "bayes", "--option", "pool_size=0"], "pool_size must be >= 1"),
        (["evaluate", "|none~0|+|bogus~0|none~1|+|none~0|none~1|none~2|"], "unknown op 'bogus'"),
        (["evaluate", "99999"], "out of range 0..15624"),
        (["show", "nowhere"], "nowhere: no run here (no such run directory)"),
        (["targets", "--space", "nope"], "unknown space"),
    ],
)
def test_bad_input_one_line_exit_2(cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().count("\n") == 0  # one line


def test_resume_with_conflicting_configuration_shows_difference(cli, tmp_path: Path) -> None:
    assert cli("search", "--budget", "10", "--out", "run", "-q").returncode == 0
    result = cli("search", "--resume", "run", "--seed", "4", "-o", "accuracy:max")
    assert result.returncode == 2
    assert "seed: 0 -> 4" in result.stderr and "objectives" in result.stderr
    again = cli("search", "--budget", "10", "--out", "run")
    assert again.returncode == 2 and "already holds a run" in again.stderr


def test_listing_commands(cli) -> None:
    spaces = cli("spaces")
    assert spaces.returncode == 0 and "nb201" in spaces.stdout and "15,625" in spaces.stdout
    targets = cli("targets")
    assert targets.returncode == 0
    for name in ("raspi4", "pixel3", "eyeriss", "fpga", "samsung_a50", "HW-NAS-Bench", "HELP"):
        assert name in targets.stdout
    strategies = cli("strategies")
    assert "(default)" in strategies.stdout and "random" in strategies.stdout
    metrics = cli("metrics", "--dataset", "imagenet16")
    assert "latency@fpga" in metrics.stdout.split() and "accuracy" in metrics.stdout.split()


def test_evaluate_json_with_provenance(cli) -> None:
    result = cli("evaluate", "6111", "-m", "accuracy", "-m", "latency@eyeriss", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["arch"].startswith("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|")
    assert data["metrics"]["accuracy"]["value"] == pytest.approx(91.606667, abs=1e-5)
    assert data["metrics"]["latency@eyeriss"]["provenance"]["unit"] == "ms"


def test_help_lists_every_command(cli) -> None:
    result = cli("--help")
    for command in ("search", "show", "spaces", "targets", "strategies", "metrics", "evaluate"):
        assert command in result.stdout


def test_a_table_device_on_another_space_names_the_targets_that_serve_it() -> None:
    from typer.testing import CliRunner

    from hwnas.cli import app

    args = ["search", "--space", "mbv3", "-o", "params:min", "-o", "latency@pixel3:min"]
    result = CliRunner().invoke(app, [*args, "--budget", "2", "--out", "unused"])
    assert result.exit_code == 2
    assert "unknown target 'pixel3' for space 'mbv3'" in result.stderr
    assert "nb201 cells only" in result.stderr and "local-cpu" in result.stderr


def test_a_misspelt_data_set_is_named_as_such() -> None:
    from typer.testing import CliRunner

    from hwnas.cli import app

    args = ["search", "--space", "mbv3", "--data", "fahion-mnist", "--out", "unused", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "unknown dataset 'fahion-mnist'; did you mean 'fashion-mnist'?" in result.stderr


def test_evaluate_names_a_source_without_empty_brackets() -> None:
    """`hwnas evaluate` printed ' []' as the source of every counted metric."""
    from hwnas.cli._catalog import _source_text

    assert _source_text({"kind": "analytic"}) == "analytic"
    assert _source_text({"kind": "measured", "runtime": "onnxruntime"}) == "measured (onnxruntime)"
    table = {"table": "nb201/x.csv.gz", "column": "c", "source": "NB201"}
    assert _source_text(table) == "nb201/x.csv.gz [c] NB201"


def test_networks_built_in_a_search_get_the_classes_of_its_data(
    cli, tmp_path: Path, three_classes: str
) -> None:
    pytest.importorskip("torch")
    from hwnas.cost.analytic import count
    from hwnas.results import load_results
    from hwnas.spaces import get_space

    out = tmp_path / "run"
    result = cli(
        "search", "--space", "mbv3", "--dataset", "cifar10", "--data", three_classes,
        "-o", "params:min", "-o", "macs:min", "--strategy", "random", "--budget", "2",
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    space = get_space("mbv3")  # nb201 takes params and macs from its table
    for row in load_results(out).rows:
        arch = space.parse(row.arch)
        three = count(space.build(arch, "cifar10", 3), space.arch_input_shape(arch, "cifar10"))
        assert row.metrics["params"] == pytest.approx(three.params / 1e6)
        assert row.provenance["params"]["classes"] == row.provenance["macs"]["classes"] == 3
    # the export builds the network the run evaluated: its provenance says 3 classes
    pytest.importorskip("onnxruntime")
    from hwnas.export import export_run

    assert export_run(out, "best:params", tmp_path / "exported").card["classes"] == 3


def test_search_on_a_subspace_and_listing_dimensions(cli, tmp_path: Path) -> None:
    result = cli("search", "--restrict", "edge_*=nor_conv_3x3,none", "--budget", "20", "-q")
    assert result.returncode == 0, result.stderr
    evals = pd.read_csv(only_run_dir(tmp_path) / "evaluations.csv")
    assert not evals["arch"].str.contains("skip|pool|1x1").any()
    dims = cli("spaces", "nb201")
    assert dims.returncode == 0 and "edge_3_2" in dims.stdout and "avg_pool_3x3" in dims.stdout
    bad = cli("search", "--restrict", "kernel=3", "--budget", "5")
    assert bad.returncode == 2 and "matches no dimension" in bad.stderr
