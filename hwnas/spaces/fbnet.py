"""The FBNet macro space (Wu et al., CVPR 2019) as HW-NAS-Bench uses it: 22 searchable
layers, each one of 9 blocks (kernel 3/5, expand 1/3/6, grouped 1x1 convolutions, or skip),
9^22 architectures. Costs come from HW-NAS-Bench's per-layer CIFAR-100 latency table;
networks are built in its CIFAR layout (`hwnas.models.fbnet`) for CIFAR-sized inputs, which
is also what the differentiable search (`hwnas dnas`) trains. On a dataset other than
CIFAR-100 the table still describes the CIFAR-100 network (its provenance says so)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from hwnas.datasets.catalogue import dataset_info, head_classes
from hwnas.errors import SpecError
from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture, Dimension, SearchSpace
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


@register_space("fbnet")
class FBNetSpace(SearchSpace):
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
        return self.build_scaled(arch, dataset, classes, width=1.0)

    def build_scaled(
        self, arch: Architecture, dataset: str, classes: int | None, width: float
    ) -> Any:
        """`build` with every channel count scaled by `width` (a cheaper proxy network)."""
        info = dataset_info(self.check_dataset(dataset))
        fbnet = builder("fbnet")
        return fbnet.FBNet(
            [OPS[g] for g in arch.genes], info.channels, head_classes(dataset, classes), width
        )

    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        return dataset_info(self.check_dataset(dataset)).input_shape

    def quant_blocks(self) -> tuple[str, ...]:
        """The stem, each of the 22 layers, the head: per-layer bit-widths as HAQ searches."""
        return ("stem", *(f"layer{i}" for i in range(N_LAYERS)), "head")

    def quant_modules(self, arch: Architecture) -> dict[str, str]:
        """Blocks as `hwnas.models.fbnet.FBNet` names them."""
        layers = {f"layer{i}": f"layers.{i}" for i in range(N_LAYERS)}
        return {"stem": "stem", **layers, "head": "head"}
