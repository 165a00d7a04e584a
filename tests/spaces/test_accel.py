"""`NAME+accel`: a space's networks joined with a parametrised Eyeriss-like accelerator;
the joint space keeps the space contract and its accelerators are valid ZigZag input."""

from __future__ import annotations

import numpy as np
import pytest

import hwnas
from hwnas.errors import HwnasError, SpecError
from hwnas.spaces.accel import AccelSpace, accelerated_space
from hwnas.testing import check_space

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
        arch = space.make([*base, *accel_genes])
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
