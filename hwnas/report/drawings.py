"""Pictures of architectures as small inline SVGs for reports: NB201 cells as graphs,
transformers (`vit`, `bert`) as their layer stack, any other space as a strip of its
dimensions grouped by block (e.g. `mbv3` subnets: kernel, expand and depth per block). A space gets its own picture with
`@register_drawer("space-name")` on a function `(space, arch) -> svg text`. Every text that
comes from a space is escaped here, so a drawer's output can be inlined as markup."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from typing import Any

from hwnas.registry import Registry
from hwnas.spaces import Architecture, SearchSpace

Drawer = Callable[[SearchSpace, Architecture], str]
DRAWERS: Registry[Drawer] = Registry("architecture drawer")


def register_drawer(space: str) -> Callable[[Drawer], Drawer]:
    """Decorator: the picture of `space`'s architectures in reports."""
    return DRAWERS.register(space)


def draw_architecture(space: SearchSpace, arch: Architecture) -> str:
    """The space's own picture of `arch`, or the generic per-dimension strip."""
    drawer = DRAWERS.get(space.name) if space.name in DRAWERS else block_strip
    return drawer(space, arch)


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


# --- NB201 cells ------------------------------------------------------------------------
#: op -> (short label, colour); `none` is drawn dashed and unlabelled
_NB201_STYLE: dict[str, tuple[str, str]] = {
    "skip_connect": ("skip", "#6b7280"),
    "nor_conv_1x1": ("1x1", "#2563eb"),
    "nor_conv_3x3": ("3x3", "#dc2626"),
    "avg_pool_3x3": ("pool", "#059669"),
}
_NODE_X = (18.0, 92.0, 166.0, 240.0)
_NODE_Y = 76.0
#: how far each edge's curve bends (negative: above the node line)
_BEND = {(1, 0): 0.0, (2, 1): 0.0, (3, 2): 0.0, (2, 0): -58.0, (3, 1): 58.0, (3, 0): -116.0}


@register_drawer("nb201")
def nb201_cell(space: SearchSpace, arch: Architecture) -> str:
    """The cell as a 4-node graph, left (input) to right (output), edges labelled by op
    (`none` edges dashed and unlabelled)."""
    from hwnas.spaces.nb201 import EDGES, OPS

    edges, labels = [], []
    for (dst, src), gene in zip(EDGES, arch.genes):
        op = OPS[gene]
        x0, x1 = _NODE_X[src], _NODE_X[dst]
        mx, bend = (x0 + x1) / 2, _BEND[(dst, src)]
        d = f"M{x0:g},{_NODE_Y:g}Q{mx:g},{_NODE_Y + bend:g} {x1:g},{_NODE_Y:g}"
        if op == "none":
            edges.append(
                f'<path class="edge op-none" d="{d}" stroke="#cbd5e1" stroke-width="1" '
                'stroke-dasharray="3 3"/>'
            )
            continue
        label, colour = _NB201_STYLE.get(op, (op, "#111827"))
        edges.append(f'<path class="edge op-{_attr(op)}" d="{d}" stroke="{colour}"/>')
        ly = _NODE_Y + bend / 2 + (10 if bend > 0 else -4 if bend < 0 else -5)
        labels.append(f'<text x="{mx:g}" y="{ly:g}" fill="{colour}">{_attr(label)}</text>')
    nodes = "".join(f'<circle cx="{x:g}" cy="{_NODE_Y:g}" r="10"/>' for x in _NODE_X)
    names = "".join(
        f'<text x="{x:g}" y="{_NODE_Y + 3.5:g}">{n}</text>'
        for x, n in zip(_NODE_X, ("in", "1", "2", "out"))
    )
    return (
        '<svg class="arch-pic nb201" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 258 120" '
        f'width="258" height="120" role="img"><title>{_attr(arch.key)}</title>'
        f'<g fill="none" stroke-width="2">{"".join(edges)}</g>'
        '<g font-family="sans-serif" font-size="10" text-anchor="middle">'
        f'<g fill="#f8fafc" stroke="#334155" stroke-width="1.2">{nodes}</g>'
        f'<g fill="#334155" font-size="9">{names}</g>'
        f'<g stroke="#fff" stroke-width="3" paint-order="stroke">{"".join(labels)}</g>'
        "</g></svg>"
    )


