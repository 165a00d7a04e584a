"""MobileNetV2 networks of the `mbv2` space: the ONNX graph runs as the torch network does,
and a profile's units cover every layer of the space's networks."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.spaces import get_space

torch = pytest.importorskip("torch")


def test_onnx_export_matches_torch() -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from hwnas.models.onnx import INPUT_NAME, to_onnx

    space = get_space("mbv2")
    arch = space.parse("v2|w1.3|r0.75|" + "|".join(["k5e4,k7e6"] * 5) + "|k3e5")
    torch.manual_seed(0)
    model = space.build(arch, "cifar10")
    shape = space.arch_input_shape(arch, "cifar10")
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    session = ort.InferenceSession(to_onnx(model, shape), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_profile_units_cover_the_layers_of_sampled_networks() -> None:
    space = get_space("mbv2")
    allowed = [range(len(d.choices)) for d in space.dimensions]
    allowed[0] = allowed[1] = allowed[2] = [0]  # layout pl, width 1, resolution 0.75
    units = {sig for sig, _, _ in space.profile_units("cifar10", allowed)}
    rng = np.random.default_rng(0)
    for _ in range(10):
        genes = list(space.sample(rng).genes)
        genes[:3] = [0, 0, 0]
        sigs = {sig for sig, _, _ in space.layers(space.make(genes), "cifar10")}
        assert sigs <= units
