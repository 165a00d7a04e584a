"""Analytical cost of a built network, counted by tracing the torch module (torch.fx, with a
forward-hook fallback for modules fx cannot trace), so it works for any buildable space.

* MACs: multiply-accumulates of convolutions and linear layers (the figure papers quote as
  "multiply-adds"; batch-norm, activations and pooling are not counted).
* params: every parameter of the module (batch-norm included, as papers count).
* peak activation memory, MCUNet's definition: the largest sum of live activation tensors
  over the layers, i.e. a layer's input + output + any tensor kept for later (a residual).
  Batch-norm and activations are fused into the layer before them and element-wise adds and
  multiplies reuse a dying input, as an inference engine does.
* weight storage (flash): convolution / linear weights at a chosen bit-width plus one 32-bit
  bias per output channel (where batch-norm folds to).
* roofline latency: per layer max(ops / peak ops, bytes / bandwidth), from a device spec,
  divided by the spec's measured `efficiency` when it has one; a network whose activations
  or weights exceed the spec's SRAM or flash does not fit, and has no roofline latency."""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from hwnas._io import loads_json, number, read_json, why_not_a_file
from hwnas.errors import HwnasError, SpecError, UnknownNameError

SPEC_SCHEMA_VERSION = 1
#: the precisions a roofline knows the bytes of
_BITS = {"int8": 8, "fp16": 16, "fp32": 32}


@dataclass
class LayerCost:
    """One executed layer of the traced graph (fused elementwise ops are not listed)."""

    name: str
    op: str
    macs: int
    weights: int  # conv / linear weight elements
    biases: int  # output channels of conv / linear (folded batch-norm lands here)
    in_elems: int
    out_elems: int


@dataclass(frozen=True)
class LiveTensor:
    """A stored activation (fused aliases merged) and the span of graph positions it is
    live over; `readers`: the layers that read it, `producer`: the one that wrote it (for
    peak memory at per-layer activation bits, `hwnas.cost.bits`)."""

    elems: int
    start: int
    end: int
    producer: str
    readers: tuple[str, ...]


@dataclass
class Counts:
    macs: int
    params: int
    peak_activation_elems: int
    peak_layer: str
    method: str  # "fx" or "hooks"
    layers: list[LayerCost] = field(default_factory=list)
    #: every stored activation (fx only; hooks cannot see what stays live)
    tensors: list[LiveTensor] = field(default_factory=list)
    #: a quantised architecture's bits (`hwnas.spaces.quant.BlockBits`); None: int8 figures
    bits: list[Any] | None = None

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def biases(self) -> int:
        return sum(layer.biases for layer in self.layers)

    def peak_memory_bytes(self, bits: int = 8) -> int:
        """Peak activation memory with `bits`-bit activations (8: int8, 32: fp32)."""
        return math.ceil(self.peak_activation_elems * bits / 8)

    def flash_bytes(self, bits: int = 8) -> int:
        """Weights at `bits` bits, plus a 32-bit bias per output channel."""
        return math.ceil(self.weights * bits / 8) + 4 * self.biases

    def summary(self) -> dict[str, Any]:
        """The counts a user reads: MACs and params in millions, memory in kB (1000 bytes)."""
        return {
            "macs_M": self.macs / 1e6,
            "params_M": self.params / 1e6,
            "peak_memory_kb": self.peak_memory_bytes(8) / 1e3,
            "peak_memory_fp32_kb": self.peak_memory_bytes(32) / 1e3,
            "flash_kb": self.flash_bytes(8) / 1e3,
            "flash_fp32_kb": self.flash_bytes(32) / 1e3,
            "peak_layer": self.peak_layer,
            "count_method": self.method,
        }


