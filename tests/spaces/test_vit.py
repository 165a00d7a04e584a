"""The `vit` space: keys, presets, the patch table, DeiT-Tiny's published counts, counts of
random subnets against a closed-form counter written here, profiling units, and the MCU-fit
search (item 5 of issue 17)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwnas.errors import SpecError, UnknownNameError
from hwnas.spaces import get_space
from hwnas.spaces.vit import HEAD_DIM, MAX_DEPTH, PATCHES, VitSpace


@pytest.fixture(scope="module")
def space() -> VitSpace:
    return get_space("vit")  # type: ignore[return-value]


def test_layers_beyond_the_depth_do_not_change_the_key(space: VitSpace) -> None:
    arch = space.parse("e64|coarse|h1m2,h2m3")
    genes = list(arch.genes)
    genes[3 + 2 * (MAX_DEPTH - 1)] = 5  # a layer the network does not have
    assert space.make(genes) == arch and space.make(genes).genes == arch.genes
    genes[3 + 2] = 5  # its second layer: another network
    assert space.make(genes).key == "e64|coarse|h1m2,h6m3"


def test_keys_round_trip(space: VitSpace) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = space.sample(rng)
        assert space.parse(arch.key) == arch and space.parse(arch.key).genes == arch.genes


def test_presets_are_the_published_shapes(space: VitSpace) -> None:
    assert space.parse("deit-tiny").key == "e192|fine|" + ",".join(["h3m4"] * 12)
    # AutoFormer's Table 1: Tiny embed 192-240, depth 12-14, heads 3-4, MLP 3.5-4;
    # Small embed 320-448, depth 12-14, heads 5-7, MLP 3-4
    assert space.parse("autoformer-tiny-min").key == "e192|fine|" + ",".join(["h3m3.5"] * 12)
    assert space.parse("autoformer-tiny-max").key == "e240|fine|" + ",".join(["h4m4"] * 14)
    assert space.parse("autoformer-small-min").key == "e320|fine|" + ",".join(["h5m3"] * 12)
    assert space.parse("autoformer-small-max").key == "e448|fine|" + ",".join(["h7m4"] * 14)


def test_patch_sizes_follow_the_dataset(space: VitSpace) -> None:
    fine, coarse = space.parse("e64|fine|h1m2"), space.parse("e64|coarse|h1m2")
    got = {d: (space.patch(fine, d), space.patch(coarse, d)) for d in space.datasets}
    assert (
        got
        == PATCHES
        == {
            "fashion-mnist": (4, 7),
            "cifar10": (4, 8),
            "cifar100": (4, 8),
            "imagenet": (16, 32),
        }
    )
    assert space.input_shape("fashion-mnist") == (1, 28, 28)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("e100|fine|h1m2", "embedding"),
        ("e64|medium|h1m2", "fine or coarse"),
        ("e64|fine|h8m2", "heads 8 is not one of"),
        ("e64|fine|h1m5", "mlp ratio 5 is not one of"),
        ("e64|fine|h1", "hHEADSmRATIO"),
        ("e64|fine|" + ",".join(["h1m2"] * 15), "depth must be 1..14"),
        ("e64|h1m2", "expected eEMBED"),
    ],
)
def test_parse_errors(space: VitSpace, text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        space.parse(text)


def test_unknown_preset_lists_the_presets(space: VitSpace) -> None:
    with pytest.raises(UnknownNameError, match="deit-tiny"):
        space.parse("deit-small")


def test_import_does_not_load_torch() -> None:
    code = "import sys, hwnas.spaces.vit; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- counts ---------------------------------------------------------------------------------
def closed_form(space: VitSpace, key: str, dataset: str) -> tuple[int, int, int]:
    """(params, MACs, peak activation elements) of a ViT from its key alone: the formulas
    of ViT / DeiT with AutoFormer's 64-wide heads, and the live tensors of each step."""
    embed_s, level, layers_s = key.split("|")
    e = int(embed_s[1:])
    c, side, _ = space.input_shape(dataset)
    p = PATCHES[dataset][("fine", "coarse").index(level)]
    n = (side // p) ** 2
    t, k = n + 1, {"imagenet": 1000, "cifar100": 100}.get(dataset, 10)
    params = c * p * p * e + e + e + t * e + 2 * e + e * k + k
    macs = n * e * c * p * p + e * k
    peak = max(c * side * side + n * e, 2 * t * e)  # image + patches; patches + tokens
    for layer in layers_s.split(","):
        h, r = layer[1:].split("m")
        a, m = int(h) * HEAD_DIM, round(e * float(r))
        params += 4 * e + 3 * (e * a + a) + a * e + e + e * m + m + m * e + e
        macs += 3 * t * e * a + 2 * t * t * a + t * a * e + 2 * t * e * m
        scores = int(h) * t * t
        peak = max(peak, 2 * t * e + 3 * t * a, t * e + 3 * t * a + scores, 2 * t * e + t * m)
    return params, macs, peak


def _count(space: VitSpace, key: str, dataset: str):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    from hwnas.cost.analytic import count

    arch = space.parse(key)
    with torch.device("meta"):  # shapes only: no weights are initialised
        net = space.build(arch, dataset)
    return count(net, space.arch_input_shape(arch, dataset))


def test_deit_tiny_matches_its_published_counts(space: VitSpace) -> None:
    counts = _count(space, "deit-tiny", "imagenet")
    # timm / DeiT (Touvron et al. 2021): 5.7M parameters, 1.26G multiply-adds at 224
    assert abs(counts.params / 5.7e6 - 1) < 0.03 and counts.params == 5_717_416  # timm's
    assert abs(counts.macs / 1.26e9 - 1) < 0.03
    assert counts.method == "fx"


def test_random_subnets_match_the_closed_form(space: VitSpace) -> None:
    rng = np.random.default_rng(17)
    datasets = space.datasets
    for i in range(20):
        arch, dataset = space.sample(rng), datasets[i % len(datasets)]
        counts = _count(space, arch.key, dataset)
        params, macs, peak = closed_form(space, arch.key, dataset)
        assert (counts.params, counts.macs) == (params, macs), (arch.key, dataset)
        assert counts.peak_activation_elems == peak, (arch.key, dataset)


def test_peak_memory_holds_the_attention_scores(space: VitSpace) -> None:
    # 7 heads over 65 tokens: the 29,575-element score matrix beside q, k, v and the input
    counts = _count(space, "e64|fine|h7m2", "cifar10")
    assert counts.peak_activation_elems == 65 * 64 + 3 * 65 * 7 * 64 + 7 * 65 * 65


def test_flash_counts_every_stored_weight(space: VitSpace) -> None:
    counts = _count(space, "deit-tiny", "imagenet")
    # every parameter is a weight (int8) or a bias / layer-norm affine (int32)
    assert counts.weights + counts.biases == counts.params


# --- profiling --------------------------------------------------------------------------------
def test_layers_are_keyed_by_tokens_dims_heads_and_mlp(space: VitSpace) -> None:
    arch = space.parse("e96|coarse|h2m3,h2m3,h5m4")
    layers = space.layers(arch, "fashion-mnist")
    names = [name for name, _, _ in layers]
    assert names == [
        "vit-embed:i1:d96:p7:t17",
        "vit:t17:d96:h2:m288",
        "vit:t17:d96:h2:m288",
        "vit:t17:d96:h5:m384",
        "vit-head:t17:d96:c10",
    ]
    assert [shape for _, _, shape in layers[1:]] == [(17, 96)] * 4


def test_profile_units_cover_every_layer(space: VitSpace) -> None:
    from hwnas.cost.sampling import allowed_choices

    allowed = allowed_choices(space, {"embed": [64, 96], "heads_*": [1, 2], "mlp_ratio_*": [2]})
    units = {name for name, _, _ in space.profile_units("cifar10", allowed)}
    assert len(units) == 2 * 2 * 2 + 2 * 2 + 2 * 2  # blocks, embeddings, heads
    rng = np.random.default_rng(1)
    for _ in range(20):
        genes = [int(rng.choice(a)) for a in allowed]
        arch = space.make(genes)
        assert {name for name, _, _ in space.layers(arch, "cifar10")} <= units


# --- MCU fit (issue 17, item 5) ---------------------------------------------------------------
def test_a_search_under_an_mcu_budget_returns_networks_that_fit(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    from hwnas.cli import app
    from hwnas.results import load_results

    out = tmp_path / "run"
    args = ["search", "--space", "vit", "--dataset", "fashion-mnist", "-o", "macs:min"]
    args += ["-o", "params:max", "-c", "peak_memory_kb<=320", "-c", "flash_kb<=1024"]
    args += ["--strategy", "random", "--budget", "6", "--seed", "3", "--out", str(out), "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    front = load_results(out).pareto_front()
    assert len(front) > 0, "no network fits"
    assert (front["peak_memory_kb"] <= 320).all() and (front["flash_kb"] <= 1024).all()


def test_evaluate_json_names_the_counts_as_measure_does() -> None:
    """`hwnas evaluate --json` and `hwnas measure --target analytic --json` both give
    `params_M` and `macs_M` (the issue's interface), from the same counter."""
    import json

    from typer.testing import CliRunner

    from hwnas.cli import app

    pytest.importorskip("torch")
    args = ["--space", "vit", "--dataset", "imagenet"]
    evaluated = CliRunner().invoke(app, ["evaluate", "deit-tiny", *args, "--json"])
    measured = CliRunner().invoke(
        app, ["measure", "--arch", "deit-tiny", *args, "--target", "analytic", "--json"]
    )
    assert evaluated.exit_code == 0 and measured.exit_code == 0, evaluated.output
    ev, me = json.loads(evaluated.stdout), json.loads(measured.stdout)
    assert ev["params_M"] == me["params_M"] == 5.717416
    assert ev["macs_M"] == me["macs_M"]
