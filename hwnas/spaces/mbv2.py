"""Elastic MobileNetV2 in the Once-for-All / ProxylessNAS layout, the space APQ searched
(Wang et al., CVPR 2020; mit-han-lab/apq @ 428190a): a fixed stem (32 channels, stride 2)
and first block (16 channels, expand 1), five elastic stages of 2-4 blocks and a last stage
of one block, then a 1x1 convolution to 1280 channels and the classifier; ReLU6, no
squeeze-excite. Per block a kernel size 3/5/7 and an expand ratio.

- `layout`: `pl` is ProxylessNAS's stage widths, which OFA's MobileNetV2 supernet and APQ
  use (24, 40, 80, 96, 192, 320); `v2` is MobileNetV2's (24, 32, 64, 96, 160, 320), APQ's
  `base_stage_width='v2'`. Strides 2, 2, 2, 1, 2, 1 in both.
- expand ratios 4, 5, 6: APQ's supernet has ratios 4 to 6 (`expand_ratio_list=[4, 6]`) and
  samples expanded widths in steps of 8 channels in between, so 4, 5 and 6 are on its grid at
  every stage; OFA's 3 is not, and APQ's BitFusion table has no shape for it.
- width 1.0 (MobileNetV2, APQ) or 1.3 (OFA's MobileNetV2 supernet); the last width stays
  1280 up to 1.0, as in the paper. Resolution 0.75-1 of the dataset's side, as `mbv3`.

The `mobilenetv2` preset is the original network (Sandler et al., CVPR 2018): 300M
multiply-adds and 3.50M parameters at 224 (the paper rounds to 3.4M; torchvision's
reference counts 3,504,872, as hwnas does). APQ's BitFusion table
(`latency@bitfusion`) covers the `pl` layout at width 1 and 224 pixels."""

from __future__ import annotations

from typing import Any, ClassVar

from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture
from hwnas.spaces._mobile import (
    BlockConfig,
    ConvShape,
    MobileNetSpace,
    StageSpec,
    make_divisible,
)

KERNELS: tuple[int, ...] = (3, 5, 7)
EXPANDS: tuple[float, ...] = (4.0, 5.0, 6.0)
DEPTHS: tuple[int, ...] = (2, 3, 4)
WIDTHS: tuple[float, ...] = (1.0, 1.3)
RESOLUTIONS: tuple[float, ...] = (0.75, 0.875, 1.0)

_STRIDES = (2, 2, 2, 1, 2, 1)
#: stage widths at multiplier 1.0 by layout (ProxylessNAS / OFA / APQ, and MobileNetV2)
LAYOUTS: dict[str, tuple[StageSpec, ...]] = {
    name: tuple(StageSpec(c, s, "relu6", False) for c, s in zip(widths, _STRIDES))
    for name, widths in (("pl", (24, 40, 80, 96, 192, 320)), ("v2", (24, 32, 64, 96, 160, 320)))
}
STEM_CHANNELS = 32
FIRST_BLOCK_CHANNELS = 16
LAST_CHANNELS = 1280

_V2_BLOCKS = "k3e6,k3e6|k3e6,k3e6,k3e6|k3e6,k3e6,k3e6,k3e6|k3e6,k3e6,k3e6|k3e6,k3e6,k3e6|k3e6"


@register_space("mbv2")
class MBV2Space(MobileNetSpace):
    description = (
        "elastic MobileNetV2 (OFA / ProxylessNAS layout, APQ's space): depth 2-4 x 5 stages "
        "+ 1 block, kernel 3/5/7, expand 4/5/6, width 1/1.3, resolution 0.75-1, stage "
        "widths pl (ProxylessNAS) or v2 (MobileNetV2)"
    )
    datasets: ClassVar[tuple[str, ...]] = ("imagenet", "cifar10", "cifar100", "fashion-mnist")
    KERNELS = KERNELS
    EXPANDS = EXPANDS
    HEADER = (
        ("layout", "", tuple(LAYOUTS)),
        ("width", "w", WIDTHS),
        ("resolution", "r", RESOLUTIONS),
    )
    STAGE_DEPTHS = (DEPTHS,) * 5 + ((1,),)

    #: named points of the space
    PRESETS: ClassVar[dict[str, str]] = {
        "mobilenetv2": f"v2|w1|r1|{_V2_BLOCKS}",
        "apq-min": "pl|w1|r1|" + "|".join(["k3e4,k3e4"] * 5) + "|k3e4",
        "apq-max": "pl|w1|r1|" + "|".join([",".join(["k7e6"] * 4)] * 5) + "|k7e6",
    }

    def _stages(self, arch: Architecture) -> tuple[StageSpec, ...]:
        return LAYOUTS[self._header(arch, "layout")]

    def _stem(self, width: float, in_channels: int, small: bool) -> dict[str, Any]:
        stem_ch = make_divisible(STEM_CHANNELS * width)
        return {"in_ch": in_channels, "out_ch": stem_ch, "stride": 1 if small else 2}

    def _first_block(self, width: float, in_ch: int, side: int) -> BlockConfig:
        out_ch = make_divisible(FIRST_BLOCK_CHANNELS * width)
        return BlockConfig(in_ch, out_ch, 3, 1.0, 1, "relu6", False, side)

    def _head(self, in_ch: int, side: int, width: float, classes: int) -> dict[str, Any]:
        """A 1x1 convolution to the last width, pooling, the classifier."""
        last = make_divisible(LAST_CHANNELS * width) if width > 1.0 else LAST_CHANNELS
        return {"in_ch": in_ch, "last_ch": last, "classes": classes, "side": side}

    def _head_signature(self, head: dict[str, Any]) -> str:
        return f"head2:i{head['in_ch']}:l{head['last_ch']}:c{head['classes']}:r{head['side']}"

    def _head_convs(self, head: dict[str, Any]) -> list[ConvShape]:
        return [
            ConvShape("head", -1, head["in_ch"], head["last_ch"], head["side"], 1, 1, 1),
            ConvShape("head", -1, head["last_ch"], head["classes"], 1, 1, 1, 1),
        ]

    def _models(self) -> Any:
        from hwnas.spaces._models import builder

        return builder("mbv2")