# --- counting ---------------------------------------------------------------------------------
def count(model: Any, input_shape: tuple[int, ...]) -> Counts:
    """Count a module for one input of shape (C, H, W) (batch 1)."""
    import copy

    import torch

    params = sum(int(p.numel()) for p in model.parameters())
    # shapes only: a copy on the meta device runs no arithmetic
    meta = copy.deepcopy(model).eval().to("meta")
    x = torch.zeros((1, *input_shape), device="meta")
    # fx first; hooks where fx cannot trace (control flow); for real where the control flow
    # depends on values, which meta tensors do not have
    attempts = (
        lambda: _count_fx(meta, x, params),
        lambda: _count_hooks(meta, x, params),
    )
    for attempt in attempts:
        try:
            return attempt()
        except Exception:  # noqa: BLE001, S112 - try the next, more general way
            continue
    return _count_hooks(model.eval(), torch.zeros((1, *input_shape)), params)


def _module_layer(name: str, module: Any, inputs: list[Any], out: Any) -> LayerCost | None:
    """MACs / weights of a conv or linear call; None for other modules."""
    from torch import nn

    out_elems = int(out.numel())
    in_elems = sum(int(t.numel()) for t in inputs)
    if isinstance(module, nn.modules.conv._ConvNd):
        per_out = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        return LayerCost(
            name,
            type(module).__name__,
            out_elems * per_out,
            int(module.weight.numel()),
            module.out_channels,
            in_elems,
            out_elems,
        )
    if isinstance(module, nn.Linear):
        return LayerCost(
            name,
            "Linear",
            out_elems * module.in_features,
            int(module.weight.numel()),
            module.out_features,
            in_elems,
            out_elems,
        )
    return None


def _fusable_module(module: Any) -> bool:
    from torch import nn

    return isinstance(
        module,
        (
            nn.BatchNorm1d,
            nn.BatchNorm2d,
            nn.ReLU,
            nn.ReLU6,
            nn.Hardswish,
            nn.Hardsigmoid,
            nn.Sigmoid,
            nn.SiLU,
            nn.GELU,
            nn.Tanh,
            nn.Dropout,
            nn.Identity,
            nn.Flatten,
        ),
    )


_VIEW_FUNCS = {"flatten", "view", "reshape", "squeeze", "unsqueeze", "contiguous", "relu", "relu_"}
_BINARY = {operator.add, operator.mul, operator.iadd, operator.imul}


def _count_fx(model: Any, x: Any, params: int) -> Counts:
    import torch
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    gm = symbolic_trace(model)
    ShapeProp(gm).propagate(x)
    modules = dict(gm.named_modules())
    nodes = list(gm.graph.nodes)
    pos = {n: i for i, n in enumerate(nodes)}

    def numel(n: Any) -> int:
        meta = n.meta.get("tensor_meta")
        return int(math.prod(meta.shape)) if meta is not None and hasattr(meta, "shape") else 0

    def tensor_args(n: Any) -> list[Any]:
        return [a for a in n.all_input_nodes if numel(a) > 0]

    last_use = {n: max([pos[u] for u in n.users] or [pos[n]]) for n in nodes}
    root: dict[Any, Any] = {}
    layers: list[LayerCost] = []
    for n in nodes:
        root[n] = n
        if n.op not in ("call_module", "call_function", "call_method") or numel(n) == 0:
            continue
        args = tensor_args(n)
        alias = None
        if n.op == "call_module" and _fusable_module(modules[str(n.target)]) and args:
            if len(args[0].users) == 1:
                alias = args[0]
        elif (
            n.op == "call_method"
            and n.target in _VIEW_FUNCS
            and args
            or (
                n.op == "call_function"
                and (
                    getattr(n.target, "__name__", "") in _VIEW_FUNCS or n.target in (torch.flatten,)
                )
                and args
            )
        ):
            alias = args[0]
        elif n.op == "call_function" and n.target in _BINARY | {torch.add, torch.mul}:
            for a in args:
                if numel(a) == numel(n) and last_use[root[a]] <= pos[n]:
                    alias = a
                    break
        if alias is not None:
            r = root[alias]
            root[n] = r
            last_use[r] = max(last_use[r], last_use[n])
            continue
        if n.op == "call_module":
            layer = _module_layer(
                str(n.target),
                modules[str(n.target)],
                [_Sized(numel(a)) for a in args],
                _Sized(numel(n)),
            )
            if layer is not None:
                layers.append(layer)
                continue
        layers.append(
            LayerCost(n.name, str(n.target), 0, 0, 0, sum(numel(a) for a in args), numel(n))
        )
    sizes = {n: numel(n) for n in nodes if root[n] is n and n.op not in ("output", "get_attr")}
    peak, peak_at = 0, ""
    for n in nodes:
        if n not in sizes:
            continue
        i = pos[n]
        live = sum(s for r, s in sizes.items() if pos[r] <= i <= last_use[r])
        if live > peak:
            peak, peak_at = live, n.name
    readers: dict[Any, set[str]] = {r: set() for r in sizes}
    for n in nodes:
        if root[n] is n:  # a new tensor: its inputs are read (an alias reads nothing new)
            for a in tensor_args(n):
                readers.get(root[a], set()).add(_layer_name(n))
    tensors = [
        LiveTensor(s, pos[r], last_use[r], _layer_name(r), tuple(sorted(readers[r])))
        for r, s in sizes.items()
    ]
    return Counts(sum(layer.macs for layer in layers), params, peak, peak_at, "fx", layers, tensors)


