"""The networks the spaces build are pinned: state-dict layout, parameter count and the
logits of a seeded input from seeded weights. A refactoring of the builders (or of the plan
they read) that changes a network, even in the order its weights are initialised, fails
here. The numbers were taken from the builders before the spaces and models were decoupled."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from hwnas.spaces import get_space

torch = pytest.importorskip("torch")

_NB201_A = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
_NB201_B = "|nor_conv_1x1~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|skip_connect~1|nor_conv_1x1~2|"
_MBV3_C = "w1.2|r0.875|k5e6,k7e2.3|k3e4,k3e2.5,k5e6|k7e3,k3e6|k5e4,k3e3,k7e6,k3e2.3|k7e6,k5e2.5"


def _fingerprint(model: Any, shape: tuple[int, ...]) -> tuple[str, int, float, float]:
    """(digest of the state-dict names and shapes, parameters, sum and |sum| of the logits
    of two seeded images)."""
    layout = repr([(k, tuple(v.shape)) for k, v in model.state_dict().items()])
    params = sum(p.numel() for p in model.parameters())
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))).double()
    digest = hashlib.sha256(layout.encode()).hexdigest()[:16]
    return digest, params, float(out.sum()), float(out.abs().sum())


def _check(found: tuple[str, int, float, float], expected: tuple[str, int, float, float]) -> None:
    assert found[:2] == expected[:2]
    assert found[2:] == pytest.approx(expected[2:], rel=1e-4, abs=1e-5)


@pytest.mark.parametrize(
    ("space", "text", "dataset", "expected"),
    [
        ("nb201", _NB201_A, "cifar10", ("7f839dbc8651eb54", 587386, 0.129601216, 0.865175696)),
        ("nb201", _NB201_A, "imagenet16", ("d3c7a74de3e2e0b0", 594536, -3.247400006, 16.13122087)),
        ("nb201", _NB201_B, "cifar100", ("7e760aa9ee76b010", 378196, 1.120300522, 20.11823443)),
        (
            "mbv3",
            "mobilenetv3-large",
            "cifar10",
            ("db469f4f3d67f0cf", 4214842, 0.035397473, 0.329684420),
        ),
        (
            "mbv3",
            "ofa-min",
            "fashion-mnist",
            ("e4aba5ed1aa6b8b5", 2143594, -0.087777384, 0.271786953),
        ),
        ("mbv3", _MBV3_C, "cifar100", ("851b738e20a75749", 4524964, -0.371281293, 2.763758035)),
    ],
)
def test_built_networks_are_unchanged(
    space: str, text: str, dataset: str, expected: tuple[str, int, float, float]
) -> None:
    torch.set_num_threads(1)
    sp = get_space(space)
    arch = sp.parse(text)
    torch.manual_seed(0)
    model = sp.build(arch, dataset)
    _check(_fingerprint(model, sp.arch_input_shape(arch, dataset)), expected)


def test_profiled_mbv3_units_are_unchanged() -> None:
    """The stem, blocks and head a latency lookup table measures are built from the same
    plan as the network, and pinned alike."""
    expected = {
        "stem:i3:o16:s1:r32": ("9e9cd6d991c2805b", 464, 1752.413487, 7422.652031),
        "mb:i16:o24:k3:e4:s1:relu:se0:r32": ("29eb76e4444f817c", 3440, -717.5617615, 3307.585591),
        "mb:i160:o160:k5:e6:s1:hswish:se1:r4": (
            "5595e0d2e8f4565f",
            797360,
            20.77241989,
            4122.451104,
        ),
        "head:i160:m960:l1280:c10:r4": ("8b26f28be301c0c9", 1398410, 0.173615285, 0.283885584),
    }
    torch.set_num_threads(1)
    sp = get_space("mbv3")
    units = {
        sig: (factory, shape)
        for sig, factory, shape in sp.layers(sp.parse("mobilenetv3-large"), "cifar10")
    }
    for sig, pinned in expected.items():
        factory, shape = units[sig]
        torch.manual_seed(0)
        _check(_fingerprint(factory(), shape), pinned)
