"""Architecture pictures: NB201 cells as graphs, any other space as a block strip."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from hwnas.report.drawings import DRAWERS, block_strip, draw_architecture, register_drawer
from hwnas.spaces import Dimension, SearchSpace, get_space

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # also proves the markup is well-formed XML


def test_nb201_cell_draws_one_edge_per_op_and_dashes_none() -> None:
    space = get_space("nb201")
    arch = space.parse(
        "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    )
    root = _parse(draw_architecture(space, arch))
    edges = [p for p in root.iter(f"{SVG}path") if "edge" in p.get("class", "")]
    classes = sorted(p.get("class") for p in edges)
    assert classes == sorted(
        [
            "edge op-nor_conv_3x3",
            "edge op-none",
            "edge op-skip_connect",
            "edge op-avg_pool_3x3",
            "edge op-nor_conv_1x1",
            "edge op-none",
        ]
    )
    assert all(p.get("stroke-dasharray") for p in edges if p.get("class") == "edge op-none")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert sorted(t for t in texts if t not in ("in", "1", "2", "out")) == sorted(
        ["3x3", "skip", "pool", "1x1"]
    )
    assert root.find(f"{SVG}title").text == arch.key
    assert len(list(root.iter(f"{SVG}circle"))) == 4


class Blocks(SearchSpace):
    datasets = ("toy",)

    def __init__(self) -> None:
        self.dimensions = (
            Dimension("resolution", (160, 224)),
            Dimension("stage1_depth", (1, 2)),
            Dimension("stage1_block1_kernel", (3, 5, 7)),
            Dimension("stage1_block1_expand", (3, 6)),
            Dimension("stage1_block2_kernel", (3, 5, 7)),
            Dimension("stage1_block2_expand", (3, 6)),
            Dimension("note", ("<script>alert(1)</script>", "&plain")),
        )
        self.name = "blocks-test"

    def key(self, genes: object) -> str:
        return "blocks<" + "-".join(str(g) for g in genes) + ">"  # type: ignore[attr-defined]


def test_block_strip_groups_by_block_and_greys_blocks_past_the_depth() -> None:
    space = Blocks()
    arch = space.make([1, 0, 2, 1, 0, 0, 0])  # depth 1: block 2 is unused
    svg = block_strip(space, arch)
    root = _parse(svg)
    groups = [g for g in root.iter(f"{SVG}g") if "block" in g.get("class", "")]
    labels = [[t.text for t in g.iter(f"{SVG}text")] for g in groups]
    assert ["resolution 224", "note <script>alert(1)</script>"] in labels
    assert ["stage1", "depth 1"] in labels
    assert ["stage1 block1", "kernel 7", "expand 6"] in labels
    inactive = [g for g in groups if "inactive" in g.get("class")]
    assert [[t.text for t in g.iter(f"{SVG}text")] for g in inactive] == [
        ["stage1 block2", "kernel 3", "expand 3"]
    ]
    # hostile choice text and key are escaped, never markup
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_block_strip_wraps_into_rows_within_the_width() -> None:
    space = Blocks()
    svg = block_strip(space, space.make([0, 0, 0, 0, 0, 0, 1]), width=200)
    assert "note &amp;plain" in svg
    root = _parse(svg)
    assert float(root.get("width")) <= 202
    ys = {r.get("y") for r in root.iter(f"{SVG}rect")}
    assert len(ys) > 1


def test_a_registered_drawer_replaces_the_strip() -> None:
    space = Blocks()
    assert draw_architecture(space, space.make([0] * 7)).startswith('<svg class="arch-pic strip"')
    register_drawer("blocks-test")(lambda s, a: "<svg>custom</svg>")
    try:
        assert draw_architecture(space, space.make([0] * 7)) == "<svg>custom</svg>"
    finally:
        DRAWERS._entries.pop("blocks-test")


@pytest.mark.parametrize("name", ["nb201", "mbv3"])
def test_builtin_drawers_are_registered(name: str) -> None:
    assert name in DRAWERS


@pytest.mark.parametrize(
    ("space_name", "key", "layers"),
    [("vit", "e192|coarse|h3m4,h7m2", [(3, 768), (7, 384)]), ("bert", "bert-tiny", [(2, 512)] * 2)],
)
def test_transformers_draw_as_their_layer_stack(
    space_name: str, key: str, layers: list[tuple[int, int]]
) -> None:
    space = get_space(space_name)
    root = _parse(draw_architecture(space, space.parse(key)))
    assert "stack" in root.get("class", "")
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "layer"]
    titles = [g.find(f"{SVG}title").text for g in groups]
    assert titles == [f"layer {i + 1}: {h} heads, MLP {m}" for i, (h, m) in enumerate(layers)]
    blue = [len([r for r in g.iter(f"{SVG}rect") if r.get("fill") == "#2563eb"]) for g in groups]
    assert blue == [h for h, _ in layers]  # one square per head
