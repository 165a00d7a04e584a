"""Analytical cost of a built network, counted by tracing the torch module (torch.fx, with a
forward-hook fallback for modules fx cannot trace), so it works for any buildable space.

* MACs: multiply-accumulates of convolutions, linear layers and matrix products between
  activations (attention's q k^T and scores v: `torch.matmul` / `@` / `bmm`), the figure
  papers quote as "multiply-adds"; batch-norm, layer-norm, softmax, activations and pooling
  are not counted.
* params: every parameter of the module (batch-norm included, as papers count).
* peak activation memory, MCUNet's definition: the largest sum of live activation tensors
  over the layers, i.e. a layer's input + output + any tensor kept for later (a residual;
  in a transformer the token buffers, q, k, v and the heads x tokens x tokens score matrix).
  Batch-norm, activations and softmax are fused into the layer before them, reshapes and
  transposes are views, and element-wise adds and multiplies reuse a dying input, as an
  inference engine does.
* the same with TinyEngine's in-place depthwise convolution (MCUNetV2, Lin et al., NeurIPS
  2021): a depthwise layer whose input dies with it writes its output over its input, so it
  holds max(input, output) + kept tensors rather than input + output.
* weight storage (flash): convolution / linear weights, embedding tables and parameters used
  directly (a position embedding) at a chosen bit-width, plus one 32-bit bias per output
  channel (where batch-norm folds to) and 32-bit layer-norm scales and shifts.

The roofline latency of these counts on a device spec is in `hwnas.cost.roofline`."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any


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
    #: the peak with in-place depthwise convolutions, and where it is
    peak_inplace_elems: int = 0
    peak_inplace_layer: str = ""
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

    def peak_memory_inplace_bytes(self, bits: int = 8) -> int:
        """Peak activation memory with in-place depthwise layers, `bits`-bit activations."""
        return math.ceil(self.peak_inplace_elems * bits / 8)

    def flash_bytes(self, bits: int = 8) -> int:
        """Weights at `bits` bits, plus a 32-bit bias per output channel."""
        return math.ceil(self.weights * bits / 8) + 4 * self.biases

    def summary(self) -> dict[str, Any]:
        """The counts a user reads: MACs and params in millions, memory in kB (1000 bytes)
        and, as MCU datasheets count, in KiB (1024 bytes)."""
        return {
            "macs_M": self.macs / 1e6,
            "params_M": self.params / 1e6,
            "peak_memory_kb": self.peak_memory_bytes(8) / 1e3,
            "peak_memory_fp32_kb": self.peak_memory_bytes(32) / 1e3,
            "flash_kb": self.flash_bytes(8) / 1e3,
            "flash_fp32_kb": self.flash_bytes(32) / 1e3,
            "peak_memory_kib": self.peak_memory_bytes(8) / 1024,
            "peak_memory_inplace_kib": self.peak_memory_inplace_bytes(8) / 1024,
            "flash_kib": self.flash_bytes(8) / 1024,
            "peak_layer": self.peak_layer,
            "peak_inplace_layer": self.peak_inplace_layer,
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
    if isinstance(module, nn.Embedding):  # a table lookup: storage, no arithmetic
        return LayerCost(name, "Embedding", 0, int(module.weight.numel()), 0, in_elems, out_elems)
    if isinstance(module, nn.LayerNorm):  # scale and shift per channel, kept at 32 bits
        affine = sum(int(p.numel()) for p in module.parameters())
        return LayerCost(name, "LayerNorm", 0, 0, affine, in_elems, out_elems)
    return None


def _depthwise(module: Any) -> bool:
    """A convolution of one channel per group (groups = input = output channels > 1)."""
    from torch import nn

    if not isinstance(module, nn.modules.conv._ConvNd):
        return False
    return 1 < module.groups == module.in_channels == module.out_channels


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


_VIEW_FUNCS = {
    "flatten", "unflatten", "view", "reshape", "squeeze", "unsqueeze", "contiguous",
    "transpose", "relu", "relu_", "softmax",
}  # fmt: skip
_BINARY = {operator.add, operator.mul, operator.iadd, operator.imul}
_MATMUL = {"matmul", "bmm"}


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
        if n.op == "get_attr" and numel(n) > 0:  # a parameter used directly (position embedding)
            layers.append(LayerCost(n.name, "parameter", 0, numel(n), 0, 0, 0))
            continue
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
        name = getattr(n.target, "__name__", n.target)
        if n.op != "call_module" and (name in _MATMUL or n.target is operator.matmul):
            inner = int(args[0].meta["tensor_meta"].shape[-1])  # (.., m, inner) @ (.., inner, n)
            in_elems = sum(numel(a) for a in args)
            layers.append(LayerCost(n.name, "matmul", numel(n) * inner, 0, 0, in_elems, numel(n)))
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
    peak, peak_at, inplace, inplace_at = 0, "", 0, ""
    for n in nodes:
        if n not in sizes:
            continue
        i = pos[n]
        live = sum(s for r, s in sizes.items() if pos[r] <= i <= last_use[r])
        if live > peak:
            peak, peak_at = live, n.name
        if n.op == "call_module" and _depthwise(modules[str(n.target)]):
            source = root[tensor_args(n)[0]]
            if last_use[source] == i:  # the input dies here: the output overwrites it
                live -= min(sizes[source], sizes[n])
        if live > inplace:
            inplace, inplace_at = live, n.name
    readers: dict[Any, set[str]] = {r: set() for r in sizes}
    for n in nodes:
        if root[n] is n:  # a new tensor: its inputs are read (an alias reads nothing new)
            for a in tensor_args(n):
                readers.get(root[a], set()).add(_layer_name(n))
    tensors = [
        LiveTensor(s, pos[r], last_use[r], _layer_name(r), tuple(sorted(readers[r])))
        for r, s in sizes.items()
    ]
    macs = sum(layer.macs for layer in layers)
    return Counts(macs, params, peak, peak_at, "fx", layers, inplace, inplace_at, tensors=tensors)


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
    peak: list[Any] = [0, "", 0, ""]  # peak, where; in-place peak, where

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
            footprint = layer.in_elems + layer.out_elems
            if footprint > peak[0]:
                peak[0], peak[1] = footprint, name
            if _depthwise(module):
                footprint = max(layer.in_elems, layer.out_elems)
            if footprint > peak[2]:
                peak[2], peak[3] = footprint, name

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
    macs = sum(layer.macs for layer in layers)
    return Counts(macs, params, int(peak[0]), str(peak[1]), "hooks", layers, *peak[2:])
