"""The HAT SuperTransformer spaces: exactly HAT's config choices, canonical keys, and HAT's
published SubTransformer YAML files as architectures (with clear errors for bad files)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from hwnas.errors import SpecError
from hwnas.spaces import get_space
from hwnas.spaces.hat import SubTransformer, read_subtransformer

SUBTRANSFORMERS = Path(str(resources.files("hwnas") / "data" / "hat" / "subtransformers"))
PUBLISHED = sorted(p for p in SUBTRANSFORMERS.glob("*.yml") if "__HAT_" in p.name)
RPI_3_5S = SUBTRANSFORMERS / "wmt14.en-de__HAT_wmt14ende_raspberrypi@3.5s_bleu@25.8.yml"


def test_the_wmt_space_is_hats_space0() -> None:
    space = get_space("hat")
    choices = {d.name: d.choices for d in space.dimensions}
    assert choices["encoder_embed"] == choices["decoder_embed"] == (640, 512)
    assert choices["encoder_layers"] == (6,)
    assert choices["decoder_layers"] == (6, 5, 4, 3, 2, 1)
    for i in range(6):
        assert choices[f"encoder_ffn_{i}"] == choices[f"decoder_ffn_{i}"] == (3072, 2048, 1024)
        assert choices[f"encoder_heads_{i}"] == choices[f"ende_heads_{i}"] == (8, 4)
        assert choices[f"ende_arbitrary_{i}"] == (-1, 1, 2)
    assert len(space.dimensions) == 40
    assert space.datasets == ("wmt14.en-de", "wmt14.en-fr", "wmt19.en-de")
    iwslt = {d.name: d.choices for d in get_space("hat-iwslt").dimensions}
    assert iwslt["encoder_ffn_0"] == (2048, 1024, 512) and iwslt["ende_heads_5"] == (4, 2)


def test_decoder_layers_beyond_the_depth_are_reset() -> None:
    space = get_space("hat")
    rng = np.random.default_rng(0)
    genes = [int(rng.integers(len(d.choices))) for d in space.dimensions]
    genes[[d.name for d in space.dimensions].index("decoder_layers")] = 5
    arch = space.make(genes)  # depth 1: decoder layers 1-5 do not exist
    assert space.config(arch).decoder_layers == 1
    assert arch.key.count(",") == 5  # six encoder layers, one decoder layer
    other = list(genes)
    other[-1] = (other[-1] + 1) % 3  # the last decoder layer's arbitrary attention
    assert space.make(other) == arch


def test_a_published_yaml_file_is_an_architecture() -> None:
    space = get_space("hat")
    arch = space.parse(str(RPI_3_5S))
    assert arch.key == "e512:1024h4,3072h8,3072h4,2048h4,2048h4,2048h8|d512:3072h8e8a1"
    assert space.parse(arch.key) == arch
    cfg = space.config(arch)
    assert cfg.encoder_ffn == (1024, 3072, 3072, 2048, 2048, 2048)
    assert cfg.ende_arbitrary == (-1,)
    # HAT's 10 latency-predictor features (utils.get_config_features)
    assert cfg.hat_features() == pytest.approx([512, 6, 13312 / 6, 16 / 3, 512, 1, 3072, 8, 8, 1])


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.name.split("__")[1][4:-4])
def test_every_published_subtransformer_parses(path: Path) -> None:
    space = get_space("hat-iwslt" if path.name.startswith("iwslt") else "hat")
    arch = space.parse(str(path))
    assert space.parse(arch.key) == arch
    assert space.config(arch) == read_subtransformer(str(path))


def test_there_are_44_published_subtransformers() -> None:
    assert len(PUBLISHED) == 44


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "sub.yml"
    path.write_text(text)
    return str(path)


GOOD = RPI_3_5S.read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1, 2\n", "not valid YAML"),
        ("- 1\n- 2\n", "not a HAT SubTransformer file"),
        ("arch: transformersuper_wmt_en_de\n", "common.yml"),
        (
            GOOD.replace(
                "decoder-layer-num-subtransformer: 1", "decoder-layer-num-subtransformer: x"
            ),
            "'decoder-layer-num-subtransformer' must be an integer",
        ),
        (
            GOOD.replace("[1024, 3072, 3072, 2048, 2048, 2048]", "[1024, 3072]"),
            "'encoder-ffn-embed-dim-all-subtransformer' must list at least 6 integers",
        ),
        (
            GOOD.replace(
                "[1024, 3072, 3072, 2048, 2048, 2048]", "[1000, 3072, 3072, 2048, 2048, 2048]"
            ),
            "encoder layer 0 FFN dim 1000 is not in space 'hat'",
        ),
        (
            GOOD.replace(
                "decoder-arbitrary-ende-attn-all-subtransformer: [-1]",
                "decoder-arbitrary-ende-attn-all-subtransformer: [3]",
            ),
            "decoder layer 0 ende attn 3",
        ),
        (
            GOOD.replace(
                "encoder-embed-dim-subtransformer: 512", "encoder-embed-dim-subtransformer: 768"
            ),
            "encoder embed dim 768",
        ),
    ],
)
def test_a_bad_yaml_file_names_the_file_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SpecError, match="sub.yml") as err:
        get_space("hat").parse(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_yaml_file_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="cannot read"):
        get_space("hat").parse("no/such/subtransformer.yml")


def test_an_iwslt_file_is_outside_the_wmt_space() -> None:
    path = SUBTRANSFORMERS / "iwslt14.de-en__HAT_iwslt14deen_titanxp@45.6ms_bleu@33.4.yml"
    with pytest.raises(SpecError, match="is not in space 'hat'"):
        get_space("hat").parse(str(path))


@pytest.mark.parametrize(
    "text",
    [
        "e512:1024h4|d512:3072h8e8a1",  # five encoder layers missing
        "e512:1024h4,3072h8,3072h4,2048h4,2048h4,2048h8|d512:3072h8e8a4",
        "e512:1024h4,3072h8,3072h4,2048h4,2048h4,2048h8|d512:3072h8",
        "d512:3072h8e8a1|e512:1024h4,3072h8,3072h4,2048h4,2048h4,2048h8",
        "e512:1024h4,3072h8,3072h4,2048h4,2048h4,2048h8|d512:" + ",".join(["3072h8e8a1"] * 7),
    ],
)
def test_a_bad_key_is_a_spec_error(text: str) -> None:
    with pytest.raises(SpecError):
        get_space("hat").parse(text)


def test_subtransformer_is_plain_data() -> None:
    cfg = SubTransformer(512, 640, (1024,) * 6, (4,) * 6, (2048,), (8,), (4,), (2,))
    assert cfg.decoder_layers == 1 and cfg.hat_features()[-1] == 3
