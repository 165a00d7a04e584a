"""Elastic vision transformers in the AutoFormer style (Chen et al., ICCV 2021): per network
the embedding dimension, the depth and the patch size; per layer the number of heads and
the MLP ratio. Heads are AutoFormer's fixed 64 wide (q/k/v width = heads x 64, independent
of the embedding), so every layer's weights are leading slices of the largest layer's and a
weight-sharing supernet can slice them (`hwnas.models.vit` builds one layout for all).

The patch size is relative to the dataset, two levels (`fine`, `coarse`):

| dataset | side | fine | coarse |
|---|---|---|---|
| fashion-mnist | 28 | 4 (49 patches) | 7 (16) |
| cifar10, cifar100 | 32 | 4 (64) | 8 (16) |
| imagenet | 224 | 16 (196) | 32 (49) |

Blocks are pre-norm (LayerNorm, attention, residual; LayerNorm, MLP with GELU, residual),
with a class token, a learned position embedding, a final LayerNorm and a linear head, as
ViT / DeiT. The `deit-tiny` preset is DeiT-Tiny (5.7M parameters, 1.26G multiply-adds at
224); `autoformer-{tiny,small}-{min,max}` are the ends of AutoFormer's Tiny and Small
spaces (its Table 1 and microsoft/Cream's `experiments/supernet/supernet-*.yaml`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hwnas.datasets.catalogue import dataset_info, head_classes
from hwnas.errors import SpecError, UnknownNameError
from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture, Dimension, LayeredSpace, numeric_choice
from hwnas.spaces._models import builder

EMBEDS: tuple[int, ...] = (64, 96, 128, 192, 216, 240, 320, 384, 448)
DEPTHS: tuple[int, ...] = tuple(range(1, 15))
PATCH_LEVELS: tuple[str, ...] = ("fine", "coarse")
HEADS: tuple[int, ...] = tuple(range(1, 8))
MLP_RATIOS: tuple[float, ...] = (2.0, 3.0, 3.5, 4.0)
#: AutoFormer's width of one attention head
HEAD_DIM = 64
MAX_DEPTH = max(DEPTHS)
#: patch side per level, by dataset (the table in the module docstring)
PATCHES: dict[str, tuple[int, int]] = {
    "fashion-mnist": (4, 7),
    "cifar10": (4, 8),
    "cifar100": (4, 8),
    "imagenet": (16, 32),
}


@dataclass(frozen=True)
class VitLayer:
    """One transformer block, everything that determines its cost."""

    tokens: int  # patches + the class token
    embed: int
    heads: int
    mlp: int  # hidden width of the MLP
    head_dim: int = HEAD_DIM  # q, k, v and the attention output are heads x head_dim wide

    def signature(self) -> str:
        """The block's lookup-table key: tokens x dims x heads x MLP width."""
        return f"vit:t{self.tokens}:d{self.embed}:h{self.heads}:m{self.mlp}"


def _fmt(x: float) -> str:
    return f"{x:g}"


_LAYER_RE = re.compile(r"^h(\d+)m([\d.]+)$")
_EMBED_RE = re.compile(r"^e(\d+)$")


