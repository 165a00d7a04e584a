"""`latency@roofline:SPEC` in a search: a network that does not fit the device's memories
fails with the reason and the search goes on; a calibrated efficiency is in the provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hwnas
from hwnas.cost.roofline import load_spec
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement
from hwnas.trial import FAILED, OK

pytest.importorskip("torch")


def _spec_file(tmp_path: Path, **over: object) -> str:
    """stm32f746 with other memories: 70 kB of SRAM and 500 kB of flash hold some NB201
    cells (peak memory 65.5 or 81.9 kB int8, weights 103-865 kB) and refuse others."""
    path = tmp_path / "mcu.json"
    spec = {**load_spec("stm32f746").to_dict(), "sram_bytes": 70_000, "flash_bytes": 500_000}
    path.write_text(json.dumps({**spec, **over}))
    return str(path)


def _latency(target: str, arch: str) -> Measurement:
    space = hwnas.get_space("nb201")
    source = hwnas.get_target(target).resolve(
        EvalContext(space, "cifar10"), Metric("latency", target)
    )
    return source.evaluate([space.parse(arch)])[0]


def test_networks_that_do_not_fit_fail_with_the_reason_and_the_search_goes_on(
    tmp_path: Path,
) -> None:
    study = hwnas.Study(
        space="nb201", dataset="cifar10",
        objectives=["accuracy:max", f"latency@roofline:{_spec_file(tmp_path)}:min"],
        strategy="random", budget=6, seed=0, out_dir=None,
    ).optimize()  # fmt: skip
    rows = study.results().evaluations().to_dict("records")
    assert len(rows) == 6
    failed = [r for r in rows if r["status"] == FAILED]
    ok = [r for r in rows if r["status"] == OK]
    assert failed and ok  # both kinds among 6 random cells: the search did not stop
    for r in failed:
        assert "does not fit stm32f746: " in r["error"]
        assert "> SRAM 70 kB" in r["error"] or "> flash 500 kB" in r["error"]


def test_a_calibrated_efficiency_slows_the_bound_and_says_where_it_came_from(
    tmp_path: Path,
) -> None:
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
    bound = _latency("roofline:stm32f746", arch)
    cited = "one measured network: 40 ms against a 10 ms bound"
    spec = _spec_file(
        tmp_path, sram_bytes=None, flash_bytes=None, efficiency=0.25, efficiency_source=cited
    )
    calibrated = _latency(f"roofline:{spec}", arch)
    assert calibrated.value == pytest.approx(4 * bound.value)
    assert calibrated.provenance["efficiency"] == 0.25
    assert calibrated.provenance["efficiency_source"] == cited
    assert "efficiency" not in bound.provenance
