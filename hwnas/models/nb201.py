"""NAS-Bench-201 networks exactly as the benchmark trained them (Dong & Yang, ICLR 2020;
`xautodl.models.cell_infers.tiny_network.TinyNetwork`): a 3x3 conv + BN stem, three stages
of N cells with C, 2C and 4C channels separated by residual reduction blocks, BN-ReLU,
global average pooling and a linear classifier. Importing this module imports torch.

A cell arrives as data, `(destination, source, op name)` per edge (`hwnas.spaces.nb201.cell`
writes it from a genotype), and the classes as a number: this module never imports the
space, which imports it (lazily) to build."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

#: one edge of a cell: (destination node, source node, op name); node 0 is the input
Edge = tuple[int, int, str]


class ReLUConvBN(nn.Sequential):
    """NB201's conv op: ReLU, conv without bias, affine BN with running statistics."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The `none` op: an all-zero tensor of the input's shape (the cell's channels never
    change inside a cell, so no reshaping is needed)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    """One cell edge (stride 1, channels in == out, as in every NB201 cell)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}")


class InferCell(nn.Module):
    """A DAG (4 nodes in NB201): node j sums its edges from earlier nodes; the last node is
    the output."""

    def __init__(self, cell: Sequence[Edge], channels: int) -> None:
        super().__init__()
        self.edges = [(dest, src) for dest, src, _ in cell]
        self.layers = nn.ModuleList(make_op(op, channels) for _, _, op in cell)
        self.output = max(dest for dest, _ in self.edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for dest in range(1, self.output + 1):
            nodes.append(
                sum(  # type: ignore[arg-type]
                    layer(nodes[src])
                    for (d, src), layer in zip(self.edges, self.layers)
                    if d == dest
                )
            )
        return nodes[self.output]


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block: two ReLU-conv-BN 3x3 (the first with stride 2) plus an
    avg-pool + 1x1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class TinyNetwork(nn.Module):
    """The NB201 macro skeleton around one cell (its edges, `Edge`)."""

    def __init__(self, cell: Sequence[Edge], num_classes: int, C: int = 16, N: int = 5) -> None:
        super().__init__()
        self.cell = tuple(cell)
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        cells: list[nn.Module] = []
        c_prev = C
        for stage, c in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                cells.append(ResNetBasicBlock(c_prev, c))
            cells += [InferCell(self.cell, c) for _ in range(N)]
            c_prev = c
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> float:
    """FLOPs of one image in millions, counted as the NB201 table counts them (checked over
    all 15,625 x 3 networks by `benchmarks/nb201_counts.py`): multiply-adds of convolutions
    and linear layers (no bias), kernel^2 per output of an average pool, 2 per element of
    an affine batch norm and 1 per element of a ReLU. Identity, zero and the global pooling
    count nothing. What is left unexplained is a constant of 5,184 (32x32 inputs) or 1,600
    (16x16) FLOPs, under 0.07% of the smallest network."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        per_image = output[0].numel()
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += per_image * kh * kw * module.in_channels // module.groups
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        elif isinstance(module, nn.AvgPool2d):
            k = module.kernel_size
            total += per_image * (k * k if isinstance(k, int) else k[0] * k[1])
        elif isinstance(module, nn.BatchNorm2d):
            total += per_image * (2 if module.affine else 1)
        elif isinstance(module, nn.ReLU):
            total += per_image

    counted = (nn.Conv2d, nn.Linear, nn.AvgPool2d, nn.BatchNorm2d, nn.ReLU)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, counted)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            # on the model's device ("meta" counts without computing); CPU if it has no weights
            device = next(iter(model.parameters()), torch.zeros(0)).device
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total / 1e6


def count_params(model: nn.Module) -> float:
    """Parameters in millions (BN running statistics are buffers, not counted), as NB201."""
    return sum(p.numel() for p in model.parameters()) / 1e6
