"""FBNet-space networks in HW-NAS-Bench's CIFAR layout (Wu et al., CVPR 2019; Li et al.,
ICLR 2021, `hw_nas_bench_api/fbnet_models`): a 3x3 stem of 16 channels at stride 1, seven
stages of 1, 4, 4, 4, 4, 4, 1 searchable layers with 16, 24, 32, 64, 112, 184, 352 output
channels and strides 1, 1, 2, 2, 1, 2, 1 (the first layer of a stage takes the stride),
a 1x1 convolution to 1504 channels, global pooling and the classifier.

A layer is one of 9 blocks: an inverted residual (1x1 expansion, kxk depthwise, 1x1
projection, each with batch norm; ReLU after the first two) with kernel 3 or 5 and expand
ratio 1, 3 or 6, the expand-1 ones optionally with 2-group 1x1 convolutions and a channel
shuffle, or `skip` (identity, or a 1x1 convolution where the stride or width changes). The
residual is added where the block keeps shape. `width` scales every channel count (rounded
to a multiple of 4), which the differentiable search uses for a cheaper proxy network on a
CPU; 1.0 is the network HW-NAS-Bench's latency table describes. Importing this module
imports torch; the layout's numbers live in `hwnas.spaces.fbnet`, which needs no torch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnas.spaces.fbnet import HEADER_CHANNELS, STEM_CHANNELS, layer_shapes, scaled


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    )


class ChannelShuffle(nn.Module):
    """ShuffleNet's shuffle: mixes the groups of a grouped 1x1 convolution."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class InvertedResidual(nn.Module):
    def __init__(
        self, c_in: int, c_out: int, stride: int, kernel: int, expand: int, groups: int
    ) -> None:
        super().__init__()
        mid = c_in * expand
        self.expand = conv_bn(c_in, mid, 1, groups=groups)
        self.shuffle = ChannelShuffle(groups) if groups > 1 else nn.Identity()
        self.depthwise = conv_bn(mid, mid, kernel, stride, groups=mid)
        self.project = conv_bn(mid, c_out, 1, groups=groups)
        self.act = nn.ReLU(inplace=True)
        self.residual = c_in == c_out and stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.shuffle(self.act(self.expand(x)))
        out = self.project(self.act(self.depthwise(out)))
        return out + x if self.residual else out


class Skip(nn.Module):
    """Identity where shape is kept, else a 1x1 convolution, batch norm and ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        keep = c_in == c_out and stride == 1
        self.body = (
            nn.Identity() if keep else nn.Sequential(conv_bn(c_in, c_out, 1, stride), nn.ReLU())
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def make_block(op: str, c_in: int, c_out: int, stride: int) -> nn.Module:
    """One layer from its op name (`k3_e1`, `k5_e1_g2`, `k3_e6`, ..., `skip`)."""
    if op == "skip":
        return Skip(c_in, c_out, stride)
    parts = op.split("_")
    try:
        kernel, expand = int(parts[0][1:]), int(parts[1][1:])
        groups = int(parts[2][1:]) if len(parts) > 2 else 1
    except (IndexError, ValueError):
        raise ValueError(f"unknown FBNet op {op!r}") from None
    return InvertedResidual(c_in, c_out, stride, kernel, expand, groups)


class Head(nn.Module):
    """The 1x1 convolution to the header width, pooling and the classifier."""

    def __init__(self, c_in: int, classes: int, width: float) -> None:
        super().__init__()
        header = scaled(HEADER_CHANNELS, width)
        self.conv = nn.Sequential(conv_bn(c_in, header, 1), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(header, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.conv(x)).flatten(1))


def stem(in_channels: int, width: float) -> nn.Sequential:
    return nn.Sequential(
        conv_bn(in_channels, scaled(STEM_CHANNELS, width), 3), nn.ReLU(inplace=True)
    )


class FBNet(nn.Module):
    """One FBNet-space network: `ops` names the block of each of the 22 layers."""

    def __init__(
        self, ops: Sequence[str], in_channels: int, classes: int, width: float = 1.0
    ) -> None:
        super().__init__()
        shapes = layer_shapes(width)
        if len(ops) != len(shapes):
            raise ValueError(f"FBNet takes {len(shapes)} ops, got {len(ops)}")
        self.stem = stem(in_channels, width)
        self.layers = nn.Sequential(*(make_block(op, *s) for op, s in zip(ops, shapes)))
        self.head = Head(shapes[-1][1], classes, width)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x)))


def init_weights(model: nn.Module) -> None:
    """He initialisation for convolutions, unit batch norms, a small classifier."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
