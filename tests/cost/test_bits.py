"""Analytic costs at a quantised architecture's bits, and int8 latency beside fp32."""

from __future__ import annotations

from dataclasses import replace

import pytest

pytest.importorskip("torch")

import torch
from torch import nn

from hwnas.cost import bits
from hwnas.cost.analytic import count
from hwnas.cost.targets import COUNTERS, analytic_counts
from hwnas.spaces import get_space
from hwnas.spaces.quant import BlockBits


class Residual(nn.Module):
    """As tests/cost/test_analytic.py's: x (2x8x8) -> 1x1 conv a to 6 -> 1x1 conv b to 2,
    + x -> pool -> linear fc to 3."""

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


def test_bitops_flash_and_peak_memory_follow_each_layers_bits() -> None:
    """Residual (x 2x8x8 -> conv a to 6 -> conv b to 2, + x -> pool -> fc to 3) with a at
    w8a4, b at w4a2, fc at w2a8: x is held at a's 4 bits (its reader), a's output at b's
    2 bits, b's output (read by the pool, which no block covers) at its producer's 2."""
    plain = count(Residual(), (2, 8, 8))
    assert bits.peak_memory_bytes(plain) == 640 and bits.flash_bytes(plain) == 74  # int8
    assert bits.bitops(plain) == plain.macs * 64
    c = replace(
        plain,
        bits=[BlockBits("a", "a", 8, 4), BlockBits("b", "b", 4, 2), BlockBits("fc", "fc", 2, 8)],
    )
    assert bits.bitops(c) == 768 * 8 * 4 + 768 * 4 * 2 + 6 * 2 * 8
    # 156 weight bits, rounded up to 20 bytes, and a 32-bit bias per output channel
    assert bits.flash_bytes(c) == 20 + 4 * 11
    # at conv b: x (128 x 4 bits) + a's output (384 x 2) + b's output (128 x 2)
    assert bits.peak_memory_bytes(c) == (128 * 4 + 384 * 2 + 128 * 2) // 8


def test_quantised_mbv3_counts_agree_with_int8_and_fp32_at_uniform_bits() -> None:
    space = get_space("mbv3+quant:w=4,8,32;a=8,32")
    plain = analytic_counts(get_space("mbv3"), get_space("mbv3").parse("ofa-min"), "cifar10")
    figure = {name: fn for name, (fn, _, _) in COUNTERS.items()}

    def at(entry: str) -> dict[str, float]:
        c = analytic_counts(space, space.parse(f"ofa-min#{entry}"), "cifar10")
        return {name: fn(c) for name, fn in figure.items()}

    int8, fp32, w4 = at("w8a8"), at("w32a32"), at("w4a8")
    assert int8 == {name: fn(plain) for name, fn in figure.items()}
    assert fp32["flash_kb"] == pytest.approx(fp32["flash_fp32_kb"])
    assert fp32["peak_memory_kb"] == pytest.approx(int8["peak_memory_fp32_kb"])
    assert w4["bitops"] == pytest.approx(int8["bitops"] / 2)
    assert w4["flash_kb"] < int8["flash_kb"] and w4["peak_memory_kb"] == int8["peak_memory_kb"]


def test_evaluate_reports_bits_with_the_counts(cli) -> None:
    import json

    result = cli("evaluate", "ofa-min#w4a8", "--space", "mbv3", "--quant", "", "--dataset",
                 "cifar10", "-m", "bitops", "-m", "flash_kb", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["space"] == "mbv3+quant"
    prov = out["metrics"]["flash_kb"]["provenance"]
    assert prov["bits"][0] == "stem:w4a8" and out["metrics"]["bitops"]["value"] > 0


def test_int8_latency_is_timed_beside_fp32() -> None:
    pytest.importorskip("onnxruntime")
    from hwnas.cost.int8 import measure_int8
    from hwnas.cost.measure import MeasureConfig

    space = get_space("mbv3+quant:w=8;a=8")
    arch = space.parse("ofa-min")
    cfg = MeasureConfig(warmup=0, repeats=1)
    ((value, prov),) = measure_int8(space, [arch], "fashion-mnist", None, cfg)
    assert value > 0 and prov["fp32_ms"] > 0
    assert prov["int8_speedup"] == pytest.approx(prov["fp32_ms"] / value)
    assert prov["graph"].startswith("int8 QDQ") and prov["quantisation"]["format"] == "QDQ"
    with pytest.raises(Exception, match="ONNX Runtime int8 on the CPU"):
        measure_int8(space, [arch], "fashion-mnist", None, MeasureConfig(backend="torch"))


def test_measure_analytic_counts_at_the_bits() -> None:
    from hwnas.cli._cost import measure_arch

    int8 = measure_arch("mbv3", "ofa-min", "cifar10", "analytic")
    w4 = measure_arch("mbv3", "ofa-min#w4a8", "cifar10", "analytic", quant="")
    assert w4["space"] == "mbv3+quant" and w4["bits"][0] == "stem:w4a8"
    assert w4["bitops_G"] == pytest.approx(int8["macs_M"] * 64 / 2e3)
    assert w4["flash_kb"] < int8["flash_kb"] == pytest.approx(int8["flash_kb"])
