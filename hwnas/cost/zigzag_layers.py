"""ONNX graphs as ZigZag layers: Conv, Gemm and MatMul nodes in ZigZag's user format, as
its own ONNX parser writes them (so that hwnas's per-layer sum is ZigZag's figure), and
pooling as ZigZag's `Pooling` operator, which its ONNX parser leaves out (a pooling-heavy
network would otherwise cost nothing for its pooling; `pooling=False` reads as ZigZag)."""

from __future__ import annotations

import math
from typing import Any

from hwnas._imports import optional_import
from hwnas.errors import HwnasError

#: operand bits of a layer, as ZigZag's ONNX parser defaults them (int8, 16-bit partials)
_PRECISION = {"W": 8, "I": 8, "O_final": 8, "O": 16}


POOLS = ("AveragePool", "MaxPool", "GlobalAveragePool", "GlobalMaxPool")


def onnx_layers(model: Any, pooling: bool = True) -> list[dict[str, Any]]:
    """The Conv, Gemm and MatMul nodes of an ONNX model (a `ModelProto` or its bytes) as
    ZigZag layers in its user format, as its ONNX parser writes them, and its pooling
    nodes (unless `pooling` is False, as ZigZag's parser does); a symbolic batch axis is 1.
    Other nodes (adds, activations, reductions) cost nothing, as in ZigZag."""
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
        elif pooling and node.op_type in POOLS:
            ins, out = shape(node.input[0], node), shape(node.output[0], node)
            if node.op_type.startswith("Global"):
                attrs = {"kernel_shape": ins[2:4]}
            layer = _pool(attrs, ins, out)
            node_type = "Pooling"
        else:
            continue
        if node.op_type not in POOLS:
            node_type = node.op_type
        layers.append({"operator_type": node_type, **layer})
    return layers


def _pool(attrs: dict[str, Any], ins: list[int], out: list[int]) -> dict[str, Any]:
    """A pooling window over each channel, as ZigZag's YAML workloads write one."""
    kernel = list(attrs["kernel_shape"])
    strides = list(attrs.get("strides", [1, 1]))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    return {
        "equation": "O[b][g][oy][ox]+=W[fx][fy]*I[b][g][iy][ix]",
        "loop_dims": ["B", "G", "OX", "OY", "FX", "FY"],
        "loop_sizes": [max(out[0], 1), out[1], out[3], out[2], kernel[0], kernel[1]],
        "dimension_relations": [f"ix={strides[0]}*ox+1*fx", f"iy={strides[1]}*oy+1*fy"],
        "operand_precision": {**_PRECISION, "W": 0},
        "pr_loop_dims": ["IX", "IY"],
        "pr_loop_sizes": [ins[3], ins[2]],
        "padding": [[pads[0], pads[2]], [pads[1], pads[3]]],
    }


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

    POOL_MODULES = (nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
    layers: list[dict[str, Any]] = []
    unsupported: list[str] = []

    def hook(module: Any, inputs: Any, output: Any) -> None:
        ins, out = list(inputs[0].shape), list(output.shape)
        if isinstance(module, POOL_MODULES):
            pool = _pool_attrs(module, ins)
            if pool is None:
                unsupported.append(type(module).__name__)
            else:
                layers.append({"operator_type": "Pooling", **_pool(pool, ins, out)})
            return
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
        if isinstance(m, (nn.Conv2d, nn.Linear, *POOL_MODULES))
    ]
    try:
        with torch.no_grad():
            meta(torch.zeros((1, *input_shape), device="meta"))
    finally:
        for h in handles:
            h.remove()
    return None if unsupported else layers


def functional_products(model: Any, input_shape: tuple[int, ...]) -> list[dict[str, Any]] | None:
    """The matrix products a network computes outside modules (attention's query x key
    and scores x value), read off a torch.fx trace with every shape propagated on the
    meta device, as ZigZag MatMul layers between two activations: with `module_layers`,
    what an elastic transformer's ONNX graph holds, whose sliced heads ONNX shape
    inference cannot follow. None when the network does not trace."""
    import copy
    import operator

    import torch
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    products = (torch.matmul, torch.bmm, operator.matmul)
    meta = copy.deepcopy(model).eval().to("meta")
    try:
        traced = symbolic_trace(meta)
        with torch.no_grad():
            ShapeProp(traced).propagate(torch.zeros((1, *input_shape), device="meta"))
    except Exception:  # noqa: BLE001 - untraceable control flow: the caller exports instead
        return None
    layers = []
    for node in traced.graph.nodes:
        if node.target in products or (
            node.op == "call_method" and node.target in ("matmul", "bmm", "__matmul__")
        ):
            ins = list(node.args[0].meta["tensor_meta"].shape)
            out = list(node.meta["tensor_meta"].shape)
            layers.append({"operator_type": "MatMul", **_matmul(ins, out, False)})
    return layers


def _pool_attrs(module: Any, ins: list[int]) -> dict[str, Any] | None:
    """A pooling module's window as the exporter writes it; None for one it writes
    otherwise (ceil mode, dilation, an adaptive output other than 1x1)."""
    from torch import nn

    def pair(value: Any) -> list[int]:
        return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value)] * 2

    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        if pair(module.output_size) != [1, 1]:
            return None
        return {"kernel_shape": ins[2:4]}
    if getattr(module, "ceil_mode", False) or pair(getattr(module, "dilation", 1)) != [1, 1]:
        return None
    ph, pw = pair(module.padding)
    return {
        "kernel_shape": pair(module.kernel_size),
        "strides": pair(module.stride if module.stride is not None else module.kernel_size),
        "pads": [ph, pw, ph, pw],
    }


def layer_macs(layer: dict[str, Any]) -> int:
    """Multiply-accumulates of a ZigZag layer: the product of its loop sizes (none for
    pooling, which the full count does not count either)."""
    if layer["operator_type"] == "Pooling":
        return 0
    return math.prod(int(s) for s in layer["loop_sizes"])
