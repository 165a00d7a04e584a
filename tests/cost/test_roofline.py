"""The roofline at a quantised architecture's bits: memory traffic at each layer's weight and
activation bits, compute at the peak of the precision that holds them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

pytest.importorskip("torch")

import torch
from torch import nn

from hwnas.cost.analytic import count
from hwnas.cost.roofline import DeviceSpec, load_spec, misfit, roofline_seconds
from hwnas.errors import SpecError
from hwnas.spaces.quant import BlockBits


class Net(nn.Module):
    """x (2x8x8) -> 1x1 conv a to 6 -> 1x1 conv b to 2 -> pool -> linear fc to 3."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 6, 1, bias=False)
        self.b = nn.Conv2d(6, 2, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.b(torch.relu(self.a(x)))), 1))


def _spec(**over: Any) -> DeviceSpec:
    data = {
        "schema_version": 1,
        "name": "toy",
        "peak_ops_per_s": {"int8": 1000.0, "fp32": 500.0},
        "memory_bandwidth_bytes_per_s": 100.0,
        "default_precision": "fp32",
        "sources": ["made up"],
        **over,
    }
    return DeviceSpec.from_dict(data, "test")


def _at(w: int, a: int) -> Any:
    return replace(count(Net(), (2, 8, 8)), bits=[BlockBits("all", "", w, a)])


#: bandwidth-bound (compute is free) and compute-bound (bytes are free) versions of the spec
MEMORY_BOUND = {"peak_ops_per_s": {"int8": 1e15, "fp32": 1e15}}
COMPUTE_BOUND = {"memory_bandwidth_bytes_per_s": 1e15}


def test_memory_bound_layers_move_fewer_bytes_at_4_bits_than_at_8() -> None:
    spec = _spec(**MEMORY_BOUND)
    four, eight = roofline_seconds(_at(4, 8), spec), roofline_seconds(_at(8, 8), spec)
    layers = _at(4, 8).layers
    weights = sum(la.weights for la in layers)
    assert four < eight
    # only the weights shrink: half a byte each instead of one
    assert eight - four == pytest.approx(weights * 0.5 / 100)
    # activations at 4 bits halve the input / output traffic too
    assert roofline_seconds(_at(4, 4), spec) < four


def test_an_all_8_bit_architecture_is_the_int8_roofline_not_the_specs_default() -> None:
    spec = _spec()  # default fp32: a float network is priced at fp32
    plain = count(Net(), (2, 8, 8))
    assert roofline_seconds(_at(8, 8), spec) == pytest.approx(roofline_seconds(plain, spec, "int8"))
    assert roofline_seconds(_at(8, 8), spec) < roofline_seconds(plain, spec)
    # an explicit precision still prices every layer at it
    assert roofline_seconds(_at(4, 8), spec, "fp32") == roofline_seconds(plain, spec, "fp32")


def test_compute_runs_at_the_peak_of_the_precision_that_holds_the_bits() -> None:
    spec = _spec(**COMPUTE_BOUND)
    plain = count(Net(), (2, 8, 8))
    # sub-8-bit computes at the int8 rate: no sub-byte kernels
    assert roofline_seconds(_at(4, 4), spec) == pytest.approx(roofline_seconds(_at(8, 8), spec))
    assert roofline_seconds(_at(8, 8), spec) == pytest.approx(roofline_seconds(plain, spec, "int8"))
    # fp16 on a spec without an fp16 peak computes at fp32's; with one, at fp16's
    assert roofline_seconds(_at(16, 16), spec) == pytest.approx(roofline_seconds(plain, spec))
    fp16 = _spec(**COMPUTE_BOUND, peak_ops_per_s={"int8": 1000.0, "fp16": 800.0, "fp32": 500.0})
    assert roofline_seconds(_at(16, 8), fp16) == pytest.approx(
        roofline_seconds(plain, fp16, "fp16")
    )
    int8_only = _spec(peak_ops_per_s={"int8": 1000.0}, default_precision="int8")
    with pytest.raises(SpecError, match="no peak_ops_per_s for 32-bit operands"):
        roofline_seconds(_at(32, 32), int8_only)


def test_fit_is_checked_at_the_architectures_bits() -> None:
    # int8 weights: 12 + 12 + 6 = 30 B + 4 B per bias (11) = 74 B; at 4 bits 15 + 44 = 59 B
    spec = _spec(flash_bytes=70, default_precision="int8")
    assert (
        misfit(count(Net(), (2, 8, 8)), spec)
        == "does not fit toy: weights 0.074 kB > flash 0.07 kB"
    )
    assert misfit(_at(8, 8), spec) is not None
    assert misfit(_at(4, 8), spec) is None


def test_a_4_bit_mbv3_is_faster_than_its_8_bit_twin_and_says_at_which_bits() -> None:
    from hwnas.cost import get_target
    from hwnas.metrics import Metric
    from hwnas.sources import EvalContext
    from hwnas.spaces import get_space

    space = get_space("mbv3+quant:w=4,8;a=8")
    ctx = EvalContext(space, "cifar10")
    source = get_target("roofline:rpi4").resolve(ctx, Metric("latency", "roofline:rpi4"))
    four, eight = source.evaluate([space.parse("ofa-min#w4a8"), space.parse("ofa-min#w8a8")])
    assert four.value < eight.value
    assert four.provenance["bits"][0] == "stem:w4a8"
    assert four.provenance["compute_at"] == ["int8"]  # rpi4's default is fp32
    assert "architecture's bits" in four.provenance["meaning"]
    assert load_spec("rpi4").default_precision == "fp32"
