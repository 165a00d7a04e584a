"""FBNet-space networks in HW-NAS-Bench's CIFAR layout: the parameter counts are those of
HW-NAS-Bench's own `FBNet_Infer` for the same architectures (checked against its code at
GATECH-EIC/HW-NAS-Bench 393bb8a, not shipped), the shapes follow the dataset, and the
width multiplier keeps every block buildable."""

from __future__ import annotations

import pytest

from hwnas.spaces import get_space

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("key", "params"),
    [
        ("-".join(["k5_e6"] * 22), 3_749_652),
        ("-".join(["k3_e1"] * 22), 1_170_676),
        ("-".join(["skip"] * 22), 780_660),
        ("-".join(["k3_e1_g2", "k5_e1_g2", "k3_e3", "skip"] * 5 + ["k5_e6", "k3_e6"]), 2_113_444),
    ],
)
def test_parameters_match_hw_nas_bench(key: str, params: int) -> None:
    model = get_space("fbnet").build(get_space("fbnet").parse(key), "cifar100")
    assert sum(p.numel() for p in model.parameters()) == params


@pytest.mark.parametrize(
    ("dataset", "shape", "classes"), [("cifar100", (3, 32, 32), 100), ("digits", (1, 8, 8), 10)]
)
def test_output_follows_the_dataset(dataset: str, shape: tuple[int, ...], classes: int) -> None:
    space = get_space("fbnet")
    assert space.input_shape(dataset) == shape
    model = space.build(
        space.parse("-".join(["k3_e1_g2", "skip", "k5_e6"] * 7 + ["k3_e3"])), dataset
    )
    model.eval()
    assert model(torch.zeros(2, *shape)).shape == (2, classes)


def test_scaled_proxy_builds_every_block() -> None:
    from hwnas.models.fbnet import FBNet, layer_shapes

    for op in ("k3_e1_g2", "k5_e1_g2", "skip", "k5_e6"):
        model = FBNet([op] * 22, in_channels=1, classes=10, width=0.25).eval()
        assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 10)
    assert all(c_in % 4 == 0 and c_out % 4 == 0 for c_in, c_out, _ in layer_shapes(0.25))


def test_unknown_dataset_is_refused_with_the_valid_ones() -> None:
    import hwnas

    with pytest.raises(hwnas.UnknownNameError, match="cifar100"):
        get_space("fbnet").build(get_space("fbnet").parse("-".join(["skip"] * 22)), "imagenet")


def test_layers_chain_and_are_among_the_profile_units() -> None:
    """What `hwnas profile --space fbnet` times: stem, 22 blocks, head, each at the shape
    the previous one outputs, and every one of them in the profile's units."""
    import numpy as np

    space = get_space("fbnet")
    arch = space.sample(np.random.default_rng(5))
    layers = space.layers(arch, "digits")
    assert (
        len(layers) == 24 and layers[0][0].startswith("stem") and layers[-1][0].startswith("head")
    )
    units = {u[0] for u in space.profile_units("digits")}
    assert {sig for sig, _, _ in layers} <= units
    x = torch.zeros(1, *layers[0][2])
    for sig, make, shape in layers:
        assert tuple(x.shape[1:]) == shape, sig
        x = make().eval()(x)
    assert x.shape == (1, 10)
