"""`hwnas measure`, `hwnas profile`, `hwnas validate-cost` and cost metrics in `hwnas search`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hwnas.cli import app
from hwnas.cost.profile import profilable_spaces

runner = CliRunner()


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_measure_analytic_json() -> None:
    pytest.importorskip("torch")
    out = _json(
        [
            "measure",
            "--space",
            "mbv3",
            "--arch",
            "mobilenetv3-large",
            "--dataset",
            "imagenet",
            "--target",
            "analytic",
            "--json",
        ]
    )
    assert out["macs_M"] == pytest.approx(219, rel=0.03)
    assert out["params_M"] == pytest.approx(5.4, rel=0.03)
    assert out["peak_memory_kb"] > 0 and out["flash_kb"] > 0 and out["roofline_rpi4_ms"] > 0
    # 1 MB of SRAM and 5.5 MB of weights do not fit a 320 KB / 1 MB microcontroller: no
    # latency there (it read 502 ms), and the reason beside it
    assert out["roofline_stm32f746_ms"] is None
    assert out["roofline_stm32f746_misfit"].startswith("does not fit stm32f746: peak memory")
    assert "roofline_rpi4_misfit" not in out


def test_measure_analytic_reports_kib_and_inplace_peak() -> None:
    pytest.importorskip("torch")
    args = ["measure", "--space", "mbv2", "--arch", "mobilenetv2", "--dataset", "imagenet"]
    out = _json([*args, "--target", "analytic", "--json"])
    assert (out["peak_memory_kib"], out["peak_memory_inplace_kib"]) == (1470, 1372)
    assert out["flash_kib"] == pytest.approx(out["flash_kb"] / 1.024)


def test_measure_bitfusion_and_its_refusals() -> None:
    base = ["measure", "--space", "mbv2", "--dataset", "imagenet", "--target", "bitfusion"]
    out = _json([*base, "--arch", "apq-min", "--json"])
    assert out["latency_ms"] > 0 and out["energy_mJ"] > 0
    assert out["provenance"]["latency"]["table"] == "quant/apq_bitfusion_lut.json.gz"
    result = runner.invoke(app, [*base, "--arch", "mobilenetv2"])
    assert result.exit_code == 2
    assert "BitFusion table has no layer '(144, 32, 28, 1, 1, 0, 1)-W8A8'" in result.output
    other = ["measure", "--space", "mbv3", "--arch", "ofa-min", "--target", "bitfusion"]
    result = runner.invoke(app, other)
    assert result.exit_code == 2 and "no figures for mbv3/imagenet" in result.output


def test_measure_table_target_on_fbnet() -> None:
    out = _json(
        [
            "measure",
            "--space",
            "fbnet",
            "--arch",
            "-".join(["0"] * 22),
            "--target",
            "raspi4",
            "--json",
        ]
    )
    assert out["latency_ms"] == pytest.approx(17.618579145142576)
    assert out["provenance"]["latency"]["kind"] == "table"


def test_measure_local_cpu_records_threads() -> None:
    pytest.importorskip("onnxruntime")
    out = _json(
        [
            "measure",
            "--space",
            "mbv3",
            "--arch",
            "ofa-min",
            "--dataset",
            "fashion-mnist",
            "--target",
            "local-cpu",
            "--repeats",
            "3",
            "--json",
        ]
    )
    assert out["latency_ms"] > 0
    prov = out["provenance"]["latency"]
    assert prov["threads"] == 1 and prov["runtime"] == "onnxruntime" and prov["blocks"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "nosuch", "--target", "analytic"], "unknown mbv3 preset"),
        (["--arch", "ofa-min", "--target", "nosuch"], "unknown target"),
        (["--arch", "ofa-min", "--target", "roofline:nosuch"], "unknown device spec"),
        (["--arch", "ofa-min", "--target", "missing.json"], "does not exist"),
        (["--arch", "ofa-min", "--dataset", "mnist", "--target", "analytic"], "unknown dataset"),
    ],
)
def test_measure_errors_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["measure", "--space", "mbv3", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_measure_says_when_a_network_does_not_fit_the_roofline_device() -> None:
    """mobilenetv3-large was given 502 ms on a 320 KB / 1 MB microcontroller."""
    pytest.importorskip("torch")
    result = runner.invoke(
        app,
        ["measure", "--space", "mbv3", "--arch", "mobilenetv3-large", "--dataset", "imagenet",
         "--target", "roofline:stm32f746"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "does not fit stm32f746: peak memory 1003.52 kB > SRAM 327.68 kB" in result.output
    assert "weights 5529.51 kB > flash 1048.58 kB" in result.output


def test_cost_only_search_on_mbv3(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "search",
            "--space",
            "mbv3",
            "--dataset",
            "cifar10",
            "-o",
            "macs:min",
            "-o",
            "latency@roofline:rpi4:min",  # no mbv3 network fits stm32f746's 1 MB of flash
            "-c",
            "peak_memory_kb<=400",
            "--strategy",
            "random",
            "--budget",
            "4",
            "--out",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "pareto.csv").exists()


def test_cost_only_search_on_mbv2_with_kib_metrics(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "run"
    args = ["search", "--space", "mbv2", "--dataset", "cifar10", "--strategy", "random"]
    args += ["-o", "peak_memory_inplace_kib:min", "-o", "macs:min", "-c", "flash_kib<=4000"]
    result = runner.invoke(app, [*args, "--budget", "3", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "peak_memory_inplace_kib" in (out / "pareto.csv").read_text()


def test_accuracy_on_mbv3_is_refused() -> None:
    result = runner.invoke(
        app, ["search", "--space", "mbv3", "-o", "accuracy:max", "-o", "macs:min", "--budget", "2"]
    )
    assert result.exit_code == 2
    assert "no accuracy" in result.output


def test_profile_and_validate_cli(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = tmp_path / "tiny.json"
    restrict = [
        "--restrict",
        "width=1",
        "--restrict",
        "resolution=0.75",
        "--restrict",
        "kernel_*=3",
        "--restrict",
        "expand_*=3",
    ]
    result = runner.invoke(
        app,
        [
            "profile",
            "--space",
            "mbv3",
            "--dataset",
            "cifar10",
            "--out",
            str(path),
            "--samples",
            "2",
            "--unit-repeats",
            "1",
            "--net-repeats",
            "2",
            *restrict,
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["schema_version"] == 2
    report = _json(
        ["validate-cost", "--target", str(path), "--samples", "2", "--repeats", "2", "--json"]
    )
    assert report["n"] == 2 and "repeat_within_10pct" in report["noise_floor"]
    assert report["referenced"]["n"] == 2
    text = runner.invoke(app, ["validate-cost", "--target", str(path), "--samples", "1"])
    assert text.exit_code == 0, text.output
    assert "drift removed" in text.output and "Kendall tau" in text.output


def test_profile_takes_the_classes_of_the_search_data(tmp_path: Path, three_classes: str) -> None:
    """`hwnas profile` could only time the dataset's 10-class head, and a search on 3-class
    data used that profile silently."""
    pytest.importorskip("onnxruntime")
    path = tmp_path / "three.json"
    restrict = ["--restrict", "width=1", "--restrict", "resolution=0.75"]
    restrict += ["--restrict", "kernel_*=3", "--restrict", "expand_*=3"]
    made = runner.invoke(
        app,
        [
            "profile", "--space", "mbv3", "--dataset", "cifar10", "--data", three_classes,
            "--out", str(path), "--samples", "2", "--unit-repeats", "1", "--net-repeats", "1",
            *restrict,
        ],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "(3-class head)" in made.output
    meta = json.loads(path.read_text())
    assert meta["classes"] == 3 and meta["data"] == three_classes
    report = _json(
        ["validate-cost", "--target", str(path), "--samples", "1", "--repeats", "1", "--json"]
    )
    assert report["n"] == 1  # held-out networks measured with the profile's head
    search = ["search", "--space", "mbv3", "--dataset", "cifar10", "-o", f"latency@{path}:min"]
    search += ["--strategy", "random", "--budget", "2", "-q", *restrict]
    out = tmp_path / "run"
    refused = runner.invoke(app, [*search, "--out", str(out)])
    assert refused.exit_code == 2
    assert "without --data the search builds cifar10's 10-class head" in refused.output
    assert f"give --data {three_classes}" in refused.output
    assert not out.exists()
    ran = runner.invoke(app, [*search, "--data", three_classes, "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    # one architecture: `hwnas measure` takes the same --data (it had none to give)
    arch = [
        "--space",
        "mbv3",
        "--dataset",
        "cifar10",
        "--arch",
        "w1|r0.75|" + "|".join(["k3e3,k3e3"] * 5),
    ]
    measure = ["measure", *arch, "--target", str(path), "--json"]
    assert runner.invoke(app, measure).exit_code == 2
    predicted = _json([*measure, "--data", three_classes])
    assert predicted["data"] == three_classes and predicted["latency_ms"] > 0
    assert predicted["provenance"]["latency"]["classes"] == 3
    counts = _json(["measure", *arch, "--target", "analytic", "--json", "--data", three_classes])
    ten = _json(["measure", *arch, "--target", "analytic", "--json"])
    assert round((ten["params_M"] - counts["params_M"]) * 1e6) == 7 * (1280 + 1)  # 7 rows fewer


def test_targets_lists_table_devices_and_local_targets_by_space() -> None:
    fbnet = runner.invoke(app, ["targets", "--space", "fbnet"])
    # fbnet has HW-NAS-Bench's tables and, since its networks build, local measurement
    assert fbnet.exit_code == 0 and "raspi4" in fbnet.output and "local-cpu" in fbnet.output
    mbv3 = runner.invoke(app, ["targets", "--space", "mbv3"])
    assert "local-cpu" in mbv3.output and "raspi4" not in mbv3.output
    # the shipped roofline specs are listed where networks build
    assert "roofline:rpi4" in mbv3.output and "roofline:rpi4" in fbnet.output


def _also(args: list[str]) -> str:
    """The line after `hwnas targets`' table: the target forms that take a file."""
    result = runner.invoke(app, ["targets", *args])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.rsplit("┘", 1)[-1].split())