@register_space("vit")
class VitSpace(LayeredSpace):
    description = (
        "elastic vision transformer (AutoFormer style): embed 64-448, depth 1-14, patch "
        "fine/coarse, per layer heads 1-7 (x64) and MLP ratio 2/3/3.5/4"
    )
    datasets: ClassVar[tuple[str, ...]] = tuple(PATCHES)

    #: named points of the space (deit-tiny and AutoFormer's at imagenet, patch 16)
    PRESETS: ClassVar[dict[str, str]] = {
        "deit-tiny": "e192|fine|" + ",".join(["h3m4"] * 12),
        "autoformer-tiny-min": "e192|fine|" + ",".join(["h3m3.5"] * 12),
        "autoformer-tiny-max": "e240|fine|" + ",".join(["h4m4"] * 14),
        "autoformer-small-min": "e320|fine|" + ",".join(["h5m3"] * 12),
        "autoformer-small-max": "e448|fine|" + ",".join(["h7m4"] * 14),
    }

    def __init__(self) -> None:
        dims = [
            Dimension("embed", EMBEDS),
            Dimension("depth", DEPTHS),
            Dimension("patch", PATCH_LEVELS),
        ]
        for i in range(MAX_DEPTH):
            dims += [Dimension(f"heads_{i}", HEADS), Dimension(f"mlp_ratio_{i}", MLP_RATIOS)]
        self.dimensions = tuple(dims)

    # --- genes ------------------------------------------------------------------------
    def canonical(self, genes: Sequence[int]) -> tuple[int, ...]:
        """Layers beyond the depth do not exist: their genes are reset to 0."""
        out = [int(g) for g in genes]
        for i in range(DEPTHS[out[1]], MAX_DEPTH):
            out[3 + 2 * i] = out[4 + 2 * i] = 0
        return tuple(out)

    def key(self, genes: Sequence[int]) -> str:
        """`e192|fine|h3m4,h3m4,...`: embedding, patch level, then each layer (the depth is
        their number)."""
        layers = [
            f"h{HEADS[genes[3 + 2 * i]]}m{_fmt(MLP_RATIOS[genes[4 + 2 * i]])}"
            for i in range(DEPTHS[genes[1]])
        ]
        return f"e{EMBEDS[genes[0]]}|{PATCH_LEVELS[genes[2]]}|{','.join(layers)}"

    def parse(self, text: str) -> Architecture:
        """A key (`e192|fine|h3m4,h3m4`) or a preset name (`deit-tiny`)."""
        text = str(text).strip()
        if text in self.PRESETS:
            text = self.PRESETS[text]
        elif "|" not in text:
            raise UnknownNameError("vit preset", text, self.PRESETS)
        parts = text.split("|")
        if len(parts) != 3:
            raise SpecError(
                f"vit architecture {text!r}: expected eEMBED|fine-or-coarse|layers separated "
                f"by '|', got {len(parts)} parts"
            )
        m = _EMBED_RE.match(parts[0].strip())
        if not m or int(m.group(1)) not in EMBEDS:
            raise SpecError(
                f"vit architecture {text!r}: embedding {parts[0]!r} is not e followed by one "
                f"of {', '.join(map(str, EMBEDS))}"
            )
        patch = parts[1].strip()
        if patch not in PATCH_LEVELS:
            raise SpecError(f"vit architecture {text!r}: patch {patch!r} is not fine or coarse")
        layers = [s.strip() for s in parts[2].split(",")]
        if len(layers) not in DEPTHS:
            raise SpecError(
                f"vit architecture {text!r}: {len(layers)} layers; depth must be 1..{MAX_DEPTH}"
            )
        genes = [EMBEDS.index(int(m.group(1))), DEPTHS.index(len(layers)), 0]
        genes[2] = PATCH_LEVELS.index(patch)
        genes += [0] * (2 * MAX_DEPTH)
        for i, layer in enumerate(layers):
            lm = _LAYER_RE.match(layer)
            if not lm:
                raise SpecError(
                    f"vit architecture {text!r}: layer {layer!r} is not hHEADSmRATIO (e.g. h3m4)"
                )
            genes[3 + 2 * i] = _choice(text, "heads", lm.group(1), HEADS)
            genes[4 + 2 * i] = _choice(text, "mlp ratio", lm.group(2), MLP_RATIOS)
        return self.make(genes)

    # --- structure --------------------------------------------------------------------
    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        return dataset_info(self.check_dataset(dataset)).input_shape

    def patch(self, arch: Architecture, dataset: str) -> int:
        """The patch side of `arch` on `dataset` (the level's entry of `PATCHES`)."""
        return PATCHES[self.check_dataset(dataset)][arch.genes[2]]

    def plan(self, arch: Architecture, dataset: str, classes: int | None = None) -> dict[str, Any]:
        """The network as data (every width computed): the builder and the profiler's lookup
        table both read it, so they cannot disagree."""
        c, side, _ = self.input_shape(dataset)
        patch = self.patch(arch, dataset)
        embed = EMBEDS[arch.genes[0]]
        tokens = (side // patch) ** 2 + 1
        layers = [
            VitLayer(
                tokens,
                embed,
                HEADS[arch.genes[3 + 2 * i]],
                round(embed * MLP_RATIOS[arch.genes[4 + 2 * i]]),
            )
            for i in range(DEPTHS[arch.genes[1]])
        ]
        return {
            "input": (c, side, side),
            "embed": {"in_ch": c, "embed": embed, "patch": patch, "tokens": tokens},
            "layers": layers,
            "head": {"tokens": tokens, "embed": embed, "classes": head_classes(dataset, classes)},
        }

    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        """A `torch.nn.Module` (eval mode) for the dataset's images, with `classes` outputs
        (default: the dataset's)."""
        return builder("vit").build_network(self.plan(arch, dataset, classes)).eval()

    def layers(
        self, arch: Architecture, dataset: str, classes: int | None = None
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """(signature, module factory, input shape) of each part a latency lookup table
        measures separately: the patch embedding, every block (keyed by tokens x dims x
        heads x MLP width), the head (`classes` outputs)."""
        plan = self.plan(arch, dataset, classes)
        emb, head = plan["embed"], plan["head"]
        out: list[tuple[str, Any, tuple[int, ...]]] = [
            (
                f"vit-embed:i{emb['in_ch']}:d{emb['embed']}:p{emb['patch']}:t{emb['tokens']}",
                lambda: builder("vit").PatchEmbed(emb),
                plan["input"],
            )
        ]
        for layer in plan["layers"]:
            shape = (layer.tokens, layer.embed)
            out.append((layer.signature(), lambda b=layer: builder("vit").Block(b), shape))
        out.append(
            (
                f"vit-head:t{head['tokens']}:d{head['embed']}:c{head['classes']}",
                lambda: builder("vit").Head(head),
                (head["tokens"], head["embed"]),
            )
        )
        return out

    def profile_units(
        self,
        dataset: str,
        allowed: Sequence[Sequence[int]] | None = None,
        classes: int | None = None,
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """Every distinct `layers` entry for a dataset, each once. Blocks are alike at every
        position, so the first layer's choices (or the union over allowed layers) cover
        the space: embed x patch x heads x MLP ratio blocks, plus embeddings and heads."""
        allowed = allowed or [range(len(d.choices)) for d in self.dimensions]
        heads = sorted({h for i in range(MAX_DEPTH) for h in allowed[3 + 2 * i]})
        ratios = sorted({r for i in range(MAX_DEPTH) for r in allowed[4 + 2 * i]})
        units: dict[str, tuple[str, Any, tuple[int, ...]]] = {}
        for e in allowed[0]:
            for p in allowed[2]:
                for h in heads:
                    for r in ratios:
                        genes = [int(a[0]) for a in allowed]
                        genes[0], genes[1], genes[2] = e, 0, p
                        genes[3], genes[4] = h, r
                        for unit in self.layers(self.make(genes), dataset, classes):
                            units.setdefault(unit[0], unit)
        return list(units.values())


def _choice(text: str, what: str, token: str, choices: Sequence[Any]) -> int:
    return numeric_choice(f"vit architecture {text!r}: {what}", token, choices)
