"""Roofline latency of analytical counts on a device spec: per layer max(ops / peak ops,
bytes / bandwidth), divided by the spec's measured `efficiency` when it has one; a network
whose activations or weights exceed the spec's SRAM or flash does not fit, and has no
roofline latency. The shipped specs and their sources are hwnas/data/devices/*.json.

A quantised architecture's counts (`Counts.bits` set, `hwnas.spaces.quant`) are priced at
its own bits, layer by layer (`hwnas.cost.bits.layer_bits`): weights move at the layer's
weight bits (packed: 4-bit weights are half the bytes of 8-bit ones), its input and output
at its activation bits, biases at 32; the layer computes at the peak of the narrowest
precision the spec lists that holds its wider bit-width (2..8 bits: int8, as no shipped
runtime has sub-byte kernels, so sub-8-bit weights save memory traffic, not compute;
16: fp16, else fp32; 32: fp32). Fit is checked with `hwnas.cost.bits`' flash and peak
memory at those bits."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnas._io import loads_json, number, read_json, why_not_a_file
from hwnas.errors import HwnasError, SpecError, UnknownNameError

if TYPE_CHECKING:
    from hwnas.cost.analytic import Counts

SPEC_SCHEMA_VERSION = 1
#: the precisions a roofline knows the bytes of
_BITS = {"int8": 8, "fp16": 16, "fp32": 32}


@dataclass(frozen=True)
class DeviceSpec:
    """A device for the roofline model; see hwnas/data/devices/*.json for the shipped ones
    and their sources."""

    name: str
    description: str
    peak_ops_per_s: dict[str, float]
    memory_bandwidth_bytes_per_s: float
    sram_bytes: int | None
    flash_bytes: int | None
    default_precision: str
    sources: list[str]
    #: the fraction of the attainable rate real kernels reach (0 < e <= 1), calibrated from
    #: a measurement that `efficiency_source` cites; None: the optimistic bound
    efficiency: float | None = None
    efficiency_source: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> DeviceSpec:
        if not isinstance(data, dict):
            raise SpecError(f"{where}: expected a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if type(version) is not int or version != SPEC_SCHEMA_VERSION:  # True == 1
            raise SpecError(
                f"{where}: device spec schema_version {version!r}, this hwnas reads "
                f"{SPEC_SCHEMA_VERSION}; update the file or hwnas"
            )
        try:
            spec = cls(
                name=str(data["name"]),
                description=str(data.get("description", "")),
                peak_ops_per_s={str(k): number(v) for k, v in data["peak_ops_per_s"].items()},
                memory_bandwidth_bytes_per_s=number(data["memory_bandwidth_bytes_per_s"]),
                sram_bytes=_size(data.get("sram_bytes")),
                flash_bytes=_size(data.get("flash_bytes")),
                default_precision=str(data.get("default_precision", "fp32")),
                sources=[str(s) for s in data.get("sources", [])],
                efficiency=_efficiency(data.get("efficiency")),
                efficiency_source=_efficiency_source(data.get("efficiency_source")),
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise SpecError(f"{where}: malformed device spec ({exc!r})") from None
        rates = {
            **spec.peak_ops_per_s,
            "memory_bandwidth_bytes_per_s": spec.memory_bandwidth_bytes_per_s,
        }
        for name, rate in rates.items():
            # below 1 per second (a subnormal, say) a latency overflows to infinity
            if not (math.isfinite(rate) and rate >= 1):
                raise SpecError(f"{where}: {name} must be a number >= 1 per second, got {rate!r}")
        unknown = set(spec.peak_ops_per_s) - set(_BITS)
        if unknown:
            raise SpecError(
                f"{where}: peak_ops_per_s has precision(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(_BITS)}"
            )
        if spec.default_precision not in _BITS:
            raise SpecError(
                f"{where}: default_precision {spec.default_precision!r} is not one of "
                f"{', '.join(_BITS)}"
            )
        if (spec.efficiency is None) != (spec.efficiency_source is None):
            raise SpecError(
                f"{where}: efficiency and efficiency_source come together: a factor needs "
                "the measurement it was calibrated from"
            )
        if spec.default_precision not in spec.peak_ops_per_s:
            raise SpecError(
                f"{where}: default_precision {spec.default_precision!r} has no peak_ops_per_s"
            )
        return spec

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SPEC_SCHEMA_VERSION, **asdict(self)}


def _size(value: Any) -> int | None:
    """A byte count of a spec, None when absent; a bool or fraction is no size."""
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise ValueError(f"a memory size must be a whole number of bytes, got {value!r}")
    return value


def _efficiency(value: Any) -> float | None:
    """The spec's efficiency factor, None when absent; it scales a rate, so 0 < e <= 1."""
    if value is None:
        return None
    e = number(value)
    if not (0 < e <= 1):
        raise ValueError(f"efficiency must be a number with 0 < e <= 1, got {value!r}")
    return e


def _efficiency_source(value: Any) -> str | None:
    """Where the efficiency was measured; a factor without a citation is a guess."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"efficiency_source must be a non-empty string, got {value!r}")
    return value


def builtin_specs() -> list[str]:
    folder = resources.files("hwnas") / "data" / "devices"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


@cache
def load_spec(name_or_path: str) -> DeviceSpec:
    """A shipped spec by name (`stm32f746`) or a JSON file path."""
    if name_or_path.endswith(".json"):
        path = Path(name_or_path)
        if reason := why_not_a_file(path):
            raise HwnasError(f"device spec file {path} {reason}")
        return DeviceSpec.from_dict(read_json(path), str(path))
    if name_or_path not in builtin_specs():
        raise UnknownNameError("device spec", name_or_path, builtin_specs())
    res = resources.files("hwnas") / "data" / "devices" / f"{name_or_path}.json"
    where = f"hwnas/data/devices/{name_or_path}.json"
    return DeviceSpec.from_dict(loads_json(res.read_bytes(), where), where)


def roofline_seconds(counts: Counts, spec: DeviceSpec, precision: str | None = None) -> float:
    """Sum over layers of max(compute time, memory time): ops are 2 per MAC (1 per output
    element for layers without MACs); bytes are the layer's input, output and weights. The
    sum is divided by the spec's efficiency, when it has one. Every layer is at `precision`
    (default: a quantised architecture's own bits, else the spec's precision)."""
    if precision is None and counts.bits is not None:
        return _at_bits(counts, spec)
    precision = precision or spec.default_precision
    if precision not in spec.peak_ops_per_s:
        raise UnknownNameError(f"precision of device {spec.name!r}", precision, spec.peak_ops_per_s)
    if precision not in _BITS:
        raise UnknownNameError("precision", precision, _BITS)
    nbytes = _BITS[precision] / 8
    peak_ops = spec.peak_ops_per_s[precision]
    total = 0.0
    for layer in counts.layers:
        ops = 2 * layer.macs if layer.macs else layer.out_elems
        moved = (layer.in_elems + layer.out_elems + layer.weights) * nbytes + 4 * layer.biases
        total += max(ops / peak_ops, moved / spec.memory_bandwidth_bytes_per_s)
    return total / (spec.efficiency or 1.0)


def _at_bits(counts: Counts, spec: DeviceSpec) -> float:
    """The roofline of a quantised architecture at each layer's bits (the module's rule)."""
    from hwnas.cost.bits import layer_bits

    total = 0.0
    for layer in counts.layers:
        w, a = layer_bits(counts.bits, layer.name)
        ops = 2 * layer.macs if layer.macs else layer.out_elems
        moved = (
            (layer.in_elems + layer.out_elems) * a / 8 + layer.weights * w / 8 + 4 * layer.biases
        )
        peak_ops = spec.peak_ops_per_s[compute_precision(spec, max(w, a))]
        total += max(ops / peak_ops, moved / spec.memory_bandwidth_bytes_per_s)
    return total / (spec.efficiency or 1.0)


#: how a quantised architecture is priced, for provenance
BITS_RULE = (
    "per layer at the architecture's bits: weights at weight bits, input and output at "
    "activation bits, biases at 32; compute at the peak of the narrowest listed precision "
    "holding the wider of the two (sub-8-bit computes at the int8 rate)"
)


def bits_provenance(counts: Counts, spec: DeviceSpec) -> dict[str, Any]:
    """What a quantised architecture's roofline was priced at: its bits, the rule, and the
    peaks its layers computed at."""
    from hwnas.cost.bits import layer_bits

    used = {compute_precision(spec, max(layer_bits(counts.bits, la.name))) for la in counts.layers}
    return {
        "bits": [f"{b.block}:w{b.w}a{b.a}" for b in counts.bits or ()],
        "precision": BITS_RULE,
        "compute_at": sorted(used, key=_BITS.__getitem__),
    }


def compute_precision(spec: DeviceSpec, bits: int) -> str:
    """The narrowest precision `spec` gives a peak for that holds `bits`-bit operands."""
    for name, width in sorted(_BITS.items(), key=lambda item: item[1]):
        if width >= bits and name in spec.peak_ops_per_s:
            return name
    raise SpecError(
        f"device spec {spec.name!r} gives no peak_ops_per_s for {bits}-bit operands (it has "
        f"{', '.join(spec.peak_ops_per_s)}); add one for "
        f"{next(n for n, w in _BITS.items() if w >= bits)}"
    )


def misfit(counts: Counts, spec: DeviceSpec, precision: str | None = None) -> str | None:
    """Why the network does not fit the spec's memories at `precision` (None: it fits, or
    the spec gives no sizes): peak activation memory against SRAM, weight storage against
    flash, in kB (1000 bytes) as `peak_memory_kb` and `flash_kb` report them. Default
    precision: a quantised architecture's own bits, else the spec's."""
    if precision is None and counts.bits is not None:
        from hwnas.cost import bits

        peak, flash = bits.peak_memory_bytes(counts), bits.flash_bytes(counts)
    else:
        width = _BITS[precision or spec.default_precision]
        peak, flash = counts.peak_memory_bytes(width), counts.flash_bytes(width)
    over = [
        f"{what} {need / 1e3:.6g} kB > {where} {have / 1e3:.6g} kB"
        for what, need, where, have in (
            ("peak memory", peak, "SRAM", spec.sram_bytes),
            ("weights", flash, "flash", spec.flash_bytes),
        )
        if have is not None and need > have
    ]
    return f"does not fit {spec.name}: {'; '.join(over)}" if over else None
