"""Costs of a joint (network, accelerator) architecture of a `NAME+accel` space
(`hwnas.spaces.accel`): `latency@zigzag:searched` / `energy@zigzag:searched` price the
network on the accelerator its genes describe (ZigZag, through `hwnas.cost.zigzag` and its
layer cache), and three cheap counters read the accelerator alone, so that a budget on
silicon is a constraint checked before anything is priced:

* `accel_area`: PEs x MAC area + every memory instance's area, in ZigZag's area units
  (the template's, relative; not mm^2);
* `accel_onchip_kb`: on-chip memory (register files in every PE and global buffers),
  kB of 1,000 bytes;
* `accel_pes`: processing elements."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hwnas.cost import Target, register_target_resolver
from hwnas.cost.zigzag import (
    Accelerator,
    ZigZagSource,
    ZigZagTarget,
    make_target,
    network_layers,
    parse_target,
    validate,
)
from hwnas.errors import HwnasError, UnknownNameError
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import Architecture
from hwnas.spaces.accel import AccelSpace

#: the target name that means "the accelerator of the architecture's genes"
SEARCHED = "searched"


@lru_cache(maxsize=256)
def _accelerator(space: AccelSpace, key: str) -> tuple[Accelerator, int]:
    arch = space.parse(key)
    hardware, mapping, bits = space.accelerator(arch)
    accel = Accelerator(
        str(hardware["name"]), hardware, mapping, f"the genes of {space.name} (hwnas.spaces.accel)"
    )
    validate(accel, accel.name)
    return accel, bits


@dataclass
class SearchedTarget(ZigZagTarget):
    """`zigzag:searched`: serves `NAME+accel` spaces only."""

    def supports(self, ctx: EvalContext) -> bool:
        return isinstance(ctx.space, AccelSpace)

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        if metric.base not in self.metrics:
            raise UnknownNameError(f"metric of target {self.name!r}", metric.base, self.metrics)
        if not isinstance(ctx.space, AccelSpace):
            raise HwnasError(
                f"target {self.name!r} prices the accelerator an architecture's genes describe: "
                f"search a NAME+accel space (e.g. nb201+accel), not {ctx.space.name!r}"
            )
        return SearchedSource(ctx, metric.name, metric.base, self)


class SearchedSource(ZigZagSource):
    """The network's layers at the genes' bit width, on the genes' accelerator."""

    def __init__(self, ctx: EvalContext, metric: str, base: str, target: SearchedTarget) -> None:
        self.ctx = ctx
        self.metric = metric
        self.base = base
        self.clock_mhz = target.clock_mhz
        self.provenance = self._common(base)

    def evaluate_one(self, arch: Architecture) -> Measurement:
        space = self.ctx.space
        assert isinstance(space, AccelSpace)
        accel, bits = _accelerator(space, arch.key)
        layers = network_layers(self.ctx, space.base_arch(arch), space.base)
        precision = {"W": bits, "I": bits, "O_final": bits, "O": 2 * bits}
        at_bits = [{**layer, "operand_precision": dict(precision)} for layer in layers]
        prov = {
            **self.provenance,
            "accelerator": accel.name,
            "accelerator_source": accel.origin,
            "accelerator_sha256": accel.digest,
            "bits": bits,
        }
        return self._measure(at_bits, accel, prov)


# --- counters ----------------------------------------------------------------------------------
def _instances(memory: dict[str, Any], pes: int) -> int:
    """A memory that serves no array dimension sits in every PE."""
    return 1 if memory.get("served_dimensions") else pes


def area(hardware: dict[str, Any]) -> float:
    array = hardware["operational_array"]
    pes = math.prod(array["sizes"])
    memories = hardware["memories"].values()
    return pes * float(array["unit_area"]) + sum(
        float(m["area"]) * _instances(m, pes) for m in memories
    )


def onchip_bytes(hardware: dict[str, Any]) -> float:
    pes = math.prod(hardware["operational_array"]["sizes"])
    return sum(
        m["size"] / 8 * _instances(m, pes)
        for name, m in hardware["memories"].items()
        if name != "dram"
    )


COUNTERS = {
    "accel_area": (area, "ZigZag area units", "accelerator area: PEs and memories"),
    "accel_onchip_kb": (
        lambda hw: onchip_bytes(hw) / 1e3,
        "kB",
        "on-chip memory: register files in every PE and global buffers",
    ),
    "accel_pes": (
        lambda hw: float(math.prod(hw["operational_array"]["sizes"])),
        "",
        "processing elements",
    ),
}


class AcceleratorCounter(MetricSource):
    cheap = True

    def __init__(self, ctx: EvalContext, metric: str) -> None:
        self.ctx = ctx
        self.metric = metric
        self.fn, unit, meaning = COUNTERS[metric]
        self.provenance = {"kind": "analytic", "meaning": meaning, "unit": unit}

    def evaluate_one(self, arch: Architecture) -> Measurement:
        space = self.ctx.space
        assert isinstance(space, AccelSpace)
        hardware, _, _ = space.accelerator(arch)
        prov = {**self.provenance, "accelerator": space.choices(arch)}
        return Measurement(float(self.fn(hardware)), prov)


def accelerator_counters(ctx: EvalContext) -> dict[str, MetricSource]:
    """The accelerator's counters, for a `NAME+accel` space (none for others)."""
    if not isinstance(ctx.space, AccelSpace):
        return {}
    return {name: AcceleratorCounter(ctx, name) for name in COUNTERS}


@register_target_resolver("zigzag:searched")
def _resolve(name: str) -> Target | None:
    if not name.startswith("zigzag:"):
        return None
    accel, mhz = parse_target(name)
    if accel != SEARCHED:
        return None
    what = "ZigZag analytical model of the accelerator each architecture's genes describe"
    return make_target(SearchedTarget, name, SEARCHED, mhz, what)
