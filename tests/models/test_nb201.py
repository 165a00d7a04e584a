"""The NB201 builder reproduces the networks NAS-Bench-201 trained: params and FLOPs of a
seeded sample of architectures match the published table on all three datasets."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import UnknownNameError
from hwnas.spaces import get_space

torch = pytest.importorskip("torch")

from hwnas.models.nb201 import count_flops, count_params
from hwnas.tabular.nb201 import load_frame

DATASETS = ("cifar10", "cifar100", "imagenet16")


def _sample(n: int, seed: int) -> list[int]:
    return sorted(np.random.default_rng(seed).choice(15_625, size=n, replace=False).tolist())


@pytest.mark.parametrize("dataset", DATASETS)
def test_params_and_flops_match_the_table(dataset: str) -> None:
    space = get_space("nb201")
    frame = load_frame()
    torch.set_num_threads(1)
    shape = space.input_shape(dataset)
    for index in _sample(50, seed=201):
        row = frame.iloc[index]
        model = space.build(space.parse(row["arch_str"]), dataset)
        params, flops = count_params(model), count_flops(model, shape)
        assert params == pytest.approx(row[f"{dataset}_params_M"], rel=5e-3), row["arch_str"]
        assert flops == pytest.approx(row[f"{dataset}_flops_M"], rel=5e-3), row["arch_str"]


@pytest.mark.parametrize(
    ("dataset", "shape", "classes"),
    [
        ("cifar10", (3, 32, 32), 10),
        ("cifar100", (3, 32, 32), 100),
        ("imagenet16", (3, 16, 16), 120),
    ],
)
def test_forward_gives_one_logit_per_class(
    dataset: str, shape: tuple[int, int, int], classes: int
) -> None:
    space = get_space("nb201")
    assert space.input_shape(dataset) == shape
    model = space.build(space.parse("6111"), dataset)
    out = model(torch.randn(2, *shape))
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()


def test_all_none_cell_cuts_the_signal() -> None:
    """With every edge `none`, the cells output zeros: the logits do not depend on the input
    (this is why these 341-like networks score chance level in NB201)."""
    space = get_space("nb201")
    arch = space.make([0] * 6)
    model = space.build(arch, "cifar10").eval()
    with torch.no_grad():
        a, b = model(torch.randn(1, 3, 32, 32)), model(torch.randn(1, 3, 32, 32))
    assert torch.allclose(a, b)


def test_conv_ops_are_relu_conv_bn() -> None:
    space = get_space("nb201")
    model = space.build(space.make([3, 2, 4, 1, 0, 3]), "cifar10")
    cell = model.cells[0]
    kinds = [type(layer).__name__ for layer in cell.layers]
    assert kinds == ["ReLUConvBN", "ReLUConvBN", "AvgPool2d", "Identity", "Zero", "ReLUConvBN"]
    conv3 = cell.layers[0]
    assert [type(m).__name__ for m in conv3] == ["ReLU", "Conv2d", "BatchNorm2d"]
    assert conv3[1].kernel_size == (3, 3) and conv3[1].bias is None
    assert len(model.cells) == 17  # 3 x 5 cells + 2 reduction blocks


def test_unknown_dataset_is_a_clear_error() -> None:
    space = get_space("nb201")
    with pytest.raises(UnknownNameError, match="cifar10"):
        space.build(space.make([3] * 6), "mnist")
    with pytest.raises(UnknownNameError):
        space.input_shape("mnist")
