"""Long commands say how far they are in a log: run under CliRunner (not a terminal), each
prints plain `stage: done/total (P%), elapsed, ETA` lines on stderr, never Rich markup."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hwnas.cli import app

PLAIN_LINE = re.compile(r"^(.+): (\d+)/(\d+) \(\d+%\), elapsed \S+, ETA \S+$")
runner = CliRunner()


def progress(*args: str) -> dict[str, tuple[int, int]]:
    """Run `hwnas ARGS`; the last (done, total) printed for each stage."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    assert "[progress" not in result.stderr and "━" not in result.stderr
    last: dict[str, tuple[int, int]] = {}
    for match in map(PLAIN_LINE.match, result.stderr.splitlines()):
        if match:
            last[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    return last


def finished(lines: dict[str, tuple[int, int]], stage: str) -> int:
    """The total of `stage`, which must have been reported to its end."""
    matches = [v for k, v in lines.items() if k.startswith(stage)]
    assert matches, f"no progress for {stage!r} in {lines}"
    done, total = matches[-1]
    assert done == total > 0
    return total


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread: two test workers on two cores would otherwise fight over them."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_search_reports_the_predictor_training_inside_its_first_evaluation(
    tmp_path: Path, one_thread: None
) -> None:
    lines = progress("search", "--budget", "2", "--strategy", "random", "--quality",
                     "predictor:n=6,proxies=synflow", "--out", str(tmp_path / "run"))  # fmt: skip
    assert finished(lines, "training the accuracy predictor: proxies (synflow)") == 6
    assert finished(lines, "random on nb201/cifar10") == 2


def test_export_reports_fine_tuning(
    tmp_path: Path, one_thread: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hwnas.models.nb201 import TinyNetwork
    from hwnas.spaces.nb201 import NB201Space, cell

    monkeypatch.setattr(  # the real code path in a 4-channel skeleton: seconds, not minutes
        NB201Space,
        "build",
        lambda self, arch, dataset, classes=None: TinyNetwork(
            cell(arch.genes), classes or 10, C=4, N=1
        ),
    )
    run = tmp_path / "run"
    assert runner.invoke(app, ["search", "--budget", "3", "--out", str(run), "-q"]).exit_code == 0
    lines = progress("export", str(run), "--pick", "index:0", "--finetune-epochs", "1",
                     "--data", "digits", "--batch-size", "256", "--device", "cpu")  # fmt: skip
    assert finished(lines, "fine-tuning on digits") >= 1


def test_supernet_train_and_eval_report_progress(tmp_path: Path, one_thread: None) -> None:
    pytest.importorskip("safetensors")
    out = tmp_path / "s.safetensors"
    lines = progress("supernet", "train", "--data", "digits", "--dataset", "fashion-mnist",
                     "--epochs", "1", "--batch-size", "8", "--train-images", "16", "--n-random",
                     "0", "--out", str(out), "--device", "cpu")  # fmt: skip
    assert finished(lines, "supernet mbv3/fashion-mnist") == 2
    lines = progress("supernet", "eval", str(out), "--arch", "ofa-min", "--arch", "ofa-max",
                     "--calib-images", "16", "--device", "cpu")  # fmt: skip
    assert finished(lines, "evaluating subnets of s.safetensors") == 2


def test_proxies_report_progress(tmp_path: Path, one_thread: None) -> None:
    lines = progress("proxies", "--sample", "3", "--proxy", "params", "--out",
                     str(tmp_path / "zc.csv"))  # fmt: skip
    assert finished(lines, "proxies") == 3


def test_calibrate_measure_reports_progress(tmp_path: Path) -> None:
    lines = progress("calibrate", "--measure", "raspi4", "--design", "10", "--exclude-device",
                     "raspi4", "--out", str(tmp_path / "p.json"))  # fmt: skip
    assert finished(lines, "measuring on raspi4") == 10


def test_bench_reports_progress(tmp_path: Path) -> None:
    lines = progress("bench", "--task", "cifar10:pixel3", "--method", "random", "--seeds", "2",
                     "--budget", "10", "--workers", "1", "--out", str(tmp_path / "b"))  # fmt: skip
    assert finished(lines, "bench runs") == 2


def test_profile_and_validate_cost_report_progress(tmp_path: Path, one_thread: None) -> None:
    pytest.importorskip("onnxruntime")
    path = tmp_path / "tiny.json"
    restrict = [x for r in ("width=1", "resolution=0.75", "kernel_*=3", "expand_*=3")
                for x in ("--restrict", r)]  # fmt: skip
    lines = progress("profile", "--space", "mbv3", "--dataset", "cifar10", "--out", str(path),
                     "--samples", "2", "--unit-repeats", "1", "--net-repeats", "2", *restrict)  # fmt: skip
    assert finished(lines, "lookup table") > 0 and finished(lines, "whole networks") == 2
    lines = progress("validate-cost", "--target", str(path), "--samples", "2", "--repeats", "2")
    assert finished(lines, "held-out networks") == 2


def test_study_api_hears_the_stages_of_an_evaluation_in_process(one_thread: None) -> None:
    from hwnas.study import Study

    heard: list[tuple[str, int, int]] = []
    study = Study(strategy="random", budget=2, quality="predictor:n=4,proxies=params")
    study.optimize(stages=lambda stage, done, total: heard.append((stage, done, total)))
    assert heard[-1] == ("training the accuracy predictor: proxies (params)", 4, 4)
    assert [done for _, done, _ in heard] == [1, 2, 3, 4]  # trained once, on the first
    assert all(source.progress is None for source in study.sources.values())  # let go after


def test_an_error_is_not_preceded_by_a_stale_count(tmp_path: Path, one_thread: None) -> None:
    result = runner.invoke(app, ["supernet", "eval", str(tmp_path / "missing.safetensors"),
                                 "--arch", "ofa-min"])  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("error: supernet checkpoint"), result.stderr
