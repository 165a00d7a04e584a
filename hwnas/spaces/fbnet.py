"""The FBNet macro space (Wu et al., CVPR 2019) as HW-NAS-Bench uses it: 22 searchable
layers, each one of 9 blocks (kernel 3/5, expand 1/3/6, grouped 1x1 convolutions, or skip),
9^22 architectures. Costs come from HW-NAS-Bench's per-layer CIFAR-100 latency table;
networks are built in its CIFAR layout (`hwnas.models.fbnet`) for CIFAR-sized inputs, which
is also what the differentiable search (`hwnas dnas`) trains. On a dataset other than
CIFAR-100 the table still describes the CIFAR-100 network (its provenance says so)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar

from hwnas.datasets.catalogue import dataset_info, head_classes
from hwnas.errors import SpecError
from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture, Dimension, LayeredSpace
from hwnas.spaces._models import builder

#: HW-NAS-Bench / HELP op order; the gene of a layer is the op's index here
OPS: tuple[str, ...] = (
    "k3_e1",
    "k3_e1_g2",
    "k3_e3",
    "k3_e6",
    "k5_e1",
    "k5_e1_g2",
    "k5_e3",
    "k5_e6",
    "skip",
)
N_LAYERS = 22
#: HW-NAS-Bench's CIFAR layout (hwnas.models.fbnet builds it): stem, 7 stages, header
STEM_CHANNELS = 16
STAGE_CHANNELS: tuple[int, ...] = (16, 24, 32, 64, 112, 184, 352)
STAGE_LAYERS: tuple[int, ...] = (1, 4, 4, 4, 4, 4, 1)
STAGE_STRIDES: tuple[int, ...] = (1, 1, 2, 2, 1, 2, 1)
HEADER_CHANNELS = 1504


def scaled(channels: int, width: float) -> int:
    """`channels * width` rounded to a multiple of 4 (at least 8): grouped convolutions and
    the channel shuffle need even widths."""
    if width == 1.0:
        return channels
    return max(8, round(channels * width / 4) * 4)


def layer_shapes(width: float = 1.0) -> list[tuple[int, int, int]]:
    """(input channels, output channels, stride) of each of the 22 searchable layers."""
    shapes = []
    c_in = scaled(STEM_CHANNELS, width)
    for c, n, s in zip(STAGE_CHANNELS, STAGE_LAYERS, STAGE_STRIDES):
        c_out = scaled(c, width)
        for i in range(n):
            shapes.append((c_in, c_out, s if i == 0 else 1))
            c_in = c_out
    return shapes


@register_space("fbnet")
class FBNetSpace(LayeredSpace):
    description = "FBNet macro space: 22 layers x 9 blocks (HW-NAS-Bench CIFAR-100 latency table)"
    datasets: ClassVar[tuple[str, ...]] = ("cifar100", "cifar10", "fashion-mnist", "digits")

    def __init__(self) -> None:
        self.dimensions = tuple(Dimension(f"layer_{i}", OPS) for i in range(N_LAYERS))

    def key(self, genes: Sequence[int]) -> str:
        """Op names joined by '-', e.g. `k3_e1-skip-...` (22 of them)."""
        return "-".join(OPS[g] for g in genes)

    def parse(self, text: str) -> Architecture:
        """A key, or HW-NAS-Bench's op index list (`7-8-1-...`, 22 numbers)."""
        text = str(text).strip()
        parts = [p.strip() for p in text.split("-")]
        if len(parts) != N_LAYERS:
            raise SpecError(
                f"fbnet architecture {text!r}: expected {N_LAYERS} ops separated by '-', "
                f"got {len(parts)}"
            )
        genes = []
        for i, part in enumerate(parts):
            if part.isdigit() and int(part) < len(OPS):
                genes.append(int(part))
            elif part in OPS:
                genes.append(OPS.index(part))
            else:
                raise SpecError(
                    f"fbnet architecture {text!r}: layer {i} op {part!r} is not one of "
                    f"{', '.join(OPS)} (or 0..{len(OPS) - 1})"
                )
        return self.make(genes)

    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        """The network in HW-NAS-Bench's CIFAR layout (imports torch)."""
        info = dataset_info(self.check_dataset(dataset))
        ops = [OPS[g] for g in arch.genes]
        return builder("fbnet").FBNet(ops, info.channels, head_classes(dataset, classes))

    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        return dataset_info(self.check_dataset(dataset)).input_shape

    def quant_blocks(self) -> tuple[str, ...]:
        """The stem, each of the 22 layers, the head: per-layer bit-widths as HAQ searches."""
        return ("stem", *(f"layer{i}" for i in range(N_LAYERS)), "head")

    def quant_modules(self, arch: Architecture) -> dict[str, str]:
        """Blocks as `hwnas.models.fbnet.FBNet` names them."""
        layers = {f"layer{i}": f"layers.{i}" for i in range(N_LAYERS)}
        return {"stem": "stem", **layers, "head": "head"}

    # --- per-layer lookup tables (`hwnas profile --space fbnet`) ---------------------------
    def layers(
        self, arch: Architecture, dataset: str, classes: int | None = None
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """The stem, each of the 22 blocks at its input shape, the head (`classes` outputs):
        what FBNet's own lookup table times separately (its latency is their sum)."""
        units = self._units(dataset, classes)
        blocks = [units[i][g] for i, g in enumerate(arch.genes, start=1)]
        return [units[0][0], *blocks, units[-1][0]]

    def profile_units(
        self,
        dataset: str,
        allowed: Sequence[Sequence[int]] | None = None,
        classes: int | None = None,
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """Every block each layer may hold (or, with `allowed`, those the sub-space keeps),
        the stem and the head, each distinct shape once."""
        allowed = allowed or [range(len(OPS))] * N_LAYERS
        per_layer = self._units(dataset, classes)
        units = {u[0]: u for u in (per_layer[0][0], per_layer[-1][0])}
        for i, choices in enumerate(allowed, start=1):
            for g in choices:
                units.setdefault(per_layer[i][g][0], per_layer[i][g])
        return list(units.values())

    def _units(self, dataset: str, classes: int | None = None) -> list[list[Unit]]:
        """[stem], then per layer one unit per op, then [head] with `classes` outputs."""
        info = dataset_info(self.check_dataset(dataset))
        c, side = info.channels, info.side
        out: list[list[Unit]] = [
            [
                (
                    f"stem:i{c}:o{STEM_CHANNELS}:r{side}",
                    partial(_build, "stem", c, 1.0),
                    (c, side, side),
                )
            ]
        ]
        for c_in, c_out, stride in layer_shapes():
            out.append(
                [
                    (
                        f"{op}:i{c_in}:o{c_out}:s{stride}:r{side}",
                        partial(_build, "make_block", op, c_in, c_out, stride),
                        (c_in, side, side),
                    )
                    for op in OPS
                ]
            )
            side = -(-side // stride)
        width, last = head_classes(dataset, classes), STAGE_CHANNELS[-1]
        head = partial(_build, "Head", last, width, 1.0)
        out.append([(f"head:i{last}:c{width}:r{side}", head, (last, side, side))])
        return out


#: (signature, module factory, input shape) of one separately measured part
Unit = tuple[str, Callable[[], Any], tuple[int, ...]]


def _build(name: str, *args: Any) -> Any:
    """`hwnas.models.fbnet.NAME(*args)`, imported when a profile builds the unit."""
    return getattr(builder("fbnet"), name)(*args)
