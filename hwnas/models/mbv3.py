"""MobileNetV3 networks in plain PyTorch, built from a plan of `hwnas.spaces.mbv3`. The
layers follow the paper (Howard et al., 2019) and torchvision's reference: squeeze-excite
to a quarter of the expanded channels with hard-sigmoid gating, h-swish where the stage
says so, no expansion convolution when the expand ratio is 1. The plan carries every width
already computed, so this module reads it and never imports the space (the space imports
it, lazily, to build)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from hwnas.spaces._mobile import BlockConfig


def _act(name: str) -> nn.Module:
    """The activation a plan names: hswish, relu6 (MobileNetV2) or relu."""
    return {"hswish": nn.Hardswish, "relu6": nn.ReLU6}.get(name, nn.ReLU)()


def conv_bn_act(
    cin: int, cout: int, kernel: int, stride: int, groups: int, act: str | None
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act is not None:
        layers.append(_act(act))
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Squeeze `channels` to `squeeze` (the plan computes the width: `BlockConfig.se_ch`)."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.relu = nn.ReLU()
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.relu(self.reduce(self.pool(x)))))


class InvertedResidual(nn.Module):
    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        mid = cfg.mid_ch
        layers: list[nn.Module] = []
        if mid != cfg.in_ch:
            layers.append(conv_bn_act(cfg.in_ch, mid, 1, 1, 1, cfg.act))
        layers.append(conv_bn_act(mid, mid, cfg.kernel, cfg.stride, mid, cfg.act))
        if cfg.se:
            layers.append(SqueezeExcite(mid, cfg.se_ch))
        layers.append(conv_bn_act(mid, cfg.out_ch, 1, 1, 1, None))
        self.body = nn.Sequential(*layers)
        self.residual = cfg.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


def stem(spec: dict[str, Any]) -> nn.Module:
    return conv_bn_act(spec["in_ch"], spec["out_ch"], 3, spec["stride"], 1, "hswish")


class Head(nn.Module):
    """Final 1x1 expansion, global pooling, the 1280-wide feature layer and the classifier."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.expand = conv_bn_act(spec["in_ch"], spec["mid_ch"], 1, 1, 1, "hswish")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature = nn.Linear(spec["mid_ch"], spec["last_ch"])
        self.act = nn.Hardswish()
        self.classifier = nn.Linear(spec["last_ch"], spec["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.pool(self.expand(x)), 1)
        return self.classifier(self.act(self.feature(x)))


def head(spec: dict[str, Any]) -> nn.Module:
    return Head(spec)


class MobileNet(nn.Module):
    """Stem, inverted-residual blocks, head; the stem and head builders are the variant's
    (MobileNetV3's here, MobileNetV2's in `hwnas.models.mbv2`)."""

    def __init__(
        self,
        plan: dict[str, Any],
        make_stem: Callable[[dict[str, Any]], nn.Module],
        make_head: Callable[[dict[str, Any]], nn.Module],
    ) -> None:
        super().__init__()
        self.stem = make_stem(plan["stem"])
        self.blocks = nn.Sequential(*[InvertedResidual(b) for b in plan["blocks"]])
        self.head = make_head(plan["head"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def build_network(plan: dict[str, Any]) -> nn.Module:
    return MobileNet(plan, stem, head)
