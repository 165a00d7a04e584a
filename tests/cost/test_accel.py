"""Costs of a (network, accelerator) co-search: `latency@zigzag:searched` prices the
network at the genes' bits on the genes' accelerator, the accelerator's counters are cheap
constraints, and every other metric is the network's alone (the NB201 table's accuracy)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hwnas
from hwnas.errors import HwnasError
from hwnas.metrics import Metric, parse_metric
from hwnas.sources import EvalContext
from hwnas.trial import OK

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("zigzag")

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|none~2|"
#: a cell of skips and zeros: its network is the stem, the residual blocks and the head
THIN = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    from hwnas.cost.zigzag_cache import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path_factory.getbasetemp() / "zigzag-accel-cache"))


@pytest.fixture
def priced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[dict[str, Any], Any]]]:
    """ZigZag replaced by a stand-in that records what it was asked: energy = MACs x the
    array's MAC energy, cycles = MACs / PEs (the plumbing, not ZigZag, is under test)."""
    import math

    import hwnas.cost.zigzag as zz

    calls: list[tuple[dict[str, Any], Any]] = []

    def fake(layer: dict[str, Any], accel: Any) -> tuple[float, float]:
        calls.append((layer, accel))
        macs = math.prod(layer["loop_sizes"])
        array = accel.hardware["operational_array"]
        return macs * array["unit_energy"], macs / math.prod(array["sizes"])

    monkeypatch.setattr(zz, "evaluate_layer", fake)
    yield calls


def _source(metric: str, space: str = "nb201+accel") -> Any:
    from hwnas.evaluation import resolve_metric

    ctx = EvalContext(hwnas.get_space(space), "cifar10")
    return resolve_metric(ctx, parse_metric(metric))


def test_the_genes_accelerator_and_bits_reach_zigzag(priced: list[Any]) -> None:
    space = hwnas.get_space("nb201+accel")
    source = _source("energy@zigzag:searched")
    arch8 = space.parse(f"{CELL}#8x8,w32,a256,ws,b8")
    arch16 = space.parse(f"{CELL}#32x32,w128,a256,ws,b16")
    e8, e16 = (m.value for m in source.evaluate([arch8, arch16]))
    layers8 = [
        layer for layer, accel in priced if accel.hardware["operational_array"]["sizes"] == [8, 8]
    ]
    layers16 = [
        layer for layer, accel in priced if accel.hardware["operational_array"]["sizes"] == [32, 32]
    ]
    assert layers8 and len(layers8) == len(layers16)
    assert {layer["operand_precision"]["W"] for layer in layers8} == {8}
    assert {layer["operand_precision"]["O"] for layer in layers16} == {32}
    assert e16 == pytest.approx(4 * e8)  # the stand-in: 16-bit MACs cost 4x
    prov = source.evaluate([arch16])[0].provenance
    assert prov["bits"] == 16 and prov["accelerator"].endswith("32x32,w128,a256,ws,b16")
    assert prov["layers_evaluated_now"] == 0  # the cache answered the second time


def test_accuracy_is_the_networks_and_the_counters_the_accelerators(priced: list[Any]) -> None:
    space = hwnas.get_space("nb201+accel")
    small = space.parse(f"{CELL}#8x8,w32,a256,ws,b8")
    big = space.parse(f"{CELL}#32x32,w128,a1024,ws,b8")
    accuracy = _source("accuracy").evaluate([small, big])
    plain = _source("accuracy", "nb201").evaluate([space.base_arch(small)])
    assert accuracy[0].value == accuracy[1].value == plain[0].value
    area = _source("accel_area").evaluate([small, big])
    onchip = _source("accel_onchip_kb").evaluate([small, big])
    pes = _source("accel_pes").evaluate([small, big])
    assert [p.value for p in pes] == [64, 1024]
    assert area[1].value > area[0].value and onchip[1].value > onchip[0].value
    # 64 PEs x (64 + 64 + 16 bytes of register files) + 8 KB + 32 KB + 256 KB of buffers
    assert onchip[0].value == pytest.approx((64 * 144 + (8 + 32 + 256) * 1024) / 1e3)
    # a device table serves the network too
    assert _source("latency@raspi4").evaluate([small])[0].value > 0


