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
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    shapes = {
        v.name: [
            d.dim_value if d.HasField("dim_value") else 1 for d in v.type.tensor_type.shape.dim
        ]
        for v in [*graph.input, *graph.value_info, *graph.output]
    }
    constants = {i.name for i in graph.initializer} | {
        o for n in graph.node if n.op_type == "Constant" for o in n.output
    }
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    layers = []
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            layer = _conv(attrs, shapes[node.input[0]], shapes[node.output[0]])
        elif node.op_type in ("Gemm", "MatMul"):
            weights_constant = node.input[1] in constants
            ins = shapes[node.input[0]]
            if attrs.get("transA"):
                ins = [ins[1], ins[0]]
            layer = _matmul(ins, shapes[node.output[0]], weights_constant)
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
