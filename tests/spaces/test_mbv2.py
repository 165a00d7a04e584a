"""The elastic MobileNetV2 space: keys, presets, layouts and the paper's counts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hwnas.errors import SpecError, UnknownNameError
from hwnas.spaces import get_space
from hwnas.spaces.mbv2 import MBV2Space


@pytest.fixture(scope="module")
def space() -> MBV2Space:
    return get_space("mbv2")  # type: ignore[return-value]


def test_keys_round_trip(space: MBV2Space) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = space.sample(rng)
        assert space.parse(arch.key) == arch and space.parse(arch.key).genes == arch.genes
        assert arch.key.split("|")[0] in ("pl", "v2") and "," not in arch.key.split("|")[-1]


def test_inactive_blocks_do_not_change_the_key(space: MBV2Space) -> None:
    arch = space.parse("apq-min")
    genes = list(arch.genes)
    i = space._block_gene(0, 3)  # depth 2: the fourth block of stage 0 does not exist
    genes[i], genes[i + 1] = 2, 2
    assert space.make(genes) == arch and space.make(genes).genes == arch.genes


def test_presets(space: MBV2Space) -> None:
    v2 = space.describe(space.parse("mobilenetv2"))
    assert (v2["layout"], v2["width"], v2["resolution"]) == ("v2", 1.0, 1.0)
    plan = space.plan(space.parse("mobilenetv2"), "imagenet")
    blocks = plan["blocks"]
    # the paper's Table 2: 17 bottlenecks, t=1 then t=6, widths 16..320, 1280 at the end
    assert len(blocks) == 17 and blocks[0].expand == 1 and {b.expand for b in blocks[1:]} == {6}
    assert [b.out_ch for b in blocks] == [16] + [24] * 2 + [32] * 3 + [64] * 4 + [96] * 3 + [
        160
    ] * 3 + [320]
    assert plan["stem"]["out_ch"] == 32 and plan["head"]["last_ch"] == 1280
    pl = space.plan(space.parse("apq-max"), "imagenet")["blocks"]
    assert sorted({b.out_ch for b in pl}) == [16, 24, 40, 80, 96, 192, 320]


@pytest.mark.parametrize(
    "text",
    [
        "pl|w1|r1|k3e4",
        "xx|w1|r1|" + "|".join(["k3e4,k3e4"] * 5) + "|k3e4",
        "pl|w1|r1|" + "|".join(["k3e4,k3e4"] * 5) + "|k3e4,k3e4",  # the last stage is 1 block
        "pl|w1|r1|" + "|".join(["k3e3,k3e4"] * 5) + "|k3e4",  # expand 3 is OFA's, not APQ's
        "pl|w1.2|r1|" + "|".join(["k3e4,k3e4"] * 5) + "|k3e4",
    ],
)
def test_parse_errors(space: MBV2Space, text: str) -> None:
    with pytest.raises(SpecError, match="mbv2 architecture"):
        space.parse(text)


def test_unknown_preset_lists_the_presets(space: MBV2Space) -> None:
    with pytest.raises(UnknownNameError, match="mobilenetv2"):
        space.parse("mobilenetv1")


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys; from hwnas.spaces import get_space; s = get_space('mbv2'); "
        "s.conv_layers(s.parse('mobilenetv2'), 'imagenet'); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_mobilenetv2_matches_the_paper(space: MBV2Space) -> None:
    """Sandler et al. 2018, Table 4: 300M multiply-adds, 3.4M parameters at 224; the
    reference implementation (torchvision's mobilenet_v2) has 3,504,872 parameters, batch
    norm included, which the paper's 3.4 rounds down."""
    pytest.importorskip("torch")
    from hwnas.cost.analytic import count

    arch = space.parse("mobilenetv2")
    counts = count(space.build(arch, "imagenet"), space.arch_input_shape(arch, "imagenet"))
    assert counts.macs == pytest.approx(300e6, rel=0.01)
    assert counts.params == 3_504_872
    assert counts.params == pytest.approx(3.4e6, rel=0.035)


@pytest.mark.parametrize("dataset", ["cifar10", "fashion-mnist"])
def test_small_inputs_build(space: MBV2Space, dataset: str) -> None:
    torch = pytest.importorskip("torch")
    arch = space.parse("pl|w1.3|r0.75|" + "|".join(["k5e5,k7e4,k3e6"] * 5) + "|k7e6")
    model = space.build(arch, dataset, classes=7)
    shape = space.arch_input_shape(arch, dataset)
    with torch.no_grad():
        assert tuple(model(torch.zeros(2, *shape)).shape) == (2, 7)
    sigs = [sig for sig, _, _ in space.layers(arch, dataset)]
    assert sigs[0].startswith("stem:") and sigs[-1].startswith("head2:") and len(sigs) == 19