def _layer_name(n: Any) -> str:
    """A graph node's name as `LayerCost.name` gives it (a module's dotted path)."""
    return str(n.target) if n.op == "call_module" else str(n.name)


class _Sized:
    """Stands in for a tensor where only the element count matters."""

    def __init__(self, n: int) -> None:
        self.n = n

    def numel(self) -> int:
        return self.n


def _count_hooks(model: Any, x: Any, params: int) -> Counts:
    """Leaf-module hooks: MACs and weights as with fx; peak memory as the largest input +
    output of a single layer (residuals cannot be seen this way)."""
    import torch

    layers: list[LayerCost] = []
    peak: list[Any] = [0, ""]

    def hook(name: str) -> Any:
        def fn(module: Any, inputs: Any, out: Any) -> None:
            if _fusable_module(module):  # fused into the layer before, as with fx
                return
            tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
            layer = _module_layer(name, module, tensors, out)
            if layer is None:
                layer = LayerCost(
                    name,
                    type(module).__name__,
                    0,
                    0,
                    0,
                    sum(int(t.numel()) for t in tensors),
                    int(out.numel()) if isinstance(out, torch.Tensor) else 0,
                )
            layers.append(layer)
            if layer.in_elems + layer.out_elems > peak[0]:
                peak[0], peak[1] = layer.in_elems + layer.out_elems, name

        return fn

    handles = [
        m.register_forward_hook(hook(name))
        for name, m in model.named_modules()
        if not list(m.children())
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return Counts(
        sum(layer.macs for layer in layers), params, int(peak[0]), str(peak[1]), "hooks", layers
    )


# --- device specs and the roofline ----------------------------------------------------------
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
    sum is divided by the spec's efficiency, when it has one."""
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


def misfit(counts: Counts, spec: DeviceSpec, precision: str | None = None) -> str | None:
    """Why the network does not fit the spec's memories at `precision` (None: it fits, or
    the spec gives no sizes): peak activation memory against SRAM, weight storage against
    flash, in kB (1000 bytes) as `peak_memory_kb` and `flash_kb` report them."""
    bits = _BITS[precision or spec.default_precision]
    over = [
        f"{what} {need / 1e3:.6g} kB > {where} {have / 1e3:.6g} kB"
        for what, need, where, have in (
            ("peak memory", counts.peak_memory_bytes(bits), "SRAM", spec.sram_bytes),
            ("weights", counts.flash_bytes(bits), "flash", spec.flash_bytes),
        )
        if have is not None and need > have
    ]
    return f"does not fit {spec.name}: {'; '.join(over)}" if over else None
