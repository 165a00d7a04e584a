"""Subnets taken out of the supernet are the space's static networks with sliced weights:
same modules, same outputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hwnas.spaces import get_space
from hwnas.supernet import (
    MBV3Supernet,
    extract_subnet,
    largest_arch,
    load_checkpoint,
    smallest_arch,
    subnet_from_checkpoint,
)

SPACE = get_space("mbv3")


def _archs() -> list:
    """Extremes and random networks of both layouts (the small-input one strides earlier)."""
    out = []
    for name in ("mbv3", "mbv3-tiny"):
        space, rng = get_space(name), np.random.default_rng(3)
        archs = [largest_arch(space), smallest_arch(space), space.sample(rng), space.sample(rng)]
        out += [pytest.param(name, a, id=f"{name}:{a.key[:24]}") for a in archs]
    return out


def _supernet(space: str) -> MBV3Supernet:
    torch.manual_seed(0)
    net = MBV3Supernet("fashion-mnist", space=space).eval()
    with torch.no_grad():  # batch norms that are not the identity, so slicing them matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()
    return net


@pytest.fixture(scope="module")
def supernets() -> dict[str, MBV3Supernet]:
    return {name: _supernet(name) for name in ("mbv3", "mbv3-tiny")}


@pytest.fixture
def supernet(supernets: dict[str, MBV3Supernet], space_name: str) -> MBV3Supernet:
    """The supernet of the space the test's architecture belongs to."""
    return supernets[space_name]


@pytest.mark.parametrize(("space_name", "arch"), _archs())
def test_static_subnet_equals_supernet_forward(
    supernet: MBV3Supernet, space_name: str, arch
) -> None:
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = supernet(x, arch)
        static = extract_subnet(supernet, arch)
        space = get_space(space_name)
        side = space.arch_input_shape(arch, "fashion-mnist")[1]
        got = static(F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False))
    built = space.build(arch, "fashion-mnist")
    assert type(static) is type(built)
    assert {k: v.shape for k, v in static.state_dict().items()} == {
        k: v.shape for k, v in built.state_dict().items()
    }
    assert expected.abs().max() > 1e-3
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=GPU)])
@pytest.mark.parametrize(("space_name", "arch"), _archs())
def test_static_shapes_train_like_slices(
    supernet: MBV3Supernet, space_name: str, arch, device: str
) -> None:
    """Zero-padded weights at the largest shapes (the GPU path): the same logits, gradients
    and batch-norm updates as the slices, in training and in evaluation (on a GPU with TF32
    off: its rounding is not what is compared, cuDNN's own is, hence rtol 1e-4 there)."""
    import copy

    rtol = 1e-5 if device == "cpu" else 1e-4
    x = torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(2)).to(device)
    sliced = copy.deepcopy(supernet).to(device).train()
    padded = copy.deepcopy(supernet).to(device).train()
    with torch.backends.cudnn.flags(allow_tf32=False):
        out_sliced, out_padded = sliced(x, arch), padded(x, arch, static_shapes=True)
    torch.testing.assert_close(out_padded, out_sliced, rtol=rtol, atol=1e-5)
    out_sliced.square().sum().backward()
    out_padded.square().sum().backward()
    for (name, a), b in zip(sliced.named_parameters(), padded.parameters(), strict=True):
        assert (a.grad is None) == (b.grad is None), name
        if a.grad is not None:
            # outside the subnet's slice (exact zeros when sliced) nothing leaks; inside,
            # a gradient that cancels to 0 in one path may be 1e-9 in the other
            leak = b.grad[a.grad == 0]
            assert leak.numel() == 0 or leak.abs().max() <= 1e-6, name
            # summation order differs (and deep batch norms amplify it): relative to
            # the tensor's own scale (a wrong mask would differ by its whole size)
            assert (b.grad - a.grad).abs().max() <= 1e-3 * a.grad.abs().max() + 1e-6, name
    # running statistics: the active channels updated alike, the inactive ones untouched
    for (name, a), b in zip(sliced.named_buffers(), padded.buffers(), strict=True):
        torch.testing.assert_close(b, a, rtol=rtol, atol=1e-6, msg=name)
    assert any(
        not torch.equal(a.cpu(), b)
        for a, b in zip(sliced.buffers(), supernet.buffers(), strict=True)
    )
    sliced.eval()
    padded.eval()
    with torch.no_grad(), torch.backends.cudnn.flags(allow_tf32=False):
        torch.testing.assert_close(
            padded(x, arch, static_shapes=True), sliced(x, arch), rtol=rtol, atol=1e-5
        )


def test_subnet_from_checkpoint_without_calibration_matches_supernet(checkpoint: Path) -> None:
    arch = SPACE.parse("mobilenetv3-large")
    net, prov = subnet_from_checkpoint(checkpoint, arch.key, calib_images=0, device="cpu")
    supernet = load_checkpoint(checkpoint).supernet()
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(net(x), supernet(x, arch), rtol=1e-5, atol=1e-5)
    assert prov["sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert prov["checkpoint"] == str(checkpoint.resolve()) and prov["step"] == 2
    assert prov["arch"] == arch.key and prov["data"] == "digits"
    assert prov["calibration"]["images"] == 0


def test_recalibration_recomputes_batch_norm_statistics(checkpoint: Path) -> None:
    plain, _ = subnet_from_checkpoint(checkpoint, "ofa-min", calib_images=0, device="cpu")
    calibrated, prov = subnet_from_checkpoint(checkpoint, "ofa-min", calib_images=40, device="cpu")
    assert prov["calibration"]["images"] == 40 and prov["calibration"]["from"] == "training split"
    bn_plain = plain.stem[1]
    bn_cal = calibrated.stem[1]
    assert not torch.allclose(bn_plain.running_mean, bn_cal.running_mean)
    # same weights: recalibration touches the statistics only
    torch.testing.assert_close(plain.stem[0].weight, calibrated.stem[0].weight)
    assert not calibrated.training