def test_a_co_search_checks_area_first_and_records_both_halves(priced: list[Any]) -> None:
    results = hwnas.Study(
        space="nb201+accel", dataset="cifar10",
        objectives=["accuracy:max", "energy@zigzag:searched:min", "latency@zigzag:searched:min"],
        constraints=["accel_area<=400"], strategy="random", budget=12, seed=0, out_dir=None,
    ).optimize().results()  # fmt: skip
    rows = results.evaluations().to_dict("records")
    assert len(rows) == 12 and all(r["status"] == OK for r in rows)
    # the strategy met the cheap constraint before proposing (half the arrays are larger)
    assert all(r["accel_area"] <= 400 for r in rows)
    assert {r["arch"].split("#")[1].split(",")[0] for r in rows} <= {"8x8", "14x12"}
    # so an accelerator over the budget was never priced
    from hwnas.cost.accel import area

    assert all(area(accel.hardware) <= 400 for _, accel in priced)


def test_restricting_the_genes_gives_the_fixed_halves(priced: list[Any]) -> None:
    """(a) networks on the default accelerator, (b) accelerators for one network: the
    baselines a co-search is compared with are restrictions of the joint space."""
    fixed = {"pe_array": ["14x12"], "weight_buffer_kb": [32], "act_buffer_kb": [1024],
             "dataflow": ["ws"], "bits": [8]}  # fmt: skip
    results = hwnas.Study(
        space="nb201+accel", dataset="cifar10",
        objectives=["accuracy:max", "energy@zigzag:searched:min"],
        strategy="random", budget=4, seed=1, out_dir=None, restrict=fixed,
    ).optimize().results()  # fmt: skip
    keys = results.evaluations()["arch"]
    assert all(k.endswith("#14x12,w32,a1024,ws,b8") for k in keys)


def test_fixed_and_searched_accelerators_are_kept_apart() -> None:
    joint = EvalContext(hwnas.get_space("nb201+accel"), "cifar10")
    plain = EvalContext(hwnas.get_space("nb201"), "cifar10")
    with pytest.raises(HwnasError, match="use latency@zigzag:searched"):
        _source("latency@zigzag:tpu_like")  # as a search resolves it, not the network's
    with pytest.raises(HwnasError, match="search a NAME\\+accel space"):
        hwnas.get_target("zigzag:searched").resolve(plain, Metric("latency", "zigzag:searched"))
    from hwnas.evaluation import available_metrics

    names = available_metrics(joint)
    assert "accuracy" in names and "latency@zigzag:searched" in names and "accel_area" in names


def test_zigzag_itself_prices_a_joint_architecture(tmp_path: Path) -> None:
    """One real pricing (a thin cell: a few distinct layers), 16-bit against 8-bit."""
    space = hwnas.get_space("nb201+accel")
    source = _source("energy@zigzag:searched")
    e8, e16 = (
        m.value
        for m in source.evaluate(
            [
                space.parse(f"{THIN}#32x32,w128,a1024,ws,b8"),
                space.parse(f"{THIN}#32x32,w128,a1024,ws,b16"),
            ]
        )
    )
    assert 0 < e8 < e16


def test_zigzag_cannot_map_what_the_joint_space_leaves_out() -> None:
    """The weight rule of `hwnas.spaces.accel` against ZigZag itself, on either side of
    the 32 KB buffer (one PE's register file holds 54 and 32 of each layer's weights)."""
    from hwnas.cost.zigzag import Accelerator, _unmappable, evaluate_layer
    from hwnas.spaces.accel import weights_overflow

    space = hwnas.get_space("nb201+accel")
    # the space leaves this pair out, so it is made as a ledger restores it
    arch = space.restore([*space.base.parse(THIN).genes, 3, 0, 0, 0, 0])
    assert arch.key.endswith("#32x32,w32,a256,ws,b8")
    hardware, mapping, bits = space.accelerator(arch)
    accel, choices = Accelerator("test", hardware, mapping, "test"), space.choices(arch)

    def conv(k: int, c: int, side: int) -> dict[str, Any]:
        pad = (side - 1) // 2
        return {
            "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
            "loop_dims": ["B", "K", "G", "OX", "OY", "C", "FX", "FY"],
            "loop_sizes": [1, k, 1, 8, 8, c, side, side],
            "dimension_relations": ["ix=1*ox+1*fx", "iy=1*oy+1*fy"],
            "operand_precision": {"I": bits, "O": 2 * bits, "O_final": bits, "W": bits},
            "pr_loop_dims": ["IX", "IY"],
            "pr_loop_sizes": [8, 8],
            "padding": [[pad, pad], [pad, pad]],
        }

    assert weights_overflow((1, 96, 64, 9), choices) is not None
    with pytest.raises(_unmappable()):
        evaluate_layer({"operator_type": "Conv", **conv(96, 64, 3)}, accel)
    assert weights_overflow((1, 256, 128, 1), choices) is None  # exactly the buffer
    energy, cycles = evaluate_layer({"operator_type": "Conv", **conv(256, 128, 1)}, accel)
    assert energy > 0 and cycles > 0
