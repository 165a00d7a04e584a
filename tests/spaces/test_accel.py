"""`NAME+accel`: a space's networks joined with a parametrised Eyeriss-like accelerator;
the joint space keeps the space contract and its accelerators are valid ZigZag input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hwnas
from hwnas.errors import HwnasError, SpecError
from hwnas.ledger import Ledger
from hwnas.spaces.accel import AccelSpace, accelerated_space, weights_overflow
from hwnas.testing import check_space
from hwnas.trial import FAILED, Trial

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|none~2|"


def test_the_joint_space_keeps_the_space_contract() -> None:
    space = hwnas.get_space("nb201+accel")
    assert isinstance(space, AccelSpace)
    check_space(space)
    assert space.size() == hwnas.get_space("nb201").size() * 4 * 2 * 2 * 2 * 2


def test_keys_name_the_network_and_the_accelerator() -> None:
    space = hwnas.get_space("nb201+accel")
    arch = space.parse(f"{CELL}#32x32,w128,a256,os,b16")
    assert arch.key == f"{CELL}#32x32,w128,a256,os,b16"
    assert space.base_arch(arch).key == CELL
    assert space.describe(arch)["pe_array"] == "32x32"
    # the network alone: the template's choices (the nearest to ZigZag's eyeriss_like)
    assert space.parse(CELL).key == f"{CELL}#14x12,w32,a1024,ws,b8"
    with pytest.raises(SpecError, match="ROWSxCOLS"):
        space.parse(f"{CELL}#big")
    with pytest.raises(SpecError, match="pe_array '9x9' is not one of 8x8, 14x12"):
        space.parse(f"{CELL}#9x9,w32,a256,ws,b8")


def test_genes_shape_the_accelerator_by_the_stated_rules() -> None:
    space = hwnas.get_space("nb201+accel")
    small, _, bits8 = space.accelerator(space.parse(f"{CELL}#8x8,w32,a256,ws,b8"))
    big, mapping, bits16 = space.accelerator(space.parse(f"{CELL}#32x32,w128,a1024,os,b16"))
    assert (bits8, bits16) == (8, 16)
    assert small["operational_array"]["sizes"] == [8, 8]
    assert big["operational_array"]["sizes"] == [32, 32]
    # a 16-bit multiplier: 4x the energy and area of an 8-bit one
    assert big["operational_array"]["unit_energy"] == 4 * small["operational_array"]["unit_energy"]
    # a buffer of 4x the capacity: 2x the energy per access, 4x the area
    w_small, w_big = small["memories"]["sram_64KB"], big["memories"]["sram_64KB"]
    assert w_big["size"] == 4 * w_small["size"] == 128 * 1024 * 8
    assert w_big["r_cost"] == pytest.approx(2 * w_small["r_cost"])
    assert w_big["area"] == pytest.approx(4 * w_small["area"])
    # output-stationary: output columns over the rows, output channels over the columns
    assert mapping[0]["spatial_mapping"] == {"D1": ["OX, 32"], "D2": ["K, 32"]}


def test_every_accelerator_of_the_space_is_valid_zigzag_input() -> None:
    pytest.importorskip("zigzag")
    from hwnas.cost.zigzag import Accelerator, validate

    space = hwnas.get_space("nb201+accel")
    base = space.base.parse(CELL).genes
    for accel_genes in np.ndindex(*space.cardinalities[len(base) :]):
        arch = space.restore([*base, *accel_genes])  # pairs left out have valid hardware too
        hardware, mapping, _ = space.accelerator(arch)
        validate(Accelerator(arch.key, hardware, mapping, "test"), arch.key)


def test_bad_joins_are_refused_with_the_reason() -> None:
    with pytest.raises(SpecError, match="drop \\+quant"):
        hwnas.get_space("nb201+quant+accel")
    with pytest.raises(SpecError, match="already has an accelerator"):
        accelerated_space("nb201+accel+accel", hwnas.get_space("nb201+accel"))

    class TableOnly(hwnas.SearchSpace):
        name = "table-only"
        dimensions = hwnas.get_space("nb201").dimensions

    with pytest.raises(HwnasError, match="cannot build networks"):
        accelerated_space("table-only+accel", TableOnly())


#: ZigZag 3.9.1's verdicts (`hwnas.cost.zigzag.evaluate_layer`: LOMA lpf 6, 3 spatial
#: mappings) on convolutions with 8x8 outputs and (the last three) Linear layers over 17
#: tokens (ZigZag's MatMul), measured in session 16:
#: (accelerator, output channels, input channels, kernel side, mapped)
ZIGZAG_VERDICTS = [
    ("32x32,w32,a1024,ws,b8", 64, 64, 3, False),
    ("32x32,w32,a1024,ws,b8", 64, 56, 3, True),
    ("32x32,w32,a1024,ws,b8", 64, 60, 3, False),
    ("32x32,w32,a1024,ws,b8", 96, 64, 3, False),
    ("32x32,w32,a256,ws,b8", 128, 32, 3, False),
    ("32x32,w32,a256,ws,b8", 256, 128, 1, True),  # exactly the buffer
    ("32x32,w32,a256,ws,b8", 256, 256, 1, False),
    ("32x32,w32,a256,ws,b8", 512, 256, 1, True),  # does not fit one PE: split over levels
    ("32x32,w32,a256,ws,b8", 128, 64, 3, True),
    ("32x32,w32,a256,ws,b8", 96, 64, 3, False),
    ("32x32,w32,a256,ws,b8", 32, 32, 3, True),
    ("32x32,w32,a256,ws,b8", 48, 64, 3, True),
    ("32x32,w32,a256,ws,b8", 80, 64, 3, False),  # 80 is no multiple of the array's 32
    ("32x32,w32,a256,ws,b8", 64, 80, 3, False),
    ("32x32,w32,a256,ws,b8", 200, 200, 1, False),
    ("32x32,w32,a256,ws,b8", 576, 96, 1, False),  # an MobileNetV3 expansion
    ("32x32,w32,a256,ws,b8", 96, 576, 1, False),
    ("32x32,w32,a256,ws,b8", 40, 100, 3, True),
    ("32x32,w32,a256,ws,b8", 24, 160, 5, True),
    ("32x32,w32,a256,ws,b16", 64, 32, 3, False),
    ("32x32,w32,a256,ws,b16", 72, 32, 3, False),
    ("32x32,w32,a256,ws,b16", 64, 64, 3, True),
    ("32x32,w32,a256,ws,b16", 128, 128, 1, True),
    ("32x32,w32,a256,ws,b16", 64, 48, 3, True),
    ("16x16,w32,a256,ws,b8", 256, 256, 1, True),
    ("14x12,w32,a256,ws,b8", 256, 256, 1, True),
    ("32x32,w32,a256,os,b8", 256, 256, 1, True),
    ("32x32,w128,a256,ws,b8", 256, 256, 1, True),
    ("32x32,w32,a256,ws,b8", 192, 216, 1, False),
    ("32x32,w32,a256,ws,b8", 864, 216, 1, True),
    ("32x32,w32,a256,ws,b8", 128, 128, 1, True),
]


def _choices(accel: str) -> dict[str, object]:
    array, weights, acts, dataflow, bits = accel.split(",")
    return {
        "pe_array": array,
        "weight_buffer_kb": int(weights[1:]),
        "act_buffer_kb": int(acts[1:]),
        "dataflow": dataflow,
        "bits": int(bits[1:]),
    }


@pytest.mark.parametrize(("accel", "k", "c", "side", "mapped"), ZIGZAG_VERDICTS)
def test_the_weight_rule_gives_zigzags_verdict(
    accel: str, k: int, c: int, side: int, mapped: bool
) -> None:
    assert (weights_overflow((1, k, c, side * side), _choices(accel)) is None) is mapped


def test_depthwise_layers_never_break_the_weight_rule() -> None:
    # groups are not unrolled by either dataflow: one PE holds a group's taps only if tiny
    assert weights_overflow((960, 1, 1, 9), _choices("32x32,w32,a256,ws,b8")) is None


def test_pairs_zigzag_cannot_map_are_left_out_with_the_reason() -> None:
    pytest.importorskip("torch")
    space = hwnas.get_space("nb201+accel")
    # every NB201 network has the 64-channel stage: 64x64x3x3 weights at 8 bits overflow
    with pytest.raises(SpecError, match=r"1x64x64x9 at 8 bits = 294,912 bits.*32 KB weight"):
        space.parse(f"{CELL}#32x32,w32,a256,ws,b8")
    with pytest.raises(SpecError, match=r"1x64x32x9 at 16 bits"):
        space.parse(f"{CELL}#32x32,w32,a1024,ws,b16")
    for fine in ("32x32,w32,a256,os,b8", "32x32,w128,a256,ws,b8", "16x16,w32,a256,ws,b8"):
        space.parse(f"{CELL}#{fine}")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(300)]
    archs += space.neighbours(space.parse(f"{CELL}#32x32,w32,a256,os,b8"))
    archs += [space.mutate(archs[0], rng, rate=0.5) for _ in range(100)]
    left_out = [a.key for a in archs if "#32x32,w32," in a.key and ",ws," in a.key]
    assert not left_out and any("#32x32," in a.key for a in archs)


def test_a_ledger_keeps_a_pair_recorded_before_it_was_left_out(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    space = hwnas.get_space("nb201+accel")
    genes = [*space.base.parse(CELL).genes, 3, 0, 0, 0, 0]  # 32x32, w32, a256, ws, b8
    assert not space.is_valid(genes)
    old = space.restore(genes)
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.record(Trial(0, old, FAILED, {}, "NoValidLoopOrderingFound"), {}, started=1.0)
    assert ledger.trials(space)[old.key].error == "NoValidLoopOrderingFound"


def test_the_cli_names_the_layer_an_accelerator_cannot_run() -> None:
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    from hwnas.cli import app

    args = ["evaluate", "--space", "nb201+accel", "-m", "accel_area"]
    out = CliRunner().invoke(app, [*args, f"{CELL}#32x32,w32,a256,ws,b8"])
    assert out.exit_code == 2
    assert "1x64x64x9 at 8 bits" in " ".join(out.stderr.split())
    assert CliRunner().invoke(app, [*args, f"{CELL}#32x32,w32,a256,os,b8"]).exit_code == 0
