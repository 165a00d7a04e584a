"""The `bert` space: keys, presets, the sequence length taken from the dataset, published
BERT sizes, counts of random subnets against a closed-form counter written here, profiling
units, and search on costs plus the user's own quality labels."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwnas.errors import SpecError, UnknownNameError
from hwnas.spaces import get_space
from hwnas.spaces.bert import HEAD_DIM, MAX_LAYERS, BertSpace

VOCAB = 30522


@pytest.fixture(scope="module")
def space() -> BertSpace:
    return get_space("bert")  # type: ignore[return-value]


def test_layers_beyond_the_depth_do_not_change_the_key(space: BertSpace) -> None:
    arch = space.parse("d128|h2f512,h4f1024")
    genes = list(arch.genes)
    genes[2 + 2 * (MAX_LAYERS - 1)] = 3
    assert space.make(genes) == arch and space.make(genes).genes == arch.genes


def test_keys_round_trip(space: BertSpace) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = space.sample(rng)
        assert space.parse(arch.key) == arch and space.parse(arch.key).genes == arch.genes


def test_sequence_length_is_the_datasets(space: BertSpace) -> None:
    assert space.input_shape("seq128") == (128,)
    assert space.input_shape("seq512") == (512,)
    with pytest.raises(UnknownNameError, match="seq128"):
        space.input_shape("cifar10")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("d100|h2f512,h2f512", "hidden"),
        ("d128|h3f512,h2f512", "heads 3 is not one of"),
        ("d128|h2f500,h2f512", "ffn 500 is not one of"),
        ("d128|h2f512", "1 layers; expected 2..12"),
        ("d128|h2,h2f512", "hHEADSfFFN"),
        ("d128|h2f512|h2f512", "expected dHIDDEN"),
    ],
)
def test_parse_errors(space: BertSpace, text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        space.parse(text)


def test_unknown_preset_lists_the_presets(space: BertSpace) -> None:
    with pytest.raises(UnknownNameError, match="bert-base"):
        space.parse("bert-large")


def test_import_does_not_load_torch() -> None:
    code = "import sys, hwnas.spaces.bert; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- counts ---------------------------------------------------------------------------------
def closed_form(key: str, tokens: int, classes: int = 2) -> tuple[int, int, int]:
    """(params, MACs, peak activation elements) of a BERT encoder from its key alone: the
    formulas of BERT with 64-wide heads, and the live tensors of each step (post-norm)."""
    hidden_s, layers_s = key.split("|")
    d, t = int(hidden_s[1:]), tokens
    params = VOCAB * d + t * d + 2 * d + d * d + d + d * classes + classes
    macs = d * d + d * classes
    peak = 2 * t * d  # the embeddings' LayerNorm: its input and output
    for layer in layers_s.split(","):
        h, f = (int(v) for v in layer[1:].split("f"))
        a = h * HEAD_DIM
        params += 3 * (d * a + a) + a * d + d + 2 * d + d * f + f + f * d + d + 2 * d
        macs += 3 * t * d * a + 2 * t * t * a + t * a * d + 2 * t * d * f
        peak = max(peak, t * d + 3 * t * a + h * t * t, 2 * t * d + t * a, 2 * t * d + t * f)
    return params, macs, peak


def _count(space: BertSpace, key: str, dataset: str):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    from hwnas.cost.analytic import count

    arch = space.parse(key)
    with torch.device("meta"):  # shapes only: no weights are initialised
        net = space.build(arch, dataset)
    return count(net, space.arch_input_shape(arch, dataset))


@pytest.mark.parametrize(
    ("preset", "published"),
    # Turc et al. 2019 (google-research/bert's compact models) and BERT-Base (Devlin et
    # al.), whose tables hold 512 positions and 2 segments where these hold 128 and none
    [("bert-tiny", 4.4e6), ("bert-mini", 11.3e6), ("bert-small", 29.1e6), ("bert-base", 110e6)],
)
def test_presets_are_the_published_sizes(space: BertSpace, preset: str, published: float) -> None:
    assert abs(_count(space, preset, "seq128").params / published - 1) < 0.03


def test_random_subnets_match_the_closed_form(space: BertSpace) -> None:
    rng = np.random.default_rng(17)
    for i in range(20):
        arch = space.sample(rng)
        dataset, tokens = ("seq128", 128) if i % 2 else ("seq512", 512)
        counts = _count(space, arch.key, dataset)
        params, macs, peak = closed_form(arch.key, tokens)
        assert (counts.params, counts.macs) == (params, macs), (arch.key, dataset)
        assert counts.peak_activation_elems == peak, (arch.key, dataset)


def test_layers_are_keyed_by_tokens_dims_heads_and_ffn(space: BertSpace) -> None:
    names = [name for name, _, _ in space.layers(space.parse("bert-tiny"), "seq128")]
    assert names == [
        "bert-embed:v30522:t128:d128",
        "bert:t128:d128:h2:f512",
        "bert:t128:d128:h2:f512",
        "bert-head:t128:d128:c2",
    ]


def test_profile_units_cover_every_layer(space: BertSpace) -> None:
    from hwnas.cost.sampling import allowed_choices

    allowed = allowed_choices(space, {"hidden": [128, 256], "heads_*": [2, 4], "ffn_*": [512]})
    units = {name for name, _, _ in space.profile_units("seq128", allowed)}
    assert len(units) == 2 * 2 + 2 + 2
    rng = np.random.default_rng(1)
    for _ in range(20):
        arch = space.make([int(rng.choice(a)) for a in allowed])
        assert {name for name, _, _ in space.layers(arch, "seq128")} <= units


def test_the_users_own_labels_give_the_quality(tmp_path: Path) -> None:
    """Text quality is out of reach offline: the user's labels train the predictor that a
    search on `accuracy` and costs uses (`--quality predictor:LABELS.csv`)."""
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    from hwnas.cli import app

    labels = tmp_path / "labels.csv"
    labels.write_text('arch,accuracy\n"d128|h2f512,h2f1024",0.61\n"d128|h4f512,h2f512",0.63\n')
    args = ["evaluate", "bert-tiny", "--space", "bert", "--dataset", "seq128", "--json"]
    args += ["--quality", f"predictor:{labels}", "-m", "accuracy", "-m", "macs"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert 0.5 < metrics["accuracy"]["value"] < 0.7
    assert metrics["accuracy"]["provenance"]["kind"] == "predictor"
    assert metrics["macs"]["value"] == pytest.approx(58.736896)


def test_data_dependent_proxies_refuse_token_inputs(space: BertSpace) -> None:
    pytest.importorskip("torch")
    from hwnas.quality.proxies import proxy_batch

    with pytest.raises(SpecError, match="data-free proxies"):
        proxy_batch("digits", space.input_shape("seq128"))
