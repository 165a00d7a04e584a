"""Post-training quantisation in PyTorch: the accuracy a quantised architecture would have,
by fake quantisation (values rounded to the grid they would have, arithmetic in float).

Per conv / linear layer, at its block's bits (`hwnas.spaces.quant.BlockBits`):
* batch norm folded into the convolution before it first, as the ONNX export (and so ONNX
  Runtime's QDQ model) does, so the weights quantised are the deployed ones;
* weights: per output channel, symmetric, levels -(2^(w-1)-1)..2^(w-1)-1 (ONNX Runtime's
  symmetric int8 range at w = 8);
* activations: per tensor, asymmetric over the range observed on the calibration images
  (always including 0), 2^a levels (ONNX Runtime's MinMax calibration of uint8 at a = 8),
  at every tensor ONNX Runtime's static quantiser quantises, not only each conv / linear
  input (where, and at which bits: `hwnas.models._quant_graph`). Leaving those tensors in float predicted up to 8 points more
  than the deployed int8 file scored (docs/benchmarks/quantisation.md).
16 bits round to fp16, 32 bits leave the layer in fp32. Rounding passes gradients straight
through (inside the observed range), so the same model fine-tunes (`hwnas.models.qat`)."""

from __future__ import annotations

import copy
import itertools
import operator
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import fx, nn

#: images per forward pass while observing activation ranges
CALIB_BATCH = 64


def conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """The (convolution, batch norm) module names `fold_batchnorms` folds: a batch norm
    that directly follows a convolution in an `nn.Sequential`."""
    pairs = []
    for prefix, seq in model.named_modules():
        if isinstance(seq, nn.Sequential):
            for first, second in itertools.pairwise(seq._modules):
                conv, norm = seq._modules[first], seq._modules[second]
                if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                    pairs.append((_join(prefix, first), _join(prefix, second)))
    return pairs


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule at dotted path `name`."""
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, module)


def fold_batchnorms(model: nn.Module) -> nn.Module:
    """A copy of `model` (eval mode) with each batch norm that directly follows a
    convolution in an `nn.Sequential` folded into it (and replaced by identity)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model = copy.deepcopy(model).eval()
    for conv, norm in conv_bn_pairs(model):
        conv_module: Any = model.get_submodule(conv)
        fused = fuse_conv_bn_eval(conv_module, model.get_submodule(norm))  # type: ignore[arg-type]
        set_module(model, conv, fused)
        set_module(model, norm, nn.Identity())
    return model


