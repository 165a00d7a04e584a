"""Analytic counts against hand-computed small networks, and the roofline arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwnas.cost.roofline import (
    DeviceSpec,
    builtin_specs,
    load_spec,
    misfit,
    roofline_seconds,
)
from hwnas.errors import SpecError, UnknownNameError

torch = pytest.importorskip("torch")
nn = torch.nn


class Residual(nn.Module):
    """x (2x8x8) -> 1x1 conv to 6 -> 1x1 conv to 2, + x -> pool -> linear to 3."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 6, 1, bias=False)
        self.relu = nn.ReLU()
        self.b = nn.Conv2d(6, 2, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.b(self.relu(self.a(x))) + x
        return self.fc(torch.flatten(self.pool(y), 1))


class Untraceable(Residual):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 4:  # fx cannot trace a branch on a shape
            return super().forward(x)
        return x


def test_counts_by_hand() -> None:
    from hwnas.cost.analytic import count

    c = count(Residual(), (2, 8, 8))
    assert c.method == "fx"
    assert c.macs == 64 * 6 * 2 + 64 * 2 * 6 + 3 * 2  # 1542
    assert c.params == 12 + 12 + 6 + 3
    assert (c.weights, c.biases) == (30, 6 + 2 + 3)
    assert c.flash_bytes(8) == 30 + 4 * 11
    assert c.flash_bytes(32) == 4 * 30 + 4 * 11
    assert c.flash_bytes(4) == 15 + 4 * 11


def test_peak_memory_counts_the_live_residual() -> None:
    """At conv b: its input (6x8x8) + its output (2x8x8) + the block input kept for the add."""
    from hwnas.cost.analytic import count

    c = count(Residual(), (2, 8, 8))
    assert c.peak_activation_elems == 384 + 128 + 128
    assert c.peak_layer == "b"
    assert c.peak_memory_bytes(8) == 640 and c.peak_memory_bytes(32) == 2560


class SelfAttention(nn.Module):
    """One head over 5 tokens of 4: q, k, v projections, explicit matmuls, a softmax, and a
    directly used (position) parameter and a layer norm, as the transformer builders have."""

    def __init__(self) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, 5, 4))
        self.norm = nn.LayerNorm(4)
        self.q, self.k, self.v = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x + self.pos)
        scores = (self.q(x) @ self.k(x).transpose(-2, -1)).softmax(dim=-1)
        return torch.matmul(scores, self.v(x))


def test_attention_matmuls_are_macs_and_the_score_matrix_is_live() -> None:
    from hwnas.cost.analytic import count

    c = count(SelfAttention(), (5, 4))
    assert c.macs == 3 * 5 * 4 * 4 + 5 * 5 * 4 + 5 * 4 * 5  # projections, q k^T, scores v
    # at q k^T: the normed tokens (v still needs them), q, k and the 5x5 scores
    assert c.peak_activation_elems == 20 + 20 + 20 + 25
    # the position embedding is stored like a weight, the norm's affine at 32 bits
    assert (c.weights, c.biases) == (20 + 3 * 16, 8 + 3 * 4)


def test_hooks_fallback_counts_the_same_macs() -> None:
    from hwnas.cost.analytic import count

    c = count(Untraceable(), (2, 8, 8))
    assert c.method == "hooks"
    assert c.macs == 1542 and c.params == 33
    assert c.peak_activation_elems == 384 + 128  # a single layer's input + output