# --- generic strip, grouped by block ------------------------------------------------------
_INT = re.compile(r"\d+")


def _split(name: str) -> tuple[tuple[int, ...], str, str]:
    """`stage2_block1_kernel` -> ((2, 1), 'stage2 block1', 'kernel'): the group a
    dimension belongs to (the numbers in its name), the group label and the attribute."""
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", name) if t]
    numbered = [t for t in tokens if _INT.search(t)]
    plain = [t for t in tokens if not _INT.search(t)]
    index = tuple(int(n) for t in numbered for n in _INT.findall(t))
    return index, " ".join(numbered), "_".join(plain) or name


def _inactive(groups: dict[tuple[int, ...], dict[str, Any]]) -> set[tuple[int, ...]]:
    """Blocks beyond their stage's depth (OFA-style spaces): `(s,)` groups with a `depth`
    attribute switch off `(s, b)` groups with b past it (0- or 1-based, as the names are)."""
    off: set[tuple[int, ...]] = set()
    for index, attrs in groups.items():
        depth = next((v for k, v in attrs.items() if "depth" in k.lower()), None)
        if len(index) != 1 or not isinstance(depth, (int, float)):
            continue
        blocks = [g for g in groups if len(g) == 2 and g[0] == index[0]]
        if not blocks:
            continue
        first = min(b[1] for b in blocks)
        off |= {b for b in blocks if b[1] - first >= depth}
    return off


def block_strip(space: SearchSpace, arch: Architecture, width: int = 640) -> str:
    """One box per group of dimensions (the numbers in a dimension's name make its group:
    `stage2_block1_kernel` and `stage2_block1_expand` share a box), wrapping rows at
    `width`; a box's shade is the first choice's position among its options; blocks past
    their stage's depth are greyed out."""
    groups: dict[tuple[int, ...], dict[str, Any]] = {}
    labels: dict[tuple[int, ...], str] = {}
    shade: dict[tuple[int, ...], float] = {}
    for dim, gene in zip(space.dimensions, arch.genes):
        index, label, attr = _split(dim.name)
        groups.setdefault(index, {})[attr] = dim.choices[gene]
        labels.setdefault(index, label)
        if index not in shade:
            shade[index] = gene / (len(dim.choices) - 1) if len(dim.choices) > 1 else 0.0
    off = _inactive(groups)
    boxes = []
    for index in sorted(groups, key=lambda g: (len(g) > 0, g)):
        lines = [f"{k} {v}" for k, v in groups[index].items()]
        title = labels[index]
        w = 8 + 6.2 * max(len(s) for s in [title, *lines])
        h = 8 + 12 * (len(lines) + (1 if title else 0))
        boxes.append((index, title, lines, w, h))
    x = y = 2.0
    row_h = right = 0.0
    parts = []
    for index, title, lines, w, h in boxes:
        if x + w > width and x > 2:
            x, y, row_h = 2.0, y + row_h + 6, 0.0
        light = 95 - 40 * shade[index]
        fill = "#f1f5f9" if index in off else f"hsl(215, 70%, {light:.0f}%)"
        ink = "#94a3b8" if index in off else "#0f172a" if light > 68 else "#ffffff"
        state = " inactive" if index in off else ""
        parts.append(
            f'<g class="block{state}"><rect x="{x:g}" y="{y:g}" width="{w:.0f}" height="{h:g}" '
            f'rx="3" fill="{fill}" stroke="#64748b" stroke-width="0.8"/>'
        )
        ty = y + 13
        if title:
            parts.append(
                f'<text x="{x + 4:g}" y="{ty:g}" font-size="10" font-weight="bold" '
                f'fill="{ink}" font-family="sans-serif">{_attr(title)}</text>'
            )
            ty += 12
        for line in lines:
            parts.append(
                f'<text x="{x + 4:g}" y="{ty:g}" font-size="10" fill="{ink}" '
                f'font-family="monospace">{_attr(line)}</text>'
            )
            ty += 12
        parts.append("</g>")
        right = max(right, x + w)
        x += w + 6
        row_h = max(row_h, h)
    total_w, total_h = right + 2, y + row_h + 2
    return (
        f'<svg class="arch-pic strip" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" width="{total_w:.0f}" '
        f'height="{total_h:.0f}" role="img"><title>{_attr(arch.key)}</title>'
        + "".join(parts)
        + "</svg>"
    )