def test_targets_advertises_a_profile_only_where_hwnas_profile_can_make_one() -> None:
    """`hwnas profile` needs a space that splits into layers (mbv3, fbnet, ...); nb201 was
    offered PROFILE.json all the same."""
    layered = ", ".join(profilable_spaces())  # mbv3 and the transformers
    profiled = (
        f"PROFILE.json (a per-layer latency table from `hwnas profile`, which profiles {layered})"
    )
    assert profiled in _also([]) and profiled in _also(["--space", "mbv3"])
    calibrated = (
        "PREDICTOR.json (a few-shot latency predictor for your device from `hwnas calibrate`)"
    )
    nb201 = _also(["--space", "nb201"])
    remote = (
        "remote:NAME (a board running `hwnas device serve`; see `hwnas device list`), "
        "zigzag:ACCEL[@NMHZ] (ZigZag's accelerator model: tpu_like, eyeriss_like, ... or your "
        'ACCEL.yaml; latency and energy; pip install "hwnas[zigzag]")'
    )
    assert nb201 == f"Also: roofline:SPEC.json (your device spec), {remote} and {calibrated}."
    fbnet = _also(["--space", "fbnet"])  # its networks build and split into layers
    spec = "roofline:SPEC.json (your device spec)"
    assert fbnet == f"Also: {spec}, {remote}, {profiled} and {calibrated}."


