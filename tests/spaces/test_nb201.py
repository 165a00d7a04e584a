from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import SpecError
from hwnas.spaces import get_space
from hwnas.spaces.nb201 import OPS, arch_string, parse_arch_string

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_space_shape() -> None:
    space = get_space("nb201")
    assert len(space.dimensions) == 6 and space.size() == 15_625
    assert all(d.choices == OPS for d in space.dimensions)
    assert sum(1 for _ in space.enumerate()) == 15_625


def test_key_is_the_nb201_string_and_index_is_accepted() -> None:
    space = get_space("nb201")
    arch = space.parse(BEST_C10)
    assert arch.key == BEST_C10
    assert arch.genes == (3, 3, 3, 1, 3, 2)
    assert space.parse("6111") == arch  # the NB201 / NATS-Bench index of the same cell
    assert space.parse("0").key == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
        "skip_connect~2|"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "expected 3 nodes"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "should come from node 0"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "needs 2 input edge"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "not 'op~source'"),
        ("15625", "out of range"),
    ],
)
def test_malformed_strings_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        get_space("nb201").parse(text)


def test_string_round_trip_all_op_combinations() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        ops = tuple(int(x) for x in rng.integers(0, 5, size=6))
        assert parse_arch_string(arch_string(ops)) == ops


def test_opcount_and_path_encodings() -> None:
    space = get_space("nb201")
    arch = space.parse(BEST_C10)
    counts = space.encode([arch], "opcount")[0]
    assert list(counts) == [0, 1, 1, 4, 0]  # none, skip, 1x1, 3x3, pool
    paths = space.encode([arch], "path")[0]
    # input->output paths: 0-3 (skip), 0-1-3, 0-2-3, 0-1-2-3
    assert paths.sum() == 4
    dead = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert space.encode([dead], "path")[0].sum() == 0


def test_live_genes_clear_edges_on_no_input_output_path() -> None:
    from hwnas.spaces.nb201 import live_genes

    # node 1 feeds nothing (its out-edges are none): the conv into it is dead
    assert live_genes((3, 3, 0, 1, 0, 3)) == (0, 3, 0, 1, 0, 3)
    # node 2 receives nothing (its in-edges are none): its conv to the output is dead
    assert live_genes((3, 0, 0, 1, 3, 3)) == (3, 0, 0, 1, 3, 0)
    # no path at all: everything is dead
    assert live_genes((3, 3, 3, 0, 0, 0)) == (0,) * 6
    # a fully live cell is unchanged
    assert live_genes((2, 3, 4, 1, 3, 2)) == (2, 3, 4, 1, 3, 2)


def test_effective_encoding_ignores_dead_edges_and_skips_but_sees_convs() -> None:
    space = get_space("nb201")

    def enc(text: str) -> np.ndarray:
        return space.encode([space.parse(text)], "effective")[0]

    assert enc(BEST_C10).shape == (53,)
    # same live cell, different dead edge into node 1
    a = enc("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    b = enc("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    assert np.array_equal(a, b)
    # a skip before a conv computes the same path sequence as the conv alone
    c = enc("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|")
    d = enc("|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|skip_connect~2|")
    assert np.array_equal(c[:48], d[:48])  # paths and their statistics; op counts differ
    # a 1x1 instead of a 3x3 conv changes it
    e = enc("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|")
    assert not np.array_equal(a, e)
    dead = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert space.encode([dead], "effective")[0][:48].sum() == 0


def test_live_encoding_is_the_one_hot_of_the_effective_cell() -> None:
    space = get_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|none~2|")
    live = space.encode([arch], "live")[0].reshape(6, 5)
    assert list(live.argmax(axis=1)) == [0, 0, 0, 1, 0, 0]  # only the skip 0->3 is live
