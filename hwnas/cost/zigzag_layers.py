"""ONNX graphs as ZigZag layers: Conv, Gemm and MatMul nodes in ZigZag's user format, as
its own ONNX parser writes them (so that hwnas's per-layer sum is ZigZag's figure)."""

from __future__ import annotations

import math
from typing import Any

from hwnas._imports import optional_import
from hwnas.errors import HwnasError

#: operand bits of a layer, as ZigZag's ONNX parser defaults them (int8, 16-bit partials)
_PRECISION = {"W": 8, "I": 8, "O_final": 8, "O": 16}


def onnx_layers(model: Any) -> list[dict[str, Any]]:
    """The Conv, Gemm and MatMul nodes of an ONNX model (a `ModelProto` or its bytes) as
    ZigZag layers in its user format, as its ONNX parser writes them; a symbolic batch
    axis is 1. Other nodes (adds, pooling, activations) cost nothing, as in ZigZag."""
    onnx = optional_import("onnx", "zigzag targets")
    if isinstance(model, bytes):
        model = onnx.load_from_string(model)
    for value in model.graph.input:  # batch 1, so shapes computed from it stay static
        for dim in value.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.dim_value = 1
    model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    graph = model.graph
    shapes: dict[str, list[int]] = {
        v.name: [
            d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim
        ]
        for v in [*graph.input, *graph.value_info, *graph.output]
    }

    def shape(name: str, node: Any) -> list[int]:
        found = shapes.get(name)
        if not found or -1 in found:
            raise HwnasError(
                f"ONNX shape inference left the shape of {node.op_type} node {node.name!r} "
                "unknown (dynamic slicing, as elastic attention heads do), so ZigZag cannot "
                "be given the layer"
            )
        return found

    constants = {i.name for i in graph.initializer} | {
        o for n in graph.node if n.op_type == "Constant" for o in n.output
    }
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    layers = []
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            layer = _conv(attrs, shape(node.input[0], node), shape(node.output[0], node))
        elif node.op_type in ("Gemm", "MatMul"):
            weights_constant = node.input[1] in constants
            ins = shape(node.input[0], node)
            if attrs.get("transA"):
                ins = [ins[1], ins[0]]
            layer = _matmul(ins, shape(node.output[0], node), weights_constant)
        else:
            continue
        layers.append({"operator_type": node.op_type, **layer})
    return layers


def _conv(attrs: dict[str, Any], ins: list[int], out: list[int]) -> dict[str, Any]:
    kernel = list(attrs["kernel_shape"])
    strides = list(attrs.get("strides", [1, 1]))
    dilations = list(attrs.get("dilations", [1, 1]))
    groups = int(attrs.get("group", 1))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if len(kernel) != 2:
        raise HwnasError(f"ZigZag targets model 2-D convolutions, not a {len(kernel)}-D one")
    return {
        "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
        "loop_dims": ["B", "K", "G", "OX", "OY", "C", "FX", "FY"],
        "loop_sizes": [
            max(out[0], 1),
            math.ceil(out[1] / groups),
            groups,
            out[3],
            out[2],
            math.ceil(ins[1] / groups),
            kernel[0],
            kernel[1],
        ],
        "dimension_relations": [
            f"ix={strides[0]}*ox+{dilations[0]}*fx",
            f"iy={strides[1]}*oy+{dilations[1]}*fy",
        ],
        "operand_precision": dict(_PRECISION),
        "pr_loop_dims": ["IX", "IY"],
        "pr_loop_sizes": [ins[3], ins[2]],
        "padding": [[pads[0], pads[2]], [pads[1], pads[3]]],
    }


def _matmul(ins: list[int], out: list[int], weights_constant: bool) -> dict[str, Any]:
    """I[(b)(h)][d][c] * W[c][k] (or W[(b)(h)][c][k] between activations)."""
    if not 2 <= len(ins) <= 4 or len(ins) != len(out):
        raise HwnasError(f"ZigZag targets model 2-4-D matrix products, not {ins} -> {out}")
    batch = [("B", max(ins[0], 1))] if len(ins) >= 3 else []
    heads = [("H", ins[1])] if len(ins) == 4 and ins[1] else []
    outer = batch + heads
    prefix = "".join(f"[{d.lower()}]" for d, _ in outer)
    precision = dict(_PRECISION)
    if not weights_constant:
        precision["W"] = precision["I"]
    return {
        "equation": f"O{prefix}[d][k]+=I{prefix}[d][c]*W{'' if weights_constant else prefix}[c][k]",
        "loop_dims": ["C", "D", "K"] + [d for d, _ in outer],
        "loop_sizes": [ins[-1], ins[-2], out[-1]] + [s for _, s in outer],
        "dimension_relations": [],
        "operand_precision": precision,
    }


def module_layers(model: Any, input_shape: tuple[int, ...]) -> list[dict[str, Any]] | None:
    """The same layers read off a torch module's Conv2d and Linear calls (forward hooks on
    a copy on the meta device: a fraction of a second, where an ONNX export takes
    seconds), as the exporter writes them: a Linear on a matrix is a Gemm, on more axes a
    MatMul. None when a convolution is one the exporter writes otherwise (string or
    non-zero padding); work done outside modules (attention's products) is not seen, so
    the caller checks the MACs against a full count before trusting these."""
    import copy

    import torch
    from torch import nn

    layers: list[dict[str, Any]] = []
    unsupported: list[str] = []

    def hook(module: Any, inputs: Any, output: Any) -> None:
        ins, out = list(inputs[0].shape), list(output.shape)
        if isinstance(module, nn.Conv2d):
            if isinstance(module.padding, str) or module.padding_mode != "zeros":
                unsupported.append(type(module).__name__)
                return
            ph, pw = module.padding
            attrs = {
                "kernel_shape": list(module.kernel_size),
                "strides": list(module.stride),
                "dilations": list(module.dilation),
                "group": module.groups,
                "pads": [ph, pw, ph, pw],
            }
            layers.append({"operator_type": "Conv", **_conv(attrs, ins, out)})
        else:
            kind = "Gemm" if len(ins) == 2 else "MatMul"
            layers.append({"operator_type": kind, **_matmul(ins, out, True)})

    meta = copy.deepcopy(model).eval().to("meta")
    handles = [
        m.register_forward_hook(hook)
        for m in meta.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            meta(torch.zeros((1, *input_shape), device="meta"))
    finally:
        for h in handles:
            h.remove()
    return None if unsupported else layers


def layer_macs(layer: dict[str, Any]) -> int:
    """Multiply-accumulates of a ZigZag layer: the product of its loop sizes."""
    return math.prod(int(s) for s in layer["loop_sizes"])
