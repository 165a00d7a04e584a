"""The FBNet macro space (Wu et al., CVPR 2019) as HW-NAS-Bench uses it: 22 searchable
layers, each one of 9 blocks (kernel 3/5, expand 1/3/6, grouped 1x1 convolutions, or skip),
9^22 architectures. Costs come from HW-NAS-Bench's per-layer CIFAR-100 latency table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from hwnas.errors import SpecError
from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture, Dimension, SearchSpace

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
    datasets: ClassVar[tuple[str, ...]] = ("cifar100",)

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
