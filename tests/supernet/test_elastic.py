"""Elastic layers: batch norm on a channel slice follows nn.BatchNorm2d's statistics rules."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn

from hwnas.supernet._elastic import ElasticConvBN


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("static", [False, True])
def test_sliced_batch_norm_updates_statistics_like_a_small_batch_norm(
    momentum: float | None, static: bool
) -> None:
    """A 4-of-8-channel slice, trained on two batches, ends with the running statistics of
    a 4-channel nn.BatchNorm2d (momentum None: the cumulative average that recalibration
    uses); the 4 inactive channels keep their initial statistics."""
    torch.manual_seed(0)
    layer = ElasticConvBN(3, 8, 3).train()
    layer.bn.momentum = momentum
    small = nn.Conv2d(3, 4, 3, 1, 1, bias=False)
    small.weight.data = layer.conv.weight.data[:4].clone()
    reference = nn.BatchNorm2d(4, momentum=momentum).train()
    for _ in range(2):
        x = torch.randn(5, 3, 6, 6)
        if static:  # every input channel present (the first `cin` active)
            layer(x, cout=4, kernel=3, stride=1, act=None, cin=3)
        else:
            layer(x, cout=4, kernel=3, stride=1, act=None)
        reference(small(x))
    bn = layer.bn
    assert bn.running_mean is not None and bn.running_var is not None
    torch.testing.assert_close(bn.running_mean[:4], reference.running_mean)
    torch.testing.assert_close(bn.running_var[:4], reference.running_var)
    assert torch.equal(bn.running_mean[4:], torch.zeros(4))
    assert torch.equal(bn.running_var[4:], torch.ones(4))
    assert int(bn.num_batches_tracked) == 2
