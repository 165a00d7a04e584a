"""Where ONNX Runtime's static quantiser (QDQ) puts its quantisers, read off a torch.fx graph
of the network, so that fake quantisation in PyTorch computes what the deployed int8 file
computes (`hwnas.models.quant`). Walks the nodes in order as `quantize_static` does:

* an op that computes on int8 (conv, linear, add, mul, concat, global pooling, sigmoid,
  matmul, normalisation...) quantises every tensor it reads and the one it writes, over
  that tensor's own calibrated range; softmax writes over the fixed range 0..1;
* an op that only moves values (pooling windows, reshapes, transposes, slices) writes on
  its input's grid, and only if that input is already quantised;
* a ReLU / clip reading a quantised tensor that nothing else reads is removed: only its
  output is quantised (with a second reader, both are);
* nodes of 16 / 32-bit blocks are left out (`hwnas.models.qdq.float_nodes`); nodes no
  block covers are int8, as the exported file has them.

Not emulated: the int8 / int32 quantisation of normalisation layers' own scale and shift,
and the transformer-specific rewrites of the exporter (a linear on a 3-D input becomes
MatMul + Add with the bias quantised as uint8; GELU becomes five ops)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.nn import functional as F

#: how an op treats its tensors (see the module's docstring)
OWN, SHARE, RELU, SOFTMAX = "own", "share", "relu", "softmax"

_MODULES: tuple[tuple[tuple[type[nn.Module], ...], str], ...] = (
    ((nn.ReLU, nn.ReLU6, nn.Hardtanh), RELU),
    ((nn.Softmax,), SOFTMAX),
    ((nn.AvgPool2d, nn.MaxPool2d, nn.Flatten, nn.Unflatten), SHARE),
    (
        (
            nn.Conv2d, nn.Linear, nn.LeakyReLU, nn.Sigmoid, nn.AdaptiveAvgPool2d,
            nn.LayerNorm, nn.BatchNorm2d,
        ),
        OWN,
    ),
)  # fmt: skip
_FUNCTIONS: dict[Any, str] = {
    **dict.fromkeys((torch.relu, F.relu, F.relu6, F.hardtanh, torch.clamp), RELU),
    **dict.fromkeys((torch.softmax, F.softmax), SOFTMAX),
    **dict.fromkeys(
        (operator.getitem, torch.flatten, torch.reshape, torch.transpose, torch.permute,
         torch.squeeze, torch.unsqueeze, F.avg_pool2d, F.max_pool2d),
        SHARE,
    ),
    **dict.fromkeys(
        (operator.add, operator.iadd, operator.mul, operator.imul, torch.add, torch.mul,
         torch.matmul, torch.bmm, torch.cat, torch.sigmoid, F.sigmoid, F.leaky_relu,
         F.layer_norm, F.adaptive_avg_pool2d),
        OWN,
    ),
}  # fmt: skip
_METHODS: dict[str, str] = {
    **dict.fromkeys(("relu", "clamp", "clip"), RELU),
    "softmax": SOFTMAX,
    **dict.fromkeys(
        ("flatten", "view", "reshape", "transpose", "permute", "unflatten", "squeeze",
         "unsqueeze"),
        SHARE,
    ),
    **dict.fromkeys(("add", "mul", "matmul", "sigmoid"), OWN),
}  # fmt: skip


@dataclass
class Point:
    """A quantiser after one node's output: at `bits`, over its own range, the fixed range
    `fixed`, or the grid of the node `share` (already a point)."""

    bits: int
    share: fx.Node | None = None
    fixed: tuple[float, float] | None = None


def kind(traced: fx.GraphModule, node: fx.Node) -> str | None:
    """How ONNX Runtime's quantiser treats `node` (None: left in float)."""
    if node.op == "call_module":
        module = traced.get_submodule(str(node.target))
        return next((k for types, k in _MODULES if isinstance(module, types)), None)
    if node.op == "call_function":
        return _FUNCTIONS.get(node.target)
    if node.op == "call_method":
        return _METHODS.get(str(node.target).removesuffix("_"))
    return None


def module_path(node: fx.Node) -> str:
    """The dotted name of the module whose forward made `node` ('' at the top)."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    last = stack[next(reversed(stack))]
    return str(last[0]) if isinstance(last, tuple) else str(next(reversed(stack)))


def block_bits(node: fx.Node, bits: Sequence[Any]) -> int | None:
    """The activation bits `node` computes at: its block's, 8 where no block covers it (as
    the exported int8 file has it), None in a 16 / 32-bit block (left in float)."""
    path = module_path(node)
    block = next((b for b in bits if b.covers(path)), None)
    if block is None:
        return 8
    return None if block.w >= 16 or block.a >= 16 else int(block.a)


def plan(
    traced: fx.GraphModule, bits: Sequence[Any], tensors: set[fx.Node]
) -> dict[fx.Node, Point]:
    """The quantisers, by the node whose output they follow, in graph order. `tensors`:
    the nodes whose outputs are float tensors (others are never quantised)."""
    points: dict[fx.Node, Point] = {}

    def mark(node: fx.Node, at: int) -> None:
        if node in points:
            points[node].bits = min(points[node].bits, at)
        elif node in tensors:
            points[node] = Point(at)

    for node in traced.graph.nodes:
        how = kind(traced, node)
        at = block_bits(node, bits) if how else None
        if how is None or at is None or node not in tensors:
            continue
        inputs = [n for n in node.all_input_nodes if n in tensors]
        first = inputs[0] if inputs else None
        if how in (OWN, SOFTMAX):
            for read in inputs:
                mark(read, at)
            mark(node, at)
            if how == SOFTMAX:
                points[node].fixed = (0.0, 1.0)
        elif first is None or first not in points:
            continue  # a move or a ReLU of a float tensor stays float
        elif how == SHARE:
            source = points[first].share or first
            points[node] = Point(points[source].bits, share=source)
        elif len(first.users) == 1 and points[first].share is None and first.op != "placeholder":
            points[node] = Point(points.pop(first).bits)  # ReLU removed: its output only
        else:
            mark(node, at)
    return points
