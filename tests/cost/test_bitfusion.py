"""APQ's BitFusion table (`latency@bitfusion`, `energy@bitfusion`, `bitfusion_cost`) and
HAQ's MobileNetV2 table: shipped unchanged, summed as APQ sums them, refused clearly
outside what they cover."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import numpy as np
import pytest

from hwnas.cost.bitfusion import APQ_HEAD, bitfusion_cost, haq_table, layer_shape, table
from hwnas.errors import EvaluationError, SpecError
from hwnas.spaces import get_space
from hwnas.spaces._mobile import make_divisible

DATA = resources.files("hwnas") / "data" / "quant"


def test_shipped_files_match_the_sha256_in_their_readme() -> None:
    readme = (DATA / "README.md").read_text()
    for name in (
        "apq_bitfusion_lut.json.gz",
        "haq_qmobilenetv2_imagenet100_batch16_latency_table.npy",
    ):
        digest = hashlib.sha256((DATA / name).read_bytes()).hexdigest()
        assert digest in readme, name


def test_table_shape() -> None:
    lut = table()
    assert len(lut) == 6569 and {"head", "tail"} <= lut.keys()
    assert all(set(v) == {"latency", "energy"} for v in lut.values())


def _apq_sum(
    d: list[int], ks: list[int], mid: list[int], bits: list[tuple[int, int]], metric: str
) -> float:
    """APQ's own rule, written from its utils/latency_predictor.py: 21 block slots (5
    stages x 4 + 1), each pw / dw / pw keyed by APQ's stage sizes and channels."""
    lut = table()
    c_in, c_out = [16, 24, 40, 80, 96, 192], [24, 40, 80, 96, 192, 320]
    side_in, side_out = [112, 56, 28, 14, 14, 7], [56, 28, 14, 14, 7, 7]
    total = lut["head"][metric] + lut["tail"][metric]
    for slot in range(21):
        stage, pos = slot // 4, slot % 4
        if pos >= d[stage]:
            continue
        first = pos == 0
        cin = c_in[stage] if first else c_out[stage]
        side = side_in[stage] if first else side_out[stage]
        stride = 2 if first and side_in[stage] != side_out[stage] else 1
        k, m, (w, a) = ks[slot], mid[slot], bits[slot]
        for shape in (
            (cin, m, side, 1, 1, 0, 1),
            (m, m, side, k, stride, k // 2, m),
            (m, c_out[stage], side // stride, 1, 1, 0, 1),
        ):
            total += lut[f"{shape}-W{w}A{a}"][metric]
    return total


@pytest.mark.parametrize("metric", ["latency", "energy"])
def test_sums_as_apq_does(metric: str) -> None:
    space = get_space("mbv2")
    rng = np.random.default_rng(0)
    c_in = [16] + [24] * 4 + [40] * 4 + [80] * 4 + [96] * 4 + [192] * 4
    for _ in range(20):
        d = [int(x) for x in rng.integers(2, 5, 5)] + [1]
        ks = [int(x) for x in rng.choice([3, 5, 7], 21)]
        es = [float(x) for x in rng.choice([4.0, 5.0, 6.0], 21)]
        bits = [
            (int(w), 8 if k == 7 else int(a))
            for w, a, k in zip(rng.choice([4, 6, 8], 21), rng.choice([4, 6, 8], 21), ks)
        ]
        stages = []
        for s in range(6):
            slots = range(4 * s, 4 * s + d[s])
            stages.append(",".join(f"k{ks[i]}e{es[i]:g}" for i in slots))
        arch = space.parse("pl|w1|r1|" + "|".join(stages))
        layers = space.conv_layers(arch, "imagenet")
        per_layer, slot_of_block = [], [4 * s + b for s in range(6) for b in range(d[s])]
        for layer in layers:
            searched = layer.part == "block" and layer.block > 0
            per_layer.append(bits[slot_of_block[layer.block - 1]] if searched else (8, 8))
        mid = [make_divisible(e * c) for e, c in zip(es, c_in)]
        expected = _apq_sum(d, ks, mid, bits, metric)
        assert bitfusion_cost(layers, per_layer, metric) == pytest.approx(expected, rel=1e-12)


def test_fp32_networks_read_at_8_bits() -> None:
    space = get_space("mbv2")
    layers = space.conv_layers(space.parse("apq-min"), "imagenet")
    assert bitfusion_cost(layers) == bitfusion_cost(layers, [(8, 8)] * len(layers))
    four = [(4, 4) if layer.part == "block" and layer.block > 0 else (8, 8) for layer in layers]
    assert bitfusion_cost(layers, four) < bitfusion_cost(layers)


def test_refusals_name_what_is_missing() -> None:
    space = get_space("mbv2")
    v2 = space.conv_layers(space.parse("mobilenetv2"), "imagenet")
    with pytest.raises(
        EvaluationError, match=re.escape("no layer '(144, 32, 28, 1, 1, 0, 1)-W8A8'")
    ):
        bitfusion_cost(v2)
    small = space.conv_layers(space.parse("apq-min"), "cifar10")
    with pytest.raises(EvaluationError, match="has no"):
        bitfusion_cost(small)
    wide = space.conv_layers(
        space.parse("pl|w1.3|r1|" + "|".join(["k3e4,k3e4"] * 5) + "|k3e4"), "imagenet"
    )
    with pytest.raises(EvaluationError, match="has no"):
        bitfusion_cost(wide)
    layers = space.conv_layers(space.parse("apq-max"), "imagenet")
    a4_on_7x7 = [
        (8, 4) if layer.kernel == 7 and layer.part == "block" else (8, 8) for layer in layers
    ]
    with pytest.raises(EvaluationError, match="-W8A4'"):
        bitfusion_cost(layers, a4_on_7x7)
    with pytest.raises(SpecError, match="8/8 bits, not W4A4"):
        bitfusion_cost(layers, [(4, 4)] * len(layers))
    with pytest.raises(SpecError, match="each of W, A in"):
        bitfusion_cost(layers, [(8, 5)] * len(layers))
    with pytest.raises(SpecError, match="bit pairs for"):
        bitfusion_cost(layers, [(8, 8)])
    assert [layer_shape(x) for x in layers[:3]] == list(APQ_HEAD)


def test_haq_table_is_a_plain_array_that_follows_mobilenetv2() -> None:
    """HAQ's 53 rows are MobileNetV2's 53 convolution / linear layers in order: equal
    shapes have equal rows, and latency grows with bits."""
    arr = haq_table()
    space = get_space("mbv2")
    layers = space.conv_layers(space.parse("mobilenetv2"), "imagenet")
    assert arr.shape == (len(layers), 8, 8) == (53, 8, 8)
    shapes = [layer_shape(x) for x in layers]
    for i in range(53):
        for j in range(i):
            if shapes[i] == shapes[j]:
                assert (arr[i] == arr[j]).all(), (i, j)
    assert (np.diff(arr, axis=1) > 0).all() and (np.diff(arr, axis=2) > 0).all()


def test_values_say_when_the_search_builds_another_class_count(three_classes: str) -> None:
    """APQ's table holds ImageNet's 1000-class classifier, whatever the search's data."""
    from hwnas.evaluation import resolve_metric
    from hwnas.metrics import parse_metric
    from hwnas.sources import EvalContext

    space = get_space("mbv2")
    arch, metric = space.parse("apq-min"), parse_metric("latency@bitfusion")
    data = EvalContext(space, "imagenet", data=three_classes)
    (value,) = resolve_metric(data, metric).evaluate([arch])
    assert (value.provenance["classes_tabulated"], value.provenance["classes_searched"]) == (
        1000,
        3,
    )
    (plain,) = resolve_metric(EvalContext(space, "imagenet"), metric).evaluate([arch])
    assert plain.value == value.value and "classes_tabulated" not in plain.provenance
