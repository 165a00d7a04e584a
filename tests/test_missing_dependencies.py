"""A missing optional dependency (torch, pymoo, ...) is refused up front with the extra to
install, exit code 2 on the CLI, never a traceback or a run whose every evaluation fails."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest
import typer

import hwnas
from hwnas.errors import DependencyError, SpecError


@pytest.fixture
def hide(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """hide(module): find_spec answers None for it, as when it is not installed."""
    real = importlib.util.find_spec

    def hide_module(name: str) -> None:
        def fake(module: str, *args: Any, **kwargs: Any) -> Any:
            return None if module.partition(".")[0] == name else real(module, *args, **kwargs)

        monkeypatch.setattr(importlib.util, "find_spec", fake)

    return hide_module


def test_study_refuses_a_metric_whose_source_needs_a_missing_module(hide) -> None:
    hide("torch")
    with pytest.raises(
        DependencyError, match=r'metric macs needs torch: pip install "hwnas\[torch\]"'
    ):
        hwnas.Study(objectives=["accuracy:max", "macs:min"], budget=5)
    # tables need nothing optional
    hwnas.Study(objectives=["accuracy:max", "latency@pixel3:min"], budget=5)


def test_predictor_labels_file_must_exist_before_the_run(tmp_path) -> None:
    pytest.importorskip("torch")  # a labels file trains on the default proxies (synflow)
    missing = tmp_path / "labels.csv"
    with pytest.raises(SpecError, match="expected a CSV"):
        hwnas.Study(quality=f"predictor:{missing}", budget=5)


def test_evaluate_skips_what_needs_a_missing_module_unless_asked_for_it(hide) -> None:
    from typer.testing import CliRunner

    from hwnas.cli import app

    hide("torch")
    result = CliRunner().invoke(app, ["evaluate", "6111", "--json"])
    assert result.exit_code == 0, result.output
    assert '"accuracy"' in result.stdout and '"macs"' not in result.stdout
    assert "not evaluated: bitops, flash_fp32_kb, flash_kb, flash_kib, macs" in result.stderr
    assert 'each needs torch: pip install "hwnas[torch]"' in result.stderr
    asked = CliRunner().invoke(app, ["evaluate", "6111", "-m", "macs"])
    assert asked.exit_code == 2 and "metric macs needs torch" in asked.stderr


def test_bench_refuses_a_baseline_whose_package_is_missing(hide) -> None:
    from hwnas.bench._run import method_runner

    hide("pymoo")
    with pytest.raises(DependencyError, match=r'pip install "hwnas\[bench\]"'):
        method_runner("pymoo-nsga2")
    hide("botorch")
    with pytest.raises(DependencyError, match=r'needs botorch: pip install "hwnas\[botorch\]"'):
        method_runner("botorch-qlognehvi")


def test_cli_turns_a_missing_optional_module_into_one_line(hide, capsys) -> None:
    from hwnas.cli._app import friendly

    hide("onnxruntime")

    @friendly
    def needs_onnx() -> None:
        raise ModuleNotFoundError("No module named 'onnxruntime'", name="onnxruntime")

    with pytest.raises(typer.Exit) as exit_info:
        needs_onnx()
    assert exit_info.value.exit_code == 2
    err = capsys.readouterr().err
    assert 'this command needs onnxruntime: pip install "hwnas[torch]"' in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["numpyy", "torch._no_such_part"])
def test_cli_lets_a_missing_required_module_through(name: str) -> None:
    """A module hwnas does not list as optional, or a missing submodule of an installed
    optional package (a broken install), is a fault to see, not bad input."""
    from hwnas.cli._app import friendly

    if name.startswith("torch."):
        pytest.importorskip("torch")  # "installed optional package" needs it installed

    @friendly
    def broken() -> None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    with pytest.raises(ModuleNotFoundError):
        broken()


def test_a_finished_run_still_loads_without_the_dependency(hide, tmp_path) -> None:
    """Reading a run (show, report) needs no torch even if its metrics did; continuing it
    does."""
    pytest.importorskip("torch")
    run = tmp_path / "run"
    study = hwnas.Study(
        objectives=["accuracy:max", "params:min"], constraints=["macs<=100"], budget=3,
        out_dir=run,
    )  # fmt: skip
    study.optimize()
    hide("torch")
    loaded = hwnas.load_results(run)
    assert len(loaded.evaluations()) == 3
    with pytest.raises(DependencyError, match="metric macs needs torch"):
        hwnas.Study.resume(run).optimize()


def test_hwnas_gym_without_gymnasium_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "gymnasium", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "hwnas.gym", raising=False)
    with pytest.raises(
        DependencyError, match=r'hwnas.gym needs gymnasium: pip install "hwnas\[gym\]"'
    ):
        importlib.import_module("hwnas.gym")
