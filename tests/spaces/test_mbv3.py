"""The elastic MobileNetV3 space: keys, presets, structure and the paper's counts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hwnas.errors import SpecError, UnknownNameError
from hwnas.spaces import get_space
from hwnas.spaces.mbv3 import DEPTHS, MAX_DEPTH, STAGES, MBV3Space


@pytest.fixture(scope="module")
def space() -> MBV3Space:
    return get_space("mbv3")  # type: ignore[return-value]


def test_inactive_blocks_do_not_change_the_key(space: MBV3Space) -> None:
    arch = space.parse("ofa-min")  # depth 2 everywhere: blocks 2 and 3 of each stage unused
    genes = list(arch.genes)
    i = space._block_gene(0, MAX_DEPTH - 1)
    genes[i], genes[i + 1] = 2, 4
    other = space.make(genes)
    assert other == arch and other.key == arch.key and other.genes == arch.genes
    genes[space._block_gene(0, 1)] = 2  # an active block: a different network
    assert space.make(genes) != arch


def test_keys_round_trip(space: MBV3Space) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = space.sample(rng)
        assert space.parse(arch.key) == arch
        assert space.parse(arch.key).genes == arch.genes


def test_presets(space: MBV3Space) -> None:
    large = space.parse("mobilenetv3-large")
    assert large.key.startswith("w1|r1|k3e4,k3e3|k5e3,k5e3,k5e3|k3e6,k3e2.5,k3e2.3,k3e2.3|")
    depths = [DEPTHS[g] for g in large.genes[2 : 2 + len(STAGES)]]
    assert depths == [2, 3, 4, 2, 3]
    assert len(space.parse("ofa-max").key.split("|")[2].split(",")) == MAX_DEPTH


@pytest.mark.parametrize(
    "text",
    [
        "w1|r1|k3e3",
        "w2|r1|" + "|".join(["k3e3,k3e3"] * 5),
        "w1|r1|k4e3,k3e3|" + "|".join(["k3e3,k3e3"] * 4),
        "w1|r1|k3e3|" + "|".join(["k3e3,k3e3"] * 4),
        "w1|r1|k3x3,k3e3|" + "|".join(["k3e3,k3e3"] * 4),
    ],
)
def test_parse_errors(space: MBV3Space, text: str) -> None:
    with pytest.raises(SpecError):
        space.parse(text)


def test_unknown_preset_lists_the_presets(space: MBV3Space) -> None:
    with pytest.raises(UnknownNameError, match="mobilenetv3-large"):
        space.parse("mobilenetv4")


def test_import_does_not_load_torch() -> None:
    code = "import sys, hwnas; from hwnas.spaces import get_space; get_space('mbv3').parse('ofa-min'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_mobilenetv3_large_matches_the_paper(space: MBV3Space) -> None:
    """Howard et al. 2019, Table 3: 219M multiply-adds, 5.4M parameters at 224."""
    pytest.importorskip("torch")
    from hwnas.cost.analytic import count

    arch = space.parse("mobilenetv3-large")
    counts = count(space.build(arch, "imagenet"), space.arch_input_shape(arch, "imagenet"))
    assert counts.macs == pytest.approx(219e6, rel=0.03)
    assert counts.params == pytest.approx(5.4e6, rel=0.03)
    assert counts.params == 5_483_032  # torchvision's mobilenet_v3_large, to the parameter


@pytest.mark.parametrize(
    ("dataset", "shape", "classes"),
    [
        ("cifar10", (3, 32, 32), 10),
        ("cifar100", (3, 32, 32), 100),
        ("fashion-mnist", (1, 28, 28), 10),
    ],
)
def test_builds_for_small_inputs(
    space: MBV3Space, dataset: str, shape: tuple, classes: int
) -> None:
    torch = pytest.importorskip("torch")
    arch = space.parse("ofa-min")
    assert space.input_shape(dataset) == shape
    net = space.build(arch, dataset)
    with torch.no_grad():
        out = net(torch.zeros((2, *space.arch_input_shape(arch, dataset))))
    assert tuple(out.shape) == (2, classes)


def test_resolution_gene_scales_the_input(space: MBV3Space) -> None:
    arch = space.parse("w1.2|r0.75|" + "|".join(["k3e3,k3e3"] * 5))
    assert space.arch_input_shape(arch, "imagenet") == (3, 168, 168)
    assert space.arch_input_shape(arch, "cifar10") == (3, 24, 24)


def test_profile_units_cover_every_layer(space: MBV3Space) -> None:
    units = {sig for sig, _, _ in space.profile_units("cifar10")}
    rng = np.random.default_rng(1)
    for _ in range(30):
        arch = space.sample(rng)
        assert {sig for sig, _, _ in space.layers(arch, "cifar10")} <= units


def test_layers_and_profile_units_follow_the_datas_classes(space: MBV3Space) -> None:
    """A profile for 3-class data timed the 10-class head: `layers` took no classes."""
    torch = pytest.importorskip("torch")
    arch = space.parse("mobilenetv3-large")
    ten, three = space.layers(arch, "cifar10"), space.layers(arch, "cifar10", classes=3)
    assert [s for s, _, _ in three[:-1]] == [s for s, _, _ in ten[:-1]]  # the head only
    assert ten[-1][0] == "head:i160:m960:l1280:c10:r4"  # profiles made before still match
    assert three[-1][0] == "head:i160:m960:l1280:c3:r4"
    _, factory, shape = three[-1]
    with torch.no_grad():
        assert tuple(factory().eval()(torch.zeros(1, *shape)).shape) == (1, 3)
    restrict = [range(len(d.choices)) for d in space.dimensions]
    restrict[0] = restrict[1] = [0]  # one width and one resolution: the heads are few
    units = {s for s, _, _ in space.profile_units("cifar10", restrict, classes=3)}
    default = {s for s, _, _ in space.profile_units("cifar10", restrict)}
    assert units - default and all(s.startswith("head") for s in units ^ default)
    assert all(":c3:" in s for s in units - default)


def test_the_small_input_layout_strides_from_the_first_stage() -> None:
    """mbv3-tiny keeps only the stem at full resolution: at 28 px the stages run at
    14, 7, 4, 4 and 2 px (mbv3: 28, 14, 7, 7, 4), which cuts a network's MACs ~3x."""
    pytest.importorskip("torch")  # counting traces the built network
    from hwnas.cost.targets import analytic_counts

    tiny, full = get_space("mbv3-tiny"), get_space("mbv3")
    arch = tiny.parse("mobilenetv3-large")
    sides = [b.side for b in tiny.plan(arch, "fashion-mnist")["blocks"]]
    assert sides[:2] == [28, 28]  # the fixed first block, then stage 0's first at its input
    assert sides[2] == 14 and sides[-1] == 2
    assert tiny.plan(arch, "fashion-mnist")["head"]["side"] == 2
    assert full.plan(full.parse("mobilenetv3-large"), "fashion-mnist")["head"]["side"] == 4
    macs = {
        name: analytic_counts(tiny, tiny.parse(name), "fashion-mnist").macs / 1e6
        for name in ("min", "max", "mobilenetv3-large")
    }
    assert 1 < macs["min"] < 3 and 35 < macs["max"] < 50
    big = analytic_counts(full, full.parse("mobilenetv3-large"), "fashion-mnist").macs / 1e6
    assert 2.5 < big / macs["mobilenetv3-large"] < 3.5


def test_the_small_input_layouts_head_narrows_with_the_width() -> None:
    tiny = get_space("mbv3-tiny")
    head = tiny.plan(tiny.parse("min"), "cifar10")["head"]
    assert (head["mid_ch"], head["last_ch"]) == (480, 640)
    head = tiny.plan(tiny.parse("max"), "cifar10")["head"]
    assert (head["mid_ch"], head["last_ch"]) == (960, 1280)
    assert "imagenet" not in tiny.datasets  # a 224 px input wants mbv3's layout
