"""Subnets out of the supernet: the static network `MBV3Space.build` makes, with the
supernet's sliced weights copied in, and batch-norm statistics recalibrated on training
images (the shared running statistics fit no single subnet; OFA and BigNAS recompute them
per subnet before evaluating)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hwnas.spaces._base import Architecture
from hwnas.supernet._elastic import ElasticConvBN, MBV3Supernet


def _copy_conv_bn(
    static: nn.Sequential, elastic: ElasticConvBN, cout: int, cin: int, k: int
) -> None:
    conv, bn = static[0], static[1]
    assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
    conv.weight.copy_(elastic.weight(cout, cin, k))
    for name, tensor in elastic.bn_tensors(cout).items():
        getattr(bn, name).copy_(tensor)


@torch.no_grad()
def extract_subnet(supernet: nn.Module, arch: Architecture) -> nn.Module:
    """The static network of `arch` (exactly `space.build(arch, dataset, classes)`) with the
    supernet's weights and batch-norm statistics for it; in eval mode, on the CPU."""
    if not isinstance(supernet, MBV3Supernet):
        return supernet.extract(arch)  # type: ignore[operator]
    space = supernet.space
    static: Any = space.build(arch, supernet.dataset, supernet.classes)
    plan, pairs = supernet.layout(arch)
    stem = plan["stem"]
    _copy_conv_bn(static.stem, supernet.stem, stem["out_ch"], stem["in_ch"], 3)
    for sblock, (eblock, cfg) in zip(static.blocks, pairs):
        layers = list(sblock.body)
        mid = cfg.mid_ch
        if mid != cfg.in_ch:
            assert eblock.expand is not None
            _copy_conv_bn(layers.pop(0), eblock.expand, mid, cfg.in_ch, 1)
        _copy_conv_bn(layers.pop(0), eblock.depthwise, mid, 1, cfg.kernel)
        if cfg.se:
            assert eblock.se is not None
            se = layers.pop(0)
            for name, tensor in eblock.se.tensors(mid).items():
                se.get_parameter(name).copy_(tensor)
        _copy_conv_bn(layers.pop(0), eblock.project, cfg.out_ch, mid, 1)
        assert not layers, "static block has layers the supernet does not know"
    head = plan["head"]
    _copy_conv_bn(static.head.expand, supernet.head.expand, head["mid_ch"], head["in_ch"], 1)
    for name, tensor in supernet.head.tensors(head["mid_ch"], head["last_ch"]).items():
        static.head.get_parameter(name).copy_(tensor)
    return static.eval()


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module, images: torch.Tensor, batch_size: int = 256, device: str = "auto"
) -> nn.Module:
    """Reset every batch norm's running statistics and recompute them as the exact average
    over `images` (already at the model's input size); returns the model in eval mode."""
    from hwnas.training import batch_indices, resolve_device

    dev = resolve_device(device)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: every batch weighs the same
    model.to(dev).train()
    try:
        for idx in batch_indices(len(images), batch_size):
            model(images[idx].to(dev).contiguous(memory_format=torch.channels_last))
    finally:
        for bn, momentum in zip(bns, saved):
            bn.momentum = momentum
    return model.eval()