#: the elastic MobileNet spaces draw as their per-block strip (kernel, expand; depth per stage)
register_drawer("mbv3")(block_strip)
register_drawer("mbv3-tiny")(block_strip)
register_drawer("mbv2")(block_strip)


# --- transformers: the layer stack ---------------------------------------------------------
_HEAD_PX, _MLP_PX, _COL_PX = 6.0, 48.0, 10.0


def _stack_layers(space: SearchSpace, arch: Architecture) -> tuple[int, list[tuple[int, float]]]:
    """The width and each layer's (heads, MLP width) of a `vit` or `bert` architecture."""
    d = space.describe(arch)
    width = int(d.get("embed", d.get("hidden", 0)))
    layers = []
    for i in range(int(d.get("depth", d.get("layers", 0)))):
        mlp = width * float(d[f"mlp_ratio_{i}"]) if f"mlp_ratio_{i}" in d else float(d[f"ffn_{i}"])
        layers.append((int(d[f"heads_{i}"]), mlp))
    return width, layers


@register_drawer("vit")
@register_drawer("bert")
def layer_stack(space: SearchSpace, arch: Architecture) -> str:
    """The layer stack left to right: the embedding (its width; the patch level for `vit`),
    one column per layer (a square per 64-wide attention head under a bar as tall as the
    layer's MLP / FFN width, relative to the widest the space allows) and the head."""
    width, layers = _stack_layers(space, arch)
    choices = {d.name: d.choices for d in space.dimensions}
    max_heads = max(choices.get("heads_0", (1,)))
    if "mlp_ratio_0" in choices:
        max_mlp = width * max(choices["mlp_ratio_0"])
    else:
        max_mlp = max(choices.get("ffn_0", (1,)))
    base = 8 + _MLP_PX + 4 + max_heads * (_HEAD_PX + 1)  # the line the columns stand on
    label = [f"d{width}"] + [str(v) for k, v in space.describe(arch).items() if k == "patch"]
    box = 'rx="3" fill="#e2e8f0" stroke="#64748b" stroke-width="0.8"'
    parts = [f'<rect x="2" y="{base - 30:g}" width="44" height="30" {box}/>']
    parts += [
        f'<text x="24" y="{base - 18 + 11 * i:g}" font-size="9" text-anchor="middle" '
        f'font-family="monospace">{_attr(t)}</text>'
        for i, t in enumerate(label)
    ]
    x = 52.0
    for i, (heads, mlp) in enumerate(layers):
        cells = "".join(
            f'<rect x="{x + 2:g}" y="{base - (h + 1) * (_HEAD_PX + 1):g}" width="{_HEAD_PX:g}" '
            f'height="{_HEAD_PX:g}" fill="#2563eb"/>'
            for h in range(heads)
        )
        bar = max(1.0, _MLP_PX * mlp / max_mlp)
        top = base - heads * (_HEAD_PX + 1) - 2
        parts.append(
            f'<g class="layer"><title>layer {i + 1}: {heads} heads, MLP {mlp:g}</title>{cells}'
            f'<rect x="{x + 1:g}" y="{top - bar:g}" width="{_COL_PX - 2:g}" height="{bar:.1f}" '
            f'fill="#f97316"/><text x="{x + _COL_PX / 2:g}" y="{base + 10:g}" font-size="7" '
            f'text-anchor="middle" font-family="sans-serif">{i + 1}</text></g>'
        )
        x += _COL_PX + 4
    parts.append(
        f'<rect x="{x:g}" y="{base - 30:g}" width="30" height="30" {box}/>'
        f'<text x="{x + 15:g}" y="{base - 12:g}" '
        'font-size="9" text-anchor="middle" font-family="sans-serif">head</text>'
    )
    total_w, total_h = x + 34, base + 14
    return (
        f'<svg class="arch-pic stack" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" width="{total_w:.0f}" '
        f'height="{total_h:.0f}" role="img"><title>{_attr(arch.key)}</title>'
        + "".join(parts)
        + "</svg>"
    )
