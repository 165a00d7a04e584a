"""Elastic MobileNetV3 in the Once-for-All style: per-stage depth, per-block kernel size and
expand ratio, a width multiplier and an input-resolution scale.

The layout is OFA's MobileNetV3-Large (Cai et al., ICLR 2020): a fixed stem and first block,
five elastic stages of 2-4 blocks (24, 40, 80, 112, 160 channels) and a fixed head. The
squeeze-excite and h-swish placement per stage is the paper's (Howard et al., ICCV 2019),
which OFA also uses. OFA's expand ratios are 3/4/6; the paper's MobileNetV3-Large also uses
2.3 and 2.5 (184 and 200 channels for an 80-channel input), so the space offers those too and
the `mobilenetv3-large` preset is a point of it (219M multiply-adds, 5.4M parameters).

`mbv3-tiny` is the same space laid out for 28-32 px inputs (Fashion-MNIST, CIFAR): only the
stem keeps the resolution, so the five stages run at 1/2, 1/4, 1/8, 1/8 and 1/16 of the side
(ImageNet's schedule from the stem on), the width multiplier goes down to 0.5 and the head
narrows with it. At 28 px its networks cost 2-44M multiply-adds where `mbv3`'s cost 15-210M:
a supernet of it trains on a CPU (benchmarks/supernet.py)."""

from __future__ import annotations

from typing import Any, ClassVar

from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture
from hwnas.spaces._mobile import (
    SMALL_INPUT,
    BlockConfig,
    ConvShape,
    MobileNetSpace,
    StageSpec,
    make_divisible,
)

KERNELS: tuple[int, ...] = (3, 5, 7)
#: relative to the block's input channels, as in OFA; 2.3 and 2.5 are the paper's
EXPANDS: tuple[float, ...] = (2.3, 2.5, 3.0, 4.0, 6.0)
DEPTHS: tuple[int, ...] = (2, 3, 4)
WIDTHS: tuple[float, ...] = (1.0, 1.2)  # OFA's two supernets
#: mbv3-tiny's width multipliers (MCUNet's small-input spaces go as low as 0.3-0.5)
TINY_WIDTHS: tuple[float, ...] = (0.5, 0.75, 1.0)
#: input side as a fraction of the dataset's native side (224 -> 168/196/224, 32 -> 24/28/32)
RESOLUTIONS: tuple[float, ...] = (0.75, 0.875, 1.0)
MAX_DEPTH = max(DEPTHS)

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

__all__ = [
    "DEPTHS",
    "EXPANDS",
    "KERNELS",
    "MAX_DEPTH",
    "RESOLUTIONS",
    "SMALL_INPUT",
    "STAGES",
    "TINY_WIDTHS",
    "WIDTHS",
    "BlockConfig",
    "MBV3Space",
    "MBV3TinySpace",
    "StageSpec",
    "make_divisible",
]


@register_space("mbv3")
class MBV3Space(MobileNetSpace):
    description = (
        "elastic MobileNetV3 (Once-for-All style): depth 2-4 x 5 stages, kernel 3/5/7, "
        "expand 2.3/2.5/3/4/6, width 1/1.2, resolution 0.75-1 of the input"
    )
    datasets: ClassVar[tuple[str, ...]] = ("imagenet", "cifar10", "cifar100", "fashion-mnist")
    KERNELS = KERNELS
    EXPANDS = EXPANDS
    HEADER = (("width", "w", WIDTHS), ("resolution", "r", RESOLUTIONS))
    STAGE_DEPTHS = (DEPTHS,) * len(STAGES)

    #: named points of the space
    PRESETS: ClassVar[dict[str, str]] = {
        "mobilenetv3-large": (
            "w1|r1|k3e4,k3e3|k5e3,k5e3,k5e3|k3e6,k3e2.5,k3e2.3,k3e2.3|k3e6,k3e6|k5e6,k5e6,k5e6"
        ),
        "ofa-min": "w1|r1|" + "|".join(["k3e3,k3e3"] * len(STAGES)),
        "ofa-max": "w1|r1|" + "|".join([",".join(["k7e6"] * MAX_DEPTH)] * len(STAGES)),
    }

    def _stages(self, arch: Architecture) -> tuple[StageSpec, ...]:
        return STAGES

    def _stem(self, width: float, in_channels: int, small: bool) -> dict[str, Any]:
        stem_ch = make_divisible(STEM_CHANNELS * width)
        return {"in_ch": in_channels, "out_ch": stem_ch, "stride": 1 if small else 2}

    def _first_block(self, width: float, in_ch: int, side: int) -> BlockConfig:
        return BlockConfig(in_ch, in_ch, 3, 1.0, 1, "relu", False, side)

    def _head(self, in_ch: int, side: int, width: float, classes: int) -> dict[str, Any]:
        """Final 1x1 expansion to 960, pooling, a 1280-wide linear layer, the classifier."""
        return {
            "in_ch": in_ch,
            "mid_ch": make_divisible(FINAL_EXPAND * max(1.0, width)),
            "last_ch": make_divisible(LAST_CHANNELS * max(1.0, width)),
            "classes": classes,
            "side": side,
        }

    def _head_signature(self, head: dict[str, Any]) -> str:
        return (
            f"head:i{head['in_ch']}:m{head['mid_ch']}:l{head['last_ch']}"
            f":c{head['classes']}:r{head['side']}"
        )

    def _head_convs(self, head: dict[str, Any]) -> list[ConvShape]:
        return [
            ConvShape("head", -1, head["in_ch"], head["mid_ch"], head["side"], 1, 1, 1),
            ConvShape("head", -1, head["mid_ch"], head["last_ch"], 1, 1, 1, 1),
            ConvShape("head", -1, head["last_ch"], head["classes"], 1, 1, 1, 1),
        ]

    def _models(self) -> Any:
        from hwnas.models import mbv3

        return mbv3


@register_space("mbv3-tiny")
class MBV3TinySpace(MBV3Space):
    description = (
        "elastic MobileNetV3 laid out for 28-32 px inputs (2-44M MACs at 28 px): mbv3's "
        "blocks, the stages at 1/2-1/16 of the side, width 0.5/0.75/1"
    )
    datasets: ClassVar[tuple[str, ...]] = ("cifar10", "cifar100", "fashion-mnist")
    HEADER = (("width", "w", TINY_WIDTHS), ("resolution", "r", RESOLUTIONS))
    SMALL_INPUT_KEEP = 0
    PRESETS: ClassVar[dict[str, str]] = {
        "min": "w0.5|r0.75|" + "|".join(["k3e2.3,k3e2.3"] * len(STAGES)),
        "max": "w1|r1|" + "|".join([",".join(["k7e6"] * MAX_DEPTH)] * len(STAGES)),
        "mobilenetv3-large": MBV3Space.PRESETS["mobilenetv3-large"],
    }

    def _head(self, in_ch: int, side: int, width: float, classes: int) -> dict[str, Any]:
        """mbv3's head, 960 and 1280 wide at width 1, narrower below it."""
        return {
            "in_ch": in_ch,
            "mid_ch": make_divisible(FINAL_EXPAND * width),
            "last_ch": make_divisible(LAST_CHANNELS * width),
            "classes": classes,
            "side": side,
        }
