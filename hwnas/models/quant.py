"""Post-training quantisation in PyTorch: the accuracy a quantised architecture would have,
by fake quantisation (values rounded to the grid they would have, arithmetic in float).

Per conv / linear layer, at its block's bits (`hwnas.spaces.quant.BlockBits`):
* batch norm folded into the convolution before it first, as the ONNX export (and so ONNX
  Runtime's QDQ model) does, so the weights quantised are the deployed ones;
* weights: per output channel, symmetric, levels -(2^(w-1)-1)..2^(w-1)-1 (ONNX Runtime's
  symmetric int8 range at w = 8);
* activations: the layer's input, per tensor, asymmetric over the range observed on the
  calibration images (always including 0), 2^a levels (ONNX Runtime's MinMax calibration
  of uint8 at a = 8).
16 bits round to fp16, 32 bits leave the layer in fp32. Rounding passes gradients straight
through (inside the observed range), so the same model fine-tunes (`hwnas.models.qat`)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

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


def quantise_weight(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel symmetric fake quantisation of a weight tensor."""
    if bits >= 32:
        return weight
    if bits == 16:
        return weight.half().float()
    qmax = 2 ** (bits - 1) - 1
    flat = weight.detach().reshape(weight.shape[0], -1)
    scale = flat.abs().amax(dim=1).clamp(min=1e-12) / qmax
    scale = scale.reshape(-1, *([1] * (weight.dim() - 1)))
    return torch.clamp(torch.round(weight / scale), -qmax, qmax) * scale


class FakeQuant(nn.Module):
    """A conv or linear layer whose input is fake-quantised at `a_bits` over the range it
    observed while `observing`, and whose weight was fake-quantised at `w_bits` (unless
    `round_weight` is False: QAT rounds it in the forward pass instead)."""

    def __init__(
        self, layer: nn.Module, w_bits: int, a_bits: int, round_weight: bool = True
    ) -> None:
        super().__init__()
        self.layer = layer
        self.w_bits, self.a_bits = w_bits, a_bits
        weight: torch.Tensor = layer.weight  # type: ignore[assignment]  # conv / linear
        if round_weight:
            with torch.no_grad():
                weight.copy_(quantise_weight(weight, w_bits))
        self.observing = True
        self.lo: torch.Tensor
        self.hi: torch.Tensor
        self.register_buffer("lo", torch.tensor(0.0))
        self.register_buffer("hi", torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            self.lo = torch.minimum(self.lo, x.detach().min())
            self.hi = torch.maximum(self.hi, x.detach().max())
        elif self.a_bits == 16:
            x = x.half().float()
        elif self.a_bits < 16:
            levels = 2**self.a_bits - 1
            scale = torch.clamp((self.hi - self.lo) / levels, min=1e-12)
            zero = torch.clamp(torch.round(-self.lo / scale), 0, levels)
            # clipping first changes no value (the range's ends round to 0 and `levels`, up
            # to float ties); it stops the gradient outside the range and, with the rounding
            # bypassed below, passes it straight through inside
            x = torch.clamp(x, self.lo, self.hi)
            q = (torch.clamp(torch.round(x / scale) + zero, 0, levels) - zero) * scale
            x = x + (q - x).detach()
        return self.layer(x)


def fake_quantise(
    model: nn.Module,
    bits: Sequence[Any],
    calibration: torch.Tensor,
    round_weights: bool = True,
) -> nn.Module:
    """A fake-quantised copy of `model` (eval mode, CPU): batch norms folded, every conv /
    linear layer a block of `bits` covers at that block's bits, activation ranges observed
    on `calibration` (N, C, H, W). Layers no block covers stay float. `round_weights`
    False keeps the float weights (QAT rounds them as it trains)."""
    model = fold_batchnorms(model).cpu()
    for name, module in list(model.named_modules()):
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        block = next((b for b in bits if b.covers(name)), None)
        if block is None or (block.w >= 32 and block.a >= 32):
            continue
        set_module(model, name, FakeQuant(module, int(block.w), int(block.a), round_weights))
    with torch.no_grad():
        for start in range(0, len(calibration), CALIB_BATCH):
            model(calibration[start : start + CALIB_BATCH])
    for module in model.modules():
        if isinstance(module, FakeQuant):
            module.observing = False
    return model.eval()