class Separable(nn.Module):
    """x (1x8x8) -> 1x1 conv to 8 -> 3x3 depthwise, stride 2 (8x4x4) -> 1x1 conv to 2."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 8, 1, bias=False)
        self.dw = nn.Conv2d(8, 8, 3, 2, 1, groups=8, bias=False)
        self.b = nn.Conv2d(8, 2, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.dw(self.a(x)))


class DepthwiseResidual(Separable):
    """The same with a stride-1 depthwise layer whose input is added to its output."""

    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        return self.b(self.dw(y) + y)


def test_inplace_depthwise_holds_the_larger_of_input_and_output() -> None:
    """MCUNet's rule: the depthwise layer holds its input (512) + output (128); in place
    (TinyEngine) it holds max(512, 128), so the peak moves to conv a: 64 + 512."""
    from hwnas.cost.analytic import count

    c = count(Separable(), (1, 8, 8))
    assert (c.peak_activation_elems, c.peak_layer) == (512 + 128, "dw")
    assert (c.peak_inplace_elems, c.peak_inplace_layer) == (64 + 512, "a")
    assert c.peak_memory_inplace_bytes(8) == 576 and c.peak_memory_inplace_bytes(32) == 2304


def test_inplace_needs_the_input_to_die() -> None:
    """A depthwise input kept for later (a residual) cannot be overwritten."""
    from hwnas.cost.analytic import count

    c = count(DepthwiseResidual(), (1, 8, 8))
    assert (c.peak_activation_elems, c.peak_layer) == (512 + 512, "dw")
    assert (c.peak_inplace_elems, c.peak_inplace_layer) == (512 + 512, "dw")


def test_mobilenetv2_peak_memory_is_mcunetv2s() -> None:
    """MCUNetV2 (Lin et al., NeurIPS 2021, Fig. 1 and 2): MobileNetV2 1.0 at 224, int8,
    peaks at 1,372 kB (KiB) in its second block, the 16 -> 96 expansion at 112x112, with
    in-place depthwise; MCUNet's rule peaks at that block's depthwise layer instead."""
    from hwnas.cost.analytic import count
    from hwnas.spaces import get_space

    space = get_space("mbv2")
    arch = space.parse("mobilenetv2")
    summary = count(space.build(arch, "imagenet"), (3, 224, 224)).summary()
    assert summary["peak_memory_inplace_kib"] == 1372  # (16 + 96) x 112 x 112 bytes
    assert summary["peak_memory_kib"] == 1470  # (96 x 112 x 112 + 96 x 56 x 56) bytes
    assert summary["peak_memory_kb"] == 1505.28
    assert summary["flash_kib"] == pytest.approx(summary["flash_kb"] * 1000 / 1024)


def test_hooks_fallback_counts_inplace_per_layer() -> None:
    from hwnas.cost.analytic import _count_hooks

    c = _count_hooks(Separable(), torch.zeros(1, 1, 8, 8), 0)
    assert c.peak_activation_elems == 512 + 128 and c.peak_inplace_elems == 64 + 512


def _spec(**over: object) -> DeviceSpec:
    data = {
        "schema_version": 1,
        "name": "toy",
        "peak_ops_per_s": {"int8": 1000.0, "fp32": 500.0},
        "memory_bandwidth_bytes_per_s": 100.0,
        "sram_bytes": 1000,
        "flash_bytes": 2000,
        "default_precision": "int8",
        "sources": ["made up"],
        **over,
    }
    return DeviceSpec.from_dict(data, "test")


def test_roofline_arithmetic() -> None:
    from hwnas.cost.analytic import count

    c = count(Residual(), (2, 8, 8))
    # per layer max(ops / 1000, bytes / 100), int8: a 5.48, b 5.32, pool 1.30, fc 0.23
    assert roofline_seconds(c, _spec()) == pytest.approx(5.48 + 5.32 + 1.30 + 0.23)
    # compute-bound when bandwidth is plentiful: 2 ops per MAC, pooling 1 op per output
    fast = _spec(memory_bandwidth_bytes_per_s=1e12)
    assert roofline_seconds(c, fast) == pytest.approx((2 * 1542 + 2) / 1000)
    assert roofline_seconds(c, fast, "fp32") == pytest.approx((2 * 1542 + 2) / 500)


def test_misfit_checks_activations_against_sram_and_weights_against_flash() -> None:
    """Residual: peak memory 640 B int8 / 2560 B fp32, weights 74 B int8 / 164 B fp32."""
    from hwnas.cost.analytic import count

    c = count(Residual(), (2, 8, 8))
    assert misfit(c, _spec()) is None  # 640 <= 1000 SRAM, 74 <= 2000 flash
    assert (
        misfit(c, _spec(sram_bytes=639)) == "does not fit toy: peak memory 0.64 kB > SRAM 0.639 kB"
    )
    assert misfit(c, _spec(sram_bytes=640, flash_bytes=73)) == (
        "does not fit toy: weights 0.074 kB > flash 0.073 kB"
    )
    # at the spec's precision: fp32 activations need 2560 B, more than the 1000 B of SRAM
    fp32 = _spec(default_precision="fp32")
    assert misfit(c, fp32) == "does not fit toy: peak memory 2.56 kB > SRAM 1 kB"
    assert misfit(c, fp32, "int8") is None
    # a spec that gives no sizes cannot refuse anything
    assert misfit(c, _spec(sram_bytes=None, flash_bytes=None, default_precision="fp32")) is None


def test_efficiency_scales_the_attainable_rate() -> None:
    from hwnas.cost.analytic import count

    c = count(Residual(), (2, 8, 8))
    calibrated = _spec(efficiency=0.25, efficiency_source="measured: 4x slower than the bound")
    assert roofline_seconds(c, calibrated) == pytest.approx(4 * roofline_seconds(c, _spec()))
    assert (calibrated.efficiency, _spec().efficiency) == (0.25, None)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"efficiency": 0.5}, "come together"),
        ({"efficiency_source": "a paper"}, "come together"),
        ({"efficiency": 0, "efficiency_source": "x"}, "0 < e <= 1"),
        ({"efficiency": 1.5, "efficiency_source": "x"}, "0 < e <= 1"),
        ({"efficiency": float("nan"), "efficiency_source": "x"}, "0 < e <= 1"),
        ({"efficiency": True, "efficiency_source": "x"}, "expected a number, got True"),
        ({"efficiency": "0.5", "efficiency_source": "x"}, "expected a number"),
        ({"efficiency": 0.5, "efficiency_source": " "}, "non-empty string"),
        ({"efficiency": 0.5, "efficiency_source": 7}, "non-empty string"),
    ],
)
def test_efficiency_needs_a_source_and_a_sane_value(over: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        _spec(**over)


def test_shipped_specs() -> None:
    assert {"stm32f746", "rpi4"} <= set(builtin_specs())
    mcu = load_spec("stm32f746")
    assert (mcu.sram_bytes, mcu.flash_bytes) == (320 * 1024, 1024 * 1024)
    assert mcu.sources and load_spec("rpi4").sources
    # the bounds carry no factor; the one calibrated spec cites what it was calibrated on
    calibrated = {n for n in builtin_specs() if load_spec(n).efficiency is not None}
    assert calibrated == {"stm32f746-tinyengine"}
    with pytest.raises(UnknownNameError, match="stm32f746"):
        load_spec("nosuchdevice")


def test_spec_files_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({**_spec().to_dict(), "schema_version": 99}))
    with pytest.raises(SpecError, match="schema_version"):
        load_spec(str(path))
    path.write_text(json.dumps({"schema_version": 1, "name": "x"}))
    with pytest.raises(SpecError, match="malformed"):
        load_spec(str(path))
    path.write_text(json.dumps(_spec().to_dict()))
    assert load_spec(str(path)).name == "toy"


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"peak_ops_per_s": {"int8": True, "fp32": 500.0}}, "expected a number, got True"),
        ({"memory_bandwidth_bytes_per_s": True}, "expected a number, got True"),
        ({"sram_bytes": True}, "whole number of bytes"),
        ({"flash_bytes": 1.5}, "whole number of bytes"),
        ({"schema_version": True}, "schema_version True"),
        ({"peak_ops_per_s": {"int8": 5e-324, "fp32": 500.0}}, "int8 must be a number >= 1"),
        ({"peak_ops_per_s": {"int4": 1e9, "int8": 1000.0}}, "int4; valid: int8, fp16, fp32"),
        ({"default_precision": "int4"}, "'int4' is not one of int8, fp16, fp32"),
    ],
)
def test_spec_values_that_are_not_what_they_seem_are_refused(over: dict, message: str) -> None:
    # `true` read as 1 op/s, a subnormal rate gave an infinite latency recorded as ok, and
    # an int4 default failed every evaluation instead of the load
    with pytest.raises(SpecError, match=message):
        _spec(**over)


@pytest.mark.parametrize(
    "content", [b'{"a": "\xff"}', b"[" * 100_000 + b"]" * 100_000, b'{"n": ' + b"9" * 5000 + b"}"]
)
def test_hostile_spec_and_profile_files_are_spec_errors(tmp_path: Path, content: bytes) -> None:
    from hwnas.cost.lut import LatencyPredictor

    path = tmp_path / "device.json"
    path.write_bytes(content)
    with pytest.raises(SpecError, match="device.json"):
        load_spec.__wrapped__(str(path))
    with pytest.raises(SpecError, match="device.json"):
        LatencyPredictor.load(path)


@pytest.mark.parametrize(
    ("macs", "budget_ms"), [(6.4e6, 100), (6.0e6, 100), (12.8e6, 200), (11.6e6, 200)]
)
def test_tinyengine_spec_reproduces_mcunets_latency_budgets(macs: float, budget_ms: float) -> None:
    """MCUNet's networks (6.4M/6.0M MACs at 10 fps, 12.8M/11.6M at 5 fps on an STM32F746
    with TinyEngine) come out within 10 % of their budgets on the calibrated spec, while
    the plain bound is ~7x faster; one compute-bound layer of the same MACs stands in."""
    from hwnas.cost.analytic import Counts, LayerCost
    from hwnas.cost.roofline import roofline_seconds

    layer = LayerCost("conv", "conv", int(macs), weights=1000, biases=10, in_elems=1000,
                      out_elems=1000)  # fmt: skip
    counts = Counts(int(macs), 1010, 2000, "conv", "fx", layers=[layer])
    tinyengine = load_spec("stm32f746-tinyengine")
    assert "mcunet" in (tinyengine.efficiency_source or "")
    ms = 1e3 * roofline_seconds(counts, tinyengine)
    assert abs(ms / budget_ms - 1) <= 0.1
    assert 1e3 * roofline_seconds(counts, load_spec("stm32f746")) < budget_ms / 6.5
