"""Elastic MobileNetV3 in the Once-for-All style: per-stage depth, per-block kernel size and
expand ratio, a width multiplier and an input-resolution scale.

The layout is OFA's MobileNetV3-Large (Cai et al., ICLR 2020): a fixed stem and first block,
five elastic stages of 2-4 blocks (24, 40, 80, 112, 160 channels) and a fixed head. The
squeeze-excite and h-swish placement per stage is the paper's (Howard et al., ICCV 2019),
which OFA also uses. OFA's expand ratios are 3/4/6; the paper's MobileNetV3-Large also uses
2.3 and 2.5 (184 and 200 channels for an 80-channel input), so the space offers those too and
the `mobilenetv3-large` preset is a point of it (219M multiply-adds, 5.4M parameters)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hwnas.datasets.catalogue import DatasetInfo, dataset_info, head_classes
from hwnas.errors import SpecError, UnknownNameError
from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture, Dimension, LayeredSpace

KERNELS: tuple[int, ...] = (3, 5, 7)
#: relative to the block's input channels, as in OFA; 2.3 and 2.5 are the paper's
EXPANDS: tuple[float, ...] = (2.3, 2.5, 3.0, 4.0, 6.0)
DEPTHS: tuple[int, ...] = (2, 3, 4)
WIDTHS: tuple[float, ...] = (1.0, 1.2)  # OFA's two supernets
#: input side as a fraction of the dataset's native side (224 -> 168/196/224, 32 -> 24/28/32)
RESOLUTIONS: tuple[float, ...] = (0.75, 0.875, 1.0)
MAX_DEPTH = max(DEPTHS)


@dataclass(frozen=True)
class StageSpec:
    channels: int
    stride: int
    act: str  # "relu" | "hswish"
    se: bool


#: the five elastic stages (base widths at multiplier 1.0)
STAGES: tuple[StageSpec, ...] = (
    StageSpec(24, 2, "relu", False),
    StageSpec(40, 2, "relu", True),
    StageSpec(80, 2, "hswish", False),
    StageSpec(112, 1, "hswish", True),
    StageSpec(160, 2, "hswish", True),
)
STEM_CHANNELS = 16
FINAL_EXPAND = 960
LAST_CHANNELS = 1280

#: below this native side the stem and the first elastic stage keep the resolution (as
#: CIFAR adaptations of MobileNets do), so a 32x32 input ends at 4x4 rather than 1x1
SMALL_INPUT = 64


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of 8, never below 90% of the value (MobileNet rule)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


@dataclass(frozen=True)
class BlockConfig:
    """One inverted-residual block, everything that determines its cost."""

    in_ch: int
    out_ch: int
    kernel: int
    expand: float
    stride: int
    act: str
    se: bool
    side: int  # input height = width

    @property
    def mid_ch(self) -> int:
        return make_divisible(self.in_ch * self.expand)

    @property
    def se_ch(self) -> int:
        """Squeeze-excite width: a quarter of the expanded channels, rounded (0 without SE)."""
        return make_divisible(self.mid_ch / 4) if self.se else 0

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.in_ch == self.out_ch

    def signature(self) -> str:
        """A stable string naming the block's cost-relevant configuration (LUT key)."""
        return (
            f"mb:i{self.in_ch}:o{self.out_ch}:k{self.kernel}:e{self.expand:g}:s{self.stride}"
            f":{self.act}:se{int(self.se)}:r{self.side}"
        )


def _fmt(x: float) -> str:
    return f"{x:g}"


_BLOCK_RE = re.compile(r"^k(\d+)e([\d.]+)$")