@pytest.mark.parametrize("space", ["nb201"])
def test_profile_of_a_space_without_layers_names_the_ones_with(space: str) -> None:
    result = runner.invoke(app, ["profile", "--space", space, "--out", "never.json"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: space {space!r} does not split into layers, so it cannot be profiled into a "
        f"lookup table (spaces that can: {', '.join(profilable_spaces())})"
    )


def test_measure_shows_the_spread_and_warns_when_noisy_or_busy(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`measure` printed 4.13 ms, then 2.46 ms on a rerun, and only --json said noisy."""
    import hwnas.cli._cost as cost_cli

    prov = {
        "iqr_ms": 1.1,
        "rel_iqr": 0.78,
        "noisy": True,
        "load_1min": 6.5,
        "cpus": 2,
        "drift": 0.31,
        "blocks": 7,
    }
    result = {"space": "nb201", "dataset": "cifar10", "latency_ms": 1.44}
    monkeypatch.setattr(
        cost_cli, "measure_arch", lambda *a: {**result, "provenance": {"latency": prov}}
    )
    out = CliRunner().invoke(
        app, ["measure", "--space", "nb201", "--arch", "5", "--target", "local-cpu"]
    )
    assert out.exit_code == 0, out.output
    assert "78% of the median" in out.stdout and "noisy" in out.stdout
    assert "drift 31%" in out.stdout
    assert "warning: latency: noisy" in out.stderr and "load 6.5 on 2" in out.stderr
    quiet = {**prov, "rel_iqr": 0.02, "iqr_ms": 0.03, "noisy": False, "load_1min": 0.4}
    monkeypatch.setattr(
        cost_cli, "measure_arch", lambda *a: {**result, "provenance": {"latency": quiet}}
    )
    out = CliRunner().invoke(
        app, ["measure", "--space", "nb201", "--arch", "5", "--target", "local-cpu"]
    )
    assert out.exit_code == 0 and "warning" not in out.stderr
    remote = {**prov, "url": "http://127.0.0.1:8765"}  # blocks set in the devices file
    monkeypatch.setattr(
        cost_cli, "measure_arch", lambda *a: {**result, "provenance": {"latency": remote}}
    )
    out = CliRunner().invoke(
        app, ["measure", "--space", "nb201", "--arch", "5", "--target", "remote:pi"]
    )
    assert "devices-file" in " ".join(out.stderr.split()) and "--repeats" not in out.stderr
