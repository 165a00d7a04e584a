"""MobileNetV2 networks in plain PyTorch, built from a plan of `hwnas.spaces.mbv2`: the
paper's layers (Sandler et al., CVPR 2018; torchvision's reference), ReLU6 everywhere but
after the projections, no squeeze-excite, a 1x1 convolution to the last width before
pooling and one linear classifier. The inverted-residual block is MobileNetV3's builder's
(`hwnas.models.mbv3`), which reads the activation from the plan."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hwnas.models.mbv3 import InvertedResidual, MobileNet, conv_bn_act

__all__ = ["InvertedResidual", "build_network", "head", "stem"]


def stem(spec: dict[str, Any]) -> nn.Module:
    return conv_bn_act(spec["in_ch"], spec["out_ch"], 3, spec["stride"], 1, "relu6")


class Head(nn.Module):
    """1x1 convolution to the last width, global pooling, the classifier."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.expand = conv_bn_act(spec["in_ch"], spec["last_ch"], 1, 1, 1, "relu6")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(spec["last_ch"], spec["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.expand(x)), 1))


def head(spec: dict[str, Any]) -> nn.Module:
    return Head(spec)


def build_network(plan: dict[str, Any]) -> nn.Module:
    return MobileNet(plan, stem, head)