@register_space("mbv3")
class MBV3Space(LayeredSpace):
    description = (
        "elastic MobileNetV3 (Once-for-All style): depth 2-4 x 5 stages, kernel 3/5/7, "
        "expand 2.3/2.5/3/4/6, width 1/1.2, resolution 0.75-1 of the input"
    )
    datasets: ClassVar[tuple[str, ...]] = ("imagenet", "cifar10", "cifar100", "fashion-mnist")

    #: named points of the space
    PRESETS: ClassVar[dict[str, str]] = {
        "mobilenetv3-large": (
            "w1|r1|k3e4,k3e3|k5e3,k5e3,k5e3|k3e6,k3e2.5,k3e2.3,k3e2.3|k3e6,k3e6|k5e6,k5e6,k5e6"
        ),
        "ofa-min": "w1|r1|" + "|".join(["k3e3,k3e3"] * len(STAGES)),
        "ofa-max": "w1|r1|" + "|".join([",".join(["k7e6"] * MAX_DEPTH)] * len(STAGES)),
    }

    def __init__(self) -> None:
        dims = [Dimension("width", WIDTHS), Dimension("resolution", RESOLUTIONS)]
        dims += [Dimension(f"depth_{s}", DEPTHS) for s in range(len(STAGES))]
        for s in range(len(STAGES)):
            for b in range(MAX_DEPTH):
                dims.append(Dimension(f"kernel_{s}_{b}", KERNELS))
                dims.append(Dimension(f"expand_{s}_{b}", EXPANDS))
        self.dimensions = tuple(dims)

    # --- genes ------------------------------------------------------------------------
    @staticmethod
    def _block_gene(stage: int, block: int) -> int:
        """Index of a block's kernel gene (its expand gene follows)."""
        return 2 + len(STAGES) + 2 * (stage * MAX_DEPTH + block)

    def canonical(self, genes: Sequence[int]) -> tuple[int, ...]:
        """Blocks beyond a stage's depth do not exist: their genes are reset to 0."""
        out = [int(g) for g in genes]
        for s in range(len(STAGES)):
            depth = DEPTHS[out[2 + s]]
            for b in range(depth, MAX_DEPTH):
                i = self._block_gene(s, b)
                out[i] = out[i + 1] = 0
        return tuple(out)

    def key(self, genes: Sequence[int]) -> str:
        """`w1|r1|k3e4,k3e3|...`: width, resolution scale, then each stage's blocks."""
        parts = [f"w{_fmt(WIDTHS[genes[0]])}", f"r{_fmt(RESOLUTIONS[genes[1]])}"]
        for s in range(len(STAGES)):
            blocks = []
            for b in range(DEPTHS[genes[2 + s]]):
                i = self._block_gene(s, b)
                blocks.append(f"k{KERNELS[genes[i]]}e{_fmt(EXPANDS[genes[i + 1]])}")
            parts.append(",".join(blocks))
        return "|".join(parts)

    def parse(self, text: str) -> Architecture:
        """A key (`w1|r1|k3e4,k3e3|...`) or a preset name (`mobilenetv3-large`)."""
        text = str(text).strip()
        if text in self.PRESETS:
            text = self.PRESETS[text]
        elif "|" not in text:
            raise UnknownNameError("mbv3 preset", text, self.PRESETS)
        parts = text.split("|")
        if len(parts) != 2 + len(STAGES):
            raise SpecError(
                f"mbv3 architecture {text!r}: expected width|resolution|{len(STAGES)} stages "
                f"separated by '|', got {len(parts)} parts"
            )
        genes = [0] * len(self.dimensions)
        genes[0] = _choice(text, "width", parts[0], "w", WIDTHS)
        genes[1] = _choice(text, "resolution", parts[1], "r", RESOLUTIONS)
        for s, stage in enumerate(parts[2:]):
            blocks = [b.strip() for b in stage.split(",")]
            if len(blocks) not in DEPTHS:
                raise SpecError(
                    f"mbv3 architecture {text!r}: stage {s} has {len(blocks)} blocks; "
                    f"depth must be one of {DEPTHS}"
                )
            genes[2 + s] = DEPTHS.index(len(blocks))
            for b, block in enumerate(blocks):
                m = _BLOCK_RE.match(block)
                if not m:
                    raise SpecError(
                        f"mbv3 architecture {text!r}: block {block!r} is not kKeE (e.g. k3e6)"
                    )
                i = self._block_gene(s, b)
                genes[i] = _choice(text, "kernel", m.group(1), "", KERNELS)
                genes[i + 1] = _choice(text, "expand", m.group(2), "", EXPANDS)
        return self.make(genes)

    # --- structure --------------------------------------------------------------------
    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        """(channels, side, side) of the input at resolution scale 1."""
        return self._dataset(dataset).input_shape

    def _dataset(self, dataset: str) -> DatasetInfo:
        return dataset_info(self.check_dataset(dataset))

    def arch_input_shape(self, arch: Architecture, dataset: str) -> tuple[int, int, int]:
        """The input the architecture takes: the dataset's side times its resolution gene."""
        info = self._dataset(dataset)
        scaled = round(info.side * RESOLUTIONS[arch.genes[1]])
        return (info.channels, scaled, scaled)

    def plan(self, arch: Architecture, dataset: str, classes: int | None = None) -> dict[str, Any]:
        """The network as data: stem, blocks (`BlockConfig`), head with `classes` outputs
        (default: the dataset's); the builder and the profiler's lookup table both read it,
        so they cannot disagree."""
        info = self._dataset(dataset)
        in_channels, classes = info.channels, head_classes(dataset, classes)
        _, side, _ = self.arch_input_shape(arch, dataset)
        small = info.side <= SMALL_INPUT
        width = WIDTHS[arch.genes[0]]
        stem_ch = make_divisible(STEM_CHANNELS * width)
        stem_stride = 1 if small else 2
        side_after_stem = _out_side(side, stem_stride)
        blocks = [BlockConfig(stem_ch, stem_ch, 3, 1.0, 1, "relu", False, side_after_stem)]
        cur_ch, cur_side = stem_ch, side_after_stem
        for s, stage in enumerate(STAGES):
            out_ch = make_divisible(stage.channels * width)
            for b in range(DEPTHS[arch.genes[2 + s]]):
                i = self._block_gene(s, b)
                stride = stage.stride if b == 0 else 1
                if small and s == 0:
                    stride = 1
                blk = BlockConfig(
                    cur_ch,
                    out_ch,
                    KERNELS[arch.genes[i]],
                    EXPANDS[arch.genes[i + 1]],
                    stride,
                    stage.act,
                    stage.se,
                    cur_side,
                )
                blocks.append(blk)
                cur_ch, cur_side = out_ch, _out_side(cur_side, stride)
        head_mid = make_divisible(FINAL_EXPAND * max(1.0, width))
        head_last = make_divisible(LAST_CHANNELS * max(1.0, width))
        return {
            "input": (in_channels, side, side),
            "stem": {"in_ch": in_channels, "out_ch": stem_ch, "stride": stem_stride},
            "blocks": blocks,
            "head": {
                "in_ch": cur_ch,
                "mid_ch": head_mid,
                "last_ch": head_last,
                "classes": classes,
                "side": cur_side,
            },
        }

    def quant_blocks(self) -> tuple[str, ...]:
        """The stem, the fixed first block, every elastic block (`S_B`) and the head."""
        staged = [f"{s}_{b}" for s in range(len(STAGES)) for b in range(MAX_DEPTH)]
        return ("stem", "first", *staged, "head")

    def quant_modules(self, arch: Architecture) -> dict[str, str]:
        """Blocks as `build` names them: `blocks.I` counts the blocks that exist."""
        out = {"stem": "stem", "first": "blocks.0"}
        index = 1
        for s in range(len(STAGES)):
            for b in range(DEPTHS[arch.genes[2 + s]]):
                out[f"{s}_{b}"] = f"blocks.{index}"
                index += 1
        out["head"] = "head"
        return out

    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        """A `torch.nn.Module` (eval mode) for the dataset's input, with `classes` outputs
        (default: the dataset's)."""
        from hwnas.models.mbv3 import build_network

        return build_network(self.plan(arch, dataset, classes)).eval()

    def layers(self, arch: Architecture, dataset: str) -> list[tuple[str, Any, tuple[int, ...]]]:
        """(signature, module factory, input shape) of each part that a latency lookup table
        measures separately: the stem, every block, the head."""
        plan = self.plan(arch, dataset)
        c, h, _ = plan["input"]
        stem, head = plan["stem"], plan["head"]
        out: list[tuple[str, Any, tuple[int, ...]]] = [
            (
                f"stem:i{stem['in_ch']}:o{stem['out_ch']}:s{stem['stride']}:r{h}",
                lambda: _models().stem(stem),
                (c, h, h),
            )
        ]
        for blk in plan["blocks"]:
            shape = (blk.in_ch, blk.side, blk.side)
            out.append((blk.signature(), lambda b=blk: _models().InvertedResidual(b), shape))
        out.append(
            (
                (
                    f"head:i{head['in_ch']}:m{head['mid_ch']}:l{head['last_ch']}"
                    f":c{head['classes']}:r{head['side']}"
                ),
                lambda: _models().head(head),
                (head["in_ch"], head["side"], head["side"]),
            )
        )
        return out

    def profile_units(
        self, dataset: str, allowed: Sequence[Sequence[int]] | None = None
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """Every distinct `layers` entry for a dataset, each once: the lookup table a profile
        measures. `allowed` (choice indices per dimension) restricts it to a sub-space.
        Blocks after a stage's first are alike whatever their position, so two positions per
        stage cover the space."""
        allowed = allowed or [range(len(d.choices)) for d in self.dimensions]
        units: dict[str, tuple[str, Any, tuple[int, ...]]] = {}
        for w in allowed[0]:
            for r in allowed[1]:
                for s in range(len(STAGES)):
                    depth = max(DEPTHS[d] for d in allowed[2 + s])
                    for b in range(min(2, depth)):
                        i = self._block_gene(s, b)
                        for k in allowed[i]:
                            for e in allowed[i + 1]:
                                genes = [int(a[0]) for a in allowed]
                                genes[0], genes[1] = w, r
                                genes[2 + s] = DEPTHS.index(depth)
                                genes[i], genes[i + 1] = k, e
                                for unit in self.layers(self.make(genes), dataset):
                                    units.setdefault(unit[0], unit)
        return list(units.values())


def _models() -> Any:
    from hwnas.models import mbv3

    return mbv3


def _out_side(side: int, stride: int) -> int:
    return (side - 1) // stride + 1


def _choice(text: str, what: str, token: str, prefix: str, choices: Sequence[Any]) -> int:
    token = token.strip()
    if prefix:
        if not token.startswith(prefix):
            raise SpecError(
                f"mbv3 architecture {text!r}: {what} {token!r} must start with {prefix!r}"
            )
        token = token[len(prefix) :]
    try:
        value = float(token)
    except ValueError:
        raise SpecError(f"mbv3 architecture {text!r}: {what} {token!r} is not a number") from None
    for i, c in enumerate(choices):
        if abs(float(c) - value) < 1e-9:
            return i
    raise SpecError(
        f"mbv3 architecture {text!r}: {what} {_fmt(value)} is not one of "
        f"{', '.join(_fmt(c) for c in choices)}"
    )