def weight_scale(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """The per-output-channel step of a symmetric `bits`-bit grid for `weight` (shaped to
    broadcast against it)."""
    amax = weight.detach().reshape(weight.shape[0], -1).abs().amax(dim=1)
    # an all-zero channel gets step 1, as ONNX Runtime has it (its bias step follows)
    scale = torch.where(amax > 0, amax / (2 ** (bits - 1) - 1), torch.ones_like(amax))
    return scale.reshape(-1, *([1] * (weight.dim() - 1)))


def quantise_weight(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel symmetric fake quantisation of a weight tensor."""
    if bits >= 32:
        return weight
    if bits == 16:
        return weight.half().float()
    qmax = 2 ** (bits - 1) - 1
    scale = weight_scale(weight, bits)
    return torch.clamp(torch.round(weight / scale), -qmax, qmax) * scale


class ActQuant(nn.Module):
    """Fake quantisation of one tensor at `a_bits`, per tensor, over the range it observed
    while `observing` (16 bits: fp16; 32: unchanged). Non-float values pass through."""

    def __init__(self, a_bits: int, fixed: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.a_bits = a_bits
        self.observing = True
        self.fixed = fixed is not None
        self.lo: torch.Tensor
        self.hi: torch.Tensor
        self.register_buffer("lo", torch.tensor(fixed[0] if fixed else 0.0))
        self.register_buffer("hi", torch.tensor(fixed[1] if fixed else 0.0))

    def forward(self, x: Any) -> Any:
        if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
            return x
        if self.observing:
            if not self.fixed:
                self.lo = torch.minimum(self.lo, x.detach().min())
                self.hi = torch.maximum(self.hi, x.detach().max())
        elif self.a_bits == 16:
            x = x.half().float()
        elif self.a_bits < 16:
            levels = 2**self.a_bits - 1
            scale = self.step()
            zero = torch.clamp(torch.round(-self.lo / scale), 0, levels)
            # clipping first changes no value (the range's ends round to 0 and `levels`, up
            # to float ties); it stops the gradient outside the range and, with the rounding
            # bypassed below, passes it straight through inside
            x = torch.clamp(x, self.lo, self.hi)
            q = (torch.clamp(torch.round(x / scale) + zero, 0, levels) - zero) * scale
            x = x + (q - x).detach()
        return x

    def step(self) -> torch.Tensor:
        """The quantisation step over the observed range (1 for an empty range, as ONNX
        Runtime has it)."""
        span = self.hi - self.lo
        return torch.where(span > 0, span / (2**self.a_bits - 1), torch.ones_like(span))


class FakeQuant(nn.Module):
    """A conv or linear layer whose input is fake-quantised at `a_bits` (`ActQuant`) and
    whose weight is fake-quantised at `w_bits` once `round_weight` is called (QAT rounds it
    in the forward pass instead)."""

    def __init__(self, layer: nn.Module, w_bits: int, a_bits: int) -> None:
        super().__init__()
        self.layer = layer
        self.w_bits, self.a_bits = w_bits, a_bits
        self.input = ActQuant(a_bits)

    def round_weight(self) -> None:
        """Round the weight to its grid, and the bias to int32 at the step of input times
        weight, as ONNX Runtime stores it (once the input's range is calibrated)."""
        weight: torch.Tensor = self.layer.weight  # type: ignore[assignment]  # conv / linear
        bias: torch.Tensor | None = self.layer.bias  # type: ignore[assignment]
        with torch.no_grad():
            if bias is not None and self.w_bits < 16 and self.a_bits < 16:
                step = weight_scale(weight, self.w_bits).reshape(-1) * self.input.step()
                bias.copy_(torch.round(bias / step) * step)
            weight.copy_(quantise_weight(weight, self.w_bits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.input(x))


#: modules that compute nothing in eval mode (a folded batch norm is an identity)
_TRANSPARENT = (nn.Identity, nn.Dropout)
#: parameter-free modules: two applied to the same input compute the same tensor
_STATELESS = (
    nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.SiLU,
    nn.GELU, nn.LeakyReLU, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Flatten,
)  # fmt: skip


def _passes_through(traced: fx.GraphModule, node: fx.Node) -> fx.Node | None:
    """The input `node` returns unchanged, as the ONNX export drops it: an identity or
    dropout module, or `0 + x` (Python's `sum` over tensors starts with it); else None."""
    if (
        node.op == "call_module"
        and node.args
        and isinstance(traced.get_submodule(str(node.target)), _TRANSPARENT)
    ):
        return node.args[0] if isinstance(node.args[0], fx.Node) else None
    if node.target is operator.add and len(node.args) == 2 and not node.kwargs:
        left, right = node.args
        if isinstance(right, fx.Node) and type(left) in (int, float) and left == 0:
            return right
        if isinstance(left, fx.Node) and type(right) in (int, float) and right == 0:
            return left
    return None


def _computed_before(
    traced: fx.GraphModule, node: fx.Node, computed: dict[tuple[Any, ...], fx.Node]
) -> fx.Node | None:
    """An earlier node computing what `node` does (the same parameter-free module type and
    settings on the same inputs), which the ONNX export merges into one: NB201's edges
    each start with a ReLU of the same node. Records `node` when it is the first."""
    if node.op != "call_module":
        return None
    module = traced.get_submodule(str(node.target))
    if not isinstance(module, _STATELESS) or node.kwargs:
        return None
    key = (type(module), module.extra_repr(), tuple(node.args))
    if key in computed:
        return computed[key]
    computed[key] = node
    return None


def _other_than(node: fx.Node) -> Callable[[fx.Node], bool]:
    return lambda user: user is not node


def _quantise_tensors(model: nn.Module, bits: Sequence[Any], example: torch.Tensor) -> nn.Module:
    """`model` traced with an `ActQuant` after every tensor ONNX Runtime would quantise
    (`hwnas.models._quant_graph`); `example` (a batch) tells tensors from other values. A
    network torch.fx cannot trace keeps its layer inputs quantised only, with a warning."""
    from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

    from hwnas.models._quant_graph import plan

    try:
        traced = fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - tracing fails in many ways; the fallback is safe
        warnings.warn(
            f"{type(model).__name__} cannot be traced ({exc}); only conv / linear inputs are "
            "fake-quantised, so the prediction ignores the int8 tensors between them",
            stacklevel=3,
        )
        return model
    graph = traced.graph
    computed: dict[tuple[Any, ...], fx.Node] = {}
    for node in list(graph.nodes):
        same = _passes_through(traced, node) or _computed_before(traced, node, computed)
        if same is not None:
            node.replace_all_uses_with(same)
            graph.erase_node(node)
    with torch.no_grad():
        ShapeProp(traced).propagate(example)
    tensors = {
        node
        for node in graph.nodes
        if isinstance(meta := node.meta.get("tensor_meta"), TensorMetadata)
        and meta.dtype.is_floating_point
    }
    names: dict[fx.Node, str] = {}
    for index, (node, point) in enumerate(plan(traced, bits, tensors).items()):
        if point.share is None:
            names[node] = f"tensor_quant_{index}"
            traced.add_submodule(names[node], ActQuant(point.bits, point.fixed))
        with graph.inserting_after(node):
            quantised = graph.call_module(names[point.share or node], (node,))
        node.replace_all_uses_with(quantised, delete_user_cb=_other_than(quantised))
    graph.lint()
    traced.recompile()
    return traced


def fake_quantise(
    model: nn.Module,
    bits: Sequence[Any],
    calibration: torch.Tensor,
    round_weights: bool = True,
) -> nn.Module:
    """A fake-quantised copy of `model` (eval mode, CPU): batch norms folded, every conv /
    linear layer a block of `bits` covers at that block's bits, and every tensor ONNX
    Runtime would quantise, activation ranges observed on `calibration` (N, C, H, W) with
    float weights. Layers no block covers are int8, as the exported file has them.
    `round_weights` False keeps the float weights (QAT rounds them as it trains)."""
    model = _quantise_tensors(fold_batchnorms(model).cpu(), bits, calibration[:1])
    for name, module in list(model.named_modules()):
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        block = next((b for b in bits if b.covers(name)), None)
        w_bits, a_bits = (8, 8) if block is None else (int(block.w), int(block.a))
        if w_bits < 32 or a_bits < 32:
            set_module(model, name, FakeQuant(module, w_bits, a_bits))
    # ranges observed on the float network, as ONNX Runtime calibrates; weights rounded after
    with torch.no_grad():
        for start in range(0, len(calibration), CALIB_BATCH):
            model(calibration[start : start + CALIB_BATCH])
    for module in model.modules():
        if isinstance(module, ActQuant):
            module.observing = False
        elif isinstance(module, FakeQuant) and round_weights:
            module.round_weight()
    return model.eval()
