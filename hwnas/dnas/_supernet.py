"""The over-parameterised network a differentiable search trains: every layer holds all of
its candidate blocks (FBNet's "stochastic super net"), and a forward pass takes, per layer,
which candidates run and with what weight. FBNet runs all candidates with Gumbel-softmax
weights; ProxylessNAS runs one (weights step) or two (architecture step) with binary gates.
Candidates with no entry are not computed at all, which is what keeps ProxylessNAS's memory
and time at one or two paths."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnas.models import fbnet as fbnet_models

#: per layer, the candidates to run: (candidate index, weight tensor or None for 1)
Plan = Sequence[Sequence[tuple[int, torch.Tensor | None]]]


class MixedLayer(nn.Module):
    def __init__(self, candidates: Sequence[nn.Module]) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(candidates)

    def forward(
        self, x: torch.Tensor, plan: Sequence[tuple[int, torch.Tensor | None]]
    ) -> torch.Tensor:
        out: torch.Tensor | None = None
        for index, weight in plan:
            y = self.candidates[index](x)
            y = y if weight is None else y * weight
            out = y if out is None else out + y
        assert out is not None, "a layer needs at least one candidate to run"
        return out


class FBNetSupernet(nn.Module):
    """All 9 blocks at each of the 22 FBNet layers, in HW-NAS-Bench's CIFAR layout scaled
    by `width`."""

    def __init__(
        self, ops: Sequence[str], in_channels: int, classes: int, width: float = 1.0
    ) -> None:
        super().__init__()
        shapes = fbnet_models.layer_shapes(width)
        self.ops = tuple(ops)
        self.stem = fbnet_models.stem(in_channels, width)
        self.layers = nn.ModuleList(
            MixedLayer([fbnet_models.make_block(op, *shape) for op in ops]) for shape in shapes
        )
        self.head = fbnet_models.Head(shapes[-1][1], classes, width)
        fbnet_models.init_weights(self)

    @property
    def shape(self) -> tuple[int, int]:
        """(layers, candidates per layer)."""
        return len(self.layers), len(self.ops)

    def forward(self, x: torch.Tensor, plan: Plan) -> torch.Tensor:
        x = self.stem(x)
        for layer, choice in zip(self.layers, plan):
            x = layer(x, choice)
        return self.head(x)
