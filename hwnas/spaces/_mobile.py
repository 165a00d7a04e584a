"""What the elastic MobileNet spaces (`mbv3`, `mbv2`) share, Once-for-All style: stages of
inverted-residual blocks with an elastic depth, and per block a kernel size and an expand
ratio, after a few header choices (width multiplier, input resolution, ...). A subclass
names its choices and stages and says how its stem, first block and head look; the genes,
keys, plan, layers and profile units are computed here, once for every such space."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hwnas.datasets.catalogue import DatasetInfo, dataset_info, head_classes
from hwnas.errors import SpecError, UnknownNameError
from hwnas.spaces._base import Architecture, Dimension, LayeredSpace, numeric_choice

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
class StageSpec:
    channels: int
    stride: int
    act: str  # "relu" | "relu6" | "hswish"
    se: bool


@dataclass(frozen=True)
class ConvShape:
    """One convolution of a network as per-layer cost tables key it (a linear layer is a
    1x1 convolution on a 1x1 input). `part`: stem | block | head; `block`: the index in the
    plan's blocks (-1 outside them)."""

    part: str
    block: int
    cin: int
    cout: int
    side: int  # input height = width
    kernel: int
    stride: int
    groups: int

    @property
    def padding(self) -> int:
        return self.kernel // 2


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

    def convs(self, index: int) -> list[ConvShape]:
        """The block's convolutions in execution order: expansion (absent at expand 1),
        depthwise, squeeze-excite (on the pooled 1x1 map), projection."""
        mid, out_side = self.mid_ch, _out_side(self.side, self.stride)
        out = []
        if mid != self.in_ch:
            out.append(ConvShape("block", index, self.in_ch, mid, self.side, 1, 1, 1))
        out.append(ConvShape("block", index, mid, mid, self.side, self.kernel, self.stride, mid))
        if self.se:
            out.append(ConvShape("block", index, mid, self.se_ch, 1, 1, 1, 1))
            out.append(ConvShape("block", index, self.se_ch, mid, 1, 1, 1, 1))
        out.append(ConvShape("block", index, mid, self.out_ch, out_side, 1, 1, 1))
        return out


def _fmt(x: float) -> str:
    return f"{x:g}"


def _out_side(side: int, stride: int) -> int:
    return (side - 1) // stride + 1


_BLOCK_RE = re.compile(r"^k(\d+)e([\d.]+)$")


