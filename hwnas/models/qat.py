"""Quantisation-aware fine-tuning (QAT): a few optimiser steps through the fake quantisers
of a post-training-quantised network (`hwnas.models.quant.fake_quantise`), so that its
weights move to where rounding costs the least accuracy.

* weights are fake-quantised in the forward pass at their block's bits, and the gradient
  reaches the float weights straight through the rounding (the straight-through estimator);
* activations are quantised over the ranges calibrated before QAT, kept fixed while
  training; the gradient passes inside the range and stops outside it;
* batch norms stay folded into their convolutions (frozen statistics, as in the deployed
  graph), the model in eval mode (no dropout), so the steps are repeatable from the seed;
* Adam with a cosine schedule over the steps, cross-entropy on the training images.

The result has the float network's own structure (`unfold_batchnorms`), so it exports,
saves and quantises as any network of its space; its weights are the rounded ones.
Importing this module imports no torch (the export's signature reads `QatConfig`)."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from hwnas.errors import SpecError

if TYPE_CHECKING:
    import torch
    from torch import nn

#: learning rate and batch size when none are given
DEFAULT_LR = 1e-3
DEFAULT_BATCH = 64


@dataclass(frozen=True)
class QatConfig:
    """How long and how fast QAT trains; the seed fixes the batches."""

    steps: int
    lr: float = DEFAULT_LR
    batch_size: int = DEFAULT_BATCH
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if type(self.steps) is not int or self.steps < 0:
            raise SpecError(f"QAT steps must be a whole number, 0 or more, got {self.steps!r}")
        if not self.lr > 0 or self.lr == float("inf"):
            raise SpecError(f"QAT learning rate must be a positive number, got {self.lr!r}")
        if type(self.batch_size) is not int or self.batch_size < 1:
            raise SpecError(f"QAT batch size must be at least 1, got {self.batch_size!r}")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "optimizer": "Adam, cosine schedule over the steps"}


def _rounded_weight(bits: int) -> nn.Module:
    """A weight parametrisation: the float weight rounded to its grid in the forward pass,
    the gradient passed straight through to the float weight."""
    from torch import nn

    from hwnas.models.quant import quantise_weight

    class RoundedWeight(nn.Module):
        def forward(self, weight: torch.Tensor) -> torch.Tensor:
            return weight + (quantise_weight(weight, bits) - weight).detach()

    return RoundedWeight()


def quantisation_aware(
    model: nn.Module,
    bits: Sequence[Any],
    calibration: torch.Tensor,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: QatConfig,
) -> tuple[nn.Module, dict[str, Any]]:
    """`model` (float, untouched) fine-tuned for `config.steps` steps at `bits` (a
    quantised architecture's `policy`) on `images` / `labels`, activation ranges observed
    on `calibration`; returns the fine-tuned float network (CPU, eval mode, weights on
    their grids) and what happened (loss of the first and last steps, seconds)."""
    import torch
    from torch.nn.utils import parametrize

    from hwnas.models.quant import FakeQuant, fake_quantise, set_module
    from hwnas.training import resolve_device

    if len(images) == 0:
        raise SpecError("QAT needs training images; the training split is empty")
    start = time.perf_counter()
    device = resolve_device(config.device)
    fake = fake_quantise(model, bits, calibration, round_weights=False)
    quantisers = [m for m in fake.modules() if isinstance(m, FakeQuant)]
    for q in quantisers:
        if q.w_bits < 32:
            parametrize.register_parametrization(q.layer, "weight", _rounded_weight(q.w_bits))
    fake.to(device).eval()
    optimiser = torch.optim.Adam(fake.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, config.steps))
    generator = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    order = torch.randperm(len(images), generator=generator)
    at = 0
    for _ in range(config.steps):
        if at + config.batch_size > len(order):  # a new epoch, reshuffled
            order, at = torch.randperm(len(images), generator=generator), 0
        idx = order[at : at + config.batch_size]
        at += config.batch_size
        loss = torch.nn.functional.cross_entropy(
            fake(images[idx].to(device)), labels[idx].to(device)
        )
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    fake.cpu()
    for q in quantisers:
        if parametrize.is_parametrized(q.layer, "weight"):
            parametrize.remove_parametrizations(q.layer, "weight", leave_parametrized=True)
    for name, module in list(fake.named_modules()):
        if isinstance(module, FakeQuant):
            set_module(fake, name, module.layer)
    tuned = unfold_batchnorms(model, fake)
    head = min(10, len(losses))
    return tuned, {
        **config.as_dict(),
        "images": len(images),
        "loss_first_steps": sum(losses[:head]) / head if head else None,
        "loss_last_steps": sum(losses[-head:]) / head if head else None,
        "loss_steps_averaged": head,
        "seconds": round(time.perf_counter() - start, 3),
    }


def unfold_batchnorms(model: nn.Module, folded: nn.Module) -> nn.Module:
    """A copy of `model` (eval mode) computing what `folded` (its `fold_batchnorms` copy,
    trained) computes: each folded convolution's weight and bias copied back, its batch
    norm made a shift by that bias (mean -bias, variance 1 - eps, unit scale), so the
    network keeps its own structure and state-dict keys."""
    import torch

    from hwnas.models.quant import conv_bn_pairs

    out = copy.deepcopy(model).eval()
    state = out.state_dict()
    trained = folded.state_dict()
    for key, value in trained.items():
        if key in state and state[key].shape == value.shape:
            state[key] = value
    for conv_name, norm_name in conv_bn_pairs(out):
        try:
            conv: Any = folded.get_submodule(conv_name)
        except AttributeError:  # never called in eval mode, so not traced: left as it was
            continue
        norm: Any = out.get_submodule(norm_name)
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
        state[f"{conv_name}.weight"] = conv.weight.detach()
        if f"{conv_name}.bias" in state:
            state[f"{conv_name}.bias"] = torch.zeros_like(bias)
        state[f"{norm_name}.running_mean"] = -bias
        state[f"{norm_name}.running_var"] = torch.full_like(bias, 1.0 - norm.eps)
        if norm.affine:
            state[f"{norm_name}.weight"] = torch.ones_like(bias)
            state[f"{norm_name}.bias"] = torch.zeros_like(bias)
    out.load_state_dict(state)
    return out
