"""`NAME+quant`: the quantisation policy as genes of any space that builds networks."""

from __future__ import annotations

import numpy as np
import pytest

import hwnas
from hwnas.config import StudyConfig
from hwnas.errors import HwnasError, SpecError
from hwnas.spaces import get_space
from hwnas.spaces.quant import QuantSpace, QuantSpec
from hwnas.testing import check_space

LARGE = "mobilenetv3-large"


@pytest.mark.parametrize(
    "name", ["mbv3+quant", "mbv3+quant:w=4,8;a=4,8;first=8;last=8", "nb201+quant:w=2,8,32;a=8,16"]
)
def test_quantised_spaces_keep_the_space_contract(name: str) -> None:
    check_space(get_space(name))


def test_networks_of_a_quantised_space_build_and_run() -> None:
    pytest.importorskip("torch")
    check_space(get_space("mbv3+quant"), n=4, networks=True)


def test_the_key_is_the_wrapped_key_then_bits_per_existing_block() -> None:
    space = get_space("mbv3+quant")
    base = get_space("mbv3").parse(LARGE)
    arch = space.parse(LARGE)  # no bits given: the widest of each set
    assert arch.key == f"{base.key}#" + ",".join(["w8a8"] * 17)  # stem, first, 15 blocks, head
    assert space.base_arch(arch) == base
    four = space.parse(f"{LARGE}#w4a8")  # one entry: every block
    assert [b.w for b in space.policy(four)] == [4] * 17
    assert space.parse(four.key) == four and four != arch
    # blocks beyond a stage's depth have no bits: their genes are canonical zeros
    assert len(space.policy(space.parse("ofa-min"))) == 2 + 10 + 1


def test_the_spec_is_canonical_and_fixes_first_and_last_blocks() -> None:
    spec = QuantSpec.parse(" a=8 ; w=8,4,fp32;first=int8")
    assert spec.text() == "w=4,8,32;a=8;first=8"
    space = get_space("mbv3+quant:w=8,4;last=8;first=8")
    assert space.name == "mbv3+quant:w=4,8;a=8;first=8;last=8"
    assert get_space("mbv3+quant:w=4,6,8;a=8").name == "mbv3+quant"  # the default
    policy = space.policy(space.sample(np.random.default_rng(0)))
    assert (policy[0].block, policy[0].w, policy[0].a) == ("stem", 8, 8)
    assert (policy[-1].block, policy[-1].w) == ("head", 8)
    with pytest.raises(SpecError, match="stem weight bits 4 are not one of 8"):
        space.parse(f"{LARGE}#w4a8")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("mbv3+quant:w=9", "bit-width '9' is not one of"),
        ("mbv3+quant:q=1", "part 'q=1' is not w=..."),
        ("mbv3+quant:first=4,8", "first needs one bit-width"),
        ("mbv3+quantum", r"write NAME\+quant"),
        ("nosuch+quant", "unknown space 'nosuch'"),
    ],
)
def test_bad_names_are_clear_errors(name: str, message: str) -> None:
    with pytest.raises(HwnasError, match=message):
        get_space(name)


def test_a_space_that_cannot_build_has_nothing_to_quantise() -> None:
    from hwnas.spaces.quant import quantised_space
    from hwnas.testing._common import TinySpace

    with pytest.raises(HwnasError, match="cannot build networks"):
        quantised_space("tiny+quant", TinySpace())


def test_fbnet_quantises_per_layer() -> None:
    space = get_space("fbnet+quant:w=4,8;a=8")
    assert space.blocks[:2] == ("stem", "layer0") and len(space.blocks) == 24


def test_bad_bits_in_a_key_are_clear_errors() -> None:
    space = get_space("mbv3+quant")
    with pytest.raises(SpecError, match="2 bit entries for 13 blocks"):
        space.parse("ofa-min#w8a8,w4a8")
    with pytest.raises(SpecError, match="not wNaM"):
        space.parse("ofa-min#8bit")


def test_encodings_carry_the_bits() -> None:
    space = get_space("nb201+quant:w=4,8")
    cell = get_space("nb201").sample(np.random.default_rng(0)).key
    a = space.parse(f"{cell}#w8a8")
    b = space.parse(f"{cell}#w4a8")
    for kind in ("onehot", "path"):
        X = space.encode([a, b], kind)
        assert not np.array_equal(X[0], X[1]), kind
    assert space.encode([a], "path").shape[1] > get_space("nb201").encode([a], "path").shape[1]


def test_study_config_folds_the_policy_into_the_space() -> None:
    config = StudyConfig(space="mbv3", quant="w=4,8")
    assert (config.space, config.quant) == ("mbv3+quant:w=4,8", None)
    assert StudyConfig.from_dict(config.to_dict()).space == config.space
    with pytest.raises(SpecError, match="already quantised"):
        StudyConfig(space="mbv3+quant", quant="w=8")
    assert isinstance(hwnas.get_space(config.space), QuantSpace)