class MobileNetSpace(LayeredSpace):
    """The shared machinery; a subclass sets the class variables below and the hooks
    `_stages`, `_stem`, `_first_block`, `_head`, `_head_signature`, `_head_convs`, `_models`."""

    KERNELS: ClassVar[tuple[int, ...]]
    EXPANDS: ClassVar[tuple[float, ...]]
    #: (dimension name, key prefix, choices) of the key's tokens before the stages; one of
    #: them is named "width" (a multiplier) and one "resolution" (a fraction of the side)
    HEADER: ClassVar[tuple[tuple[str, str, tuple[Any, ...]], ...]]
    #: the depth choices of each stage, in order
    STAGE_DEPTHS: ClassVar[tuple[tuple[int, ...], ...]]
    PRESETS: ClassVar[dict[str, str]] = {}
    #: on inputs up to SMALL_INPUT px the stem and this many elastic stages keep the
    #: resolution (stride 1), the CIFAR adaptation; 0 keeps only the stem's
    SMALL_INPUT_KEEP: ClassVar[int] = 1

    def __init__(self) -> None:
        dims = [Dimension(name, choices) for name, _, choices in self.HEADER]
        dims += [Dimension(f"depth_{s}", d) for s, d in enumerate(self.STAGE_DEPTHS)]
        self._offsets: list[int] = []
        for s, depths in enumerate(self.STAGE_DEPTHS):
            self._offsets.append(len(dims))
            for b in range(max(depths)):
                dims.append(Dimension(f"kernel_{s}_{b}", self.KERNELS))
                dims.append(Dimension(f"expand_{s}_{b}", self.EXPANDS))
        self.dimensions = tuple(dims)

    # --- genes ------------------------------------------------------------------------
    def _block_gene(self, stage: int, block: int) -> int:
        """Index of a block's kernel gene (its expand gene follows)."""
        return self._offsets[stage] + 2 * block

    def _depth(self, genes: Sequence[int], stage: int) -> int:
        return self.STAGE_DEPTHS[stage][genes[len(self.HEADER) + stage]]

    def _header(self, arch: Architecture, name: str) -> Any:
        """The value of a header choice (`width`, `resolution`, ...) of `arch`."""
        i = [h[0] for h in self.HEADER].index(name)
        return self.HEADER[i][2][arch.genes[i]]

    def canonical(self, genes: Sequence[int]) -> tuple[int, ...]:
        """Blocks beyond a stage's depth do not exist: their genes are reset to 0."""
        out = [int(g) for g in genes]
        for s, depths in enumerate(self.STAGE_DEPTHS):
            for b in range(self._depth(out, s), max(depths)):
                i = self._block_gene(s, b)
                out[i] = out[i + 1] = 0
        return tuple(out)

    def key(self, genes: Sequence[int]) -> str:
        """The header tokens (`w1|r1`), then each stage's blocks (`k3e4,k3e3`)."""
        parts = [
            f"{prefix}{_fmt(choices[genes[i]]) if prefix else choices[genes[i]]}"
            for i, (_, prefix, choices) in enumerate(self.HEADER)
        ]
        for s in range(len(self.STAGE_DEPTHS)):
            blocks = []
            for b in range(self._depth(genes, s)):
                i = self._block_gene(s, b)
                blocks.append(f"k{self.KERNELS[genes[i]]}e{_fmt(self.EXPANDS[genes[i + 1]])}")
            parts.append(",".join(blocks))
        return "|".join(parts)

    def parse(self, text: str) -> Architecture:
        """A key or a preset name."""
        text = str(text).strip()
        if text in self.PRESETS:
            text = self.PRESETS[text]
        elif "|" not in text:
            raise UnknownNameError(f"{self.name} preset", text, self.PRESETS)
        parts, nh, n_stages = text.split("|"), len(self.HEADER), len(self.STAGE_DEPTHS)
        if len(parts) != nh + n_stages:
            header = "|".join(name for name, _, _ in self.HEADER)
            raise SpecError(
                f"{self.name} architecture {text!r}: expected {header}|{n_stages} stages "
                f"separated by '|', got {len(parts)} parts"
            )
        genes = [0] * len(self.dimensions)
        for i, (name, prefix, choices) in enumerate(self.HEADER):
            genes[i] = self._choice(text, name, parts[i], prefix, choices)
        for s, stage in enumerate(parts[nh:]):
            blocks = [b.strip() for b in stage.split(",")]
            depths = self.STAGE_DEPTHS[s]
            if len(blocks) not in depths:
                raise SpecError(
                    f"{self.name} architecture {text!r}: stage {s} has {len(blocks)} blocks; "
                    f"depth must be one of {depths}"
                )
            genes[nh + s] = depths.index(len(blocks))
            for b, block in enumerate(blocks):
                m = _BLOCK_RE.match(block)
                if not m:
                    raise SpecError(
                        f"{self.name} architecture {text!r}: block {block!r} is not kKeE "
                        "(e.g. k3e6)"
                    )
                i = self._block_gene(s, b)
                genes[i] = self._choice(text, "kernel", m.group(1), "", self.KERNELS)
                genes[i + 1] = self._choice(text, "expand", m.group(2), "", self.EXPANDS)
        return self.make(genes)

    def _choice(self, text: str, what: str, token: str, prefix: str, choices: Sequence[Any]) -> int:
        token = token.strip()
        where = f"{self.name} architecture {text!r}: {what}"
        if all(isinstance(c, str) for c in choices):
            if token not in choices:
                raise SpecError(f"{where} {token!r} is not one of {', '.join(choices)}")
            return list(choices).index(token)
        if prefix:
            if not token.startswith(prefix):
                raise SpecError(f"{where} {token!r} must start with {prefix!r}")
            token = token[len(prefix) :]
        return numeric_choice(where, token, choices)

    # --- quantisation blocks (hwnas.spaces.quant) ----------------------------------------
    def quant_blocks(self) -> tuple[str, ...]:
        """The stem, the fixed first block, every elastic block (`S_B`) and the head."""
        staged = [f"{s}_{b}" for s, d in enumerate(self.STAGE_DEPTHS) for b in range(max(d))]
        return ("stem", "first", *staged, "head")

    def quant_modules(self, arch: Architecture) -> dict[str, str]:
        """Blocks as `build` names them: `blocks.I` counts the blocks that exist."""
        out = {"stem": "stem", "first": "blocks.0"}
        index = 1
        for s in range(len(self.STAGE_DEPTHS)):
            for b in range(self._depth(arch.genes, s)):
                out[f"{s}_{b}"] = f"blocks.{index}"
                index += 1
        out["head"] = "head"
        return out

    # --- structure --------------------------------------------------------------------
    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        """(channels, side, side) of the input at resolution scale 1."""
        return self._dataset(dataset).input_shape

    def _dataset(self, dataset: str) -> DatasetInfo:
        return dataset_info(self.check_dataset(dataset))

    def arch_input_shape(self, arch: Architecture, dataset: str) -> tuple[int, int, int]:
        """The input the architecture takes: the dataset's side times its resolution gene."""
        info = self._dataset(dataset)
        scaled = round(info.side * self._header(arch, "resolution"))
        return (info.channels, scaled, scaled)

    def _stages(self, arch: Architecture) -> tuple[StageSpec, ...]:
        raise NotImplementedError

    def _stem(self, width: float, in_channels: int, small: bool) -> dict[str, Any]:
        """The stem's spec: `in_ch`, `out_ch`, `stride` (1 on small inputs)."""
        raise NotImplementedError

    def _first_block(self, width: float, in_ch: int, side: int) -> BlockConfig:
        raise NotImplementedError

    def _head(self, in_ch: int, side: int, width: float, classes: int) -> dict[str, Any]:
        raise NotImplementedError

    def _head_signature(self, head: dict[str, Any]) -> str:
        raise NotImplementedError

    def _head_convs(self, head: dict[str, Any]) -> list[ConvShape]:
        raise NotImplementedError

    def _models(self) -> Any:
        """The torch builder module (imported lazily): `stem`, `InvertedResidual`, `head`,
        `build_network`."""
        raise NotImplementedError

    def plan(self, arch: Architecture, dataset: str, classes: int | None = None) -> dict[str, Any]:
        """The network as data: stem, blocks (`BlockConfig`), head with `classes` outputs
        (default: the dataset's); the builder and the profiler's lookup table both read it,
        so they cannot disagree."""
        info = self._dataset(dataset)
        in_channels, classes = info.channels, head_classes(dataset, classes)
        _, side, _ = self.arch_input_shape(arch, dataset)
        small = info.side <= SMALL_INPUT
        width = self._header(arch, "width")
        stem = self._stem(width, in_channels, small)
        cur_side = _out_side(side, stem["stride"])
        blocks = [self._first_block(width, stem["out_ch"], cur_side)]
        cur_ch = blocks[0].out_ch
        for s, stage in enumerate(self._stages(arch)):
            out_ch = make_divisible(stage.channels * width)
            for b in range(self._depth(arch.genes, s)):
                i = self._block_gene(s, b)
                stride = stage.stride if b == 0 else 1
                if small and s < self.SMALL_INPUT_KEEP:
                    stride = 1
                blk = BlockConfig(
                    cur_ch,
                    out_ch,
                    self.KERNELS[arch.genes[i]],
                    self.EXPANDS[arch.genes[i + 1]],
                    stride,
                    stage.act,
                    stage.se,
                    cur_side,
                )
                blocks.append(blk)
                cur_ch, cur_side = out_ch, _out_side(cur_side, stride)
        return {
            "input": (in_channels, side, side),
            "stem": stem,
            "blocks": blocks,
            "head": self._head(cur_ch, cur_side, width, classes),
        }

    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        """A `torch.nn.Module` (eval mode) for the dataset's input, with `classes` outputs
        (default: the dataset's)."""
        return self._models().build_network(self.plan(arch, dataset, classes)).eval()

    def conv_layers(self, arch: Architecture, dataset: str) -> list[ConvShape]:
        """Every convolution and linear layer of the network, in execution order, as the
        shapes per-layer cost tables (`latency@bitfusion`) key; no torch needed."""
        plan = self.plan(arch, dataset)
        _, h, _ = plan["input"]
        stem = plan["stem"]
        out = [ConvShape("stem", -1, stem["in_ch"], stem["out_ch"], h, 3, stem["stride"], 1)]
        for i, blk in enumerate(plan["blocks"]):
            out += blk.convs(i)
        return out + self._head_convs(plan["head"])

    def layers(
        self, arch: Architecture, dataset: str, classes: int | None = None
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """(signature, module factory, input shape) of each part that a latency lookup table
        measures separately: the stem, every block, the head (`classes` outputs)."""
        plan = self.plan(arch, dataset, classes)
        c, h, _ = plan["input"]
        stem, head = plan["stem"], plan["head"]
        models = self._models
        out: list[tuple[str, Any, tuple[int, ...]]] = [
            (
                f"stem:i{stem['in_ch']}:o{stem['out_ch']}:s{stem['stride']}:r{h}",
                lambda: models().stem(stem),
                (c, h, h),
            )
        ]
        for blk in plan["blocks"]:
            shape = (blk.in_ch, blk.side, blk.side)
            out.append((blk.signature(), lambda b=blk: models().InvertedResidual(b), shape))
        out.append(
            (
                self._head_signature(head),
                lambda: models().head(head),
                (head["in_ch"], head["side"], head["side"]),
            )
        )
        return out

    def profile_units(
        self,
        dataset: str,
        allowed: Sequence[Sequence[int]] | None = None,
        classes: int | None = None,
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """Every distinct `layers` entry for a dataset, each once: the lookup table a profile
        measures. `allowed` (choice indices per dimension) restricts it to a sub-space.
        Blocks after a stage's first are alike whatever their position, so two positions per
        stage cover the space."""
        allowed = allowed or [range(len(d.choices)) for d in self.dimensions]
        nh = len(self.HEADER)
        units: dict[str, tuple[str, Any, tuple[int, ...]]] = {}
        for header in itertools.product(*allowed[:nh]):
            for s, depths in enumerate(self.STAGE_DEPTHS):
                depth = max(depths[d] for d in allowed[nh + s])
                for b in range(min(2, depth)):
                    i = self._block_gene(s, b)
                    for k in allowed[i]:
                        for e in allowed[i + 1]:
                            genes = [int(a[0]) for a in allowed]
                            genes[:nh] = header
                            genes[nh + s] = depths.index(depth)
                            genes[i], genes[i + 1] = k, e
                            for unit in self.layers(self.make(genes), dataset, classes):
                                units.setdefault(unit[0], unit)
        return list(units.values())
