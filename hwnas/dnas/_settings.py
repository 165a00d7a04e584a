"""What a differentiable search is asked to do (plain data, no torch): the method, its
training settings and its cost goal."""

from __future__ import annotations

from dataclasses import dataclass

from hwnas.errors import SpecError

METHODS: dict[str, str] = {
    "fbnet": "FBNet DNAS: Gumbel-softmax over all blocks of each layer, annealed temperature",
    "proxyless": "ProxylessNAS: binarised paths, one path per weights step, two per alpha step",
    "pc-darts": "PC-DARTS on the NB201 cell: partial channels, edge normalisation, first order",
}
#: the methods each space's supernet serves
SPACE_METHODS: dict[str, tuple[str, ...]] = {
    "fbnet": ("fbnet", "proxyless"),
    "nb201": ("pc-darts",),
}
FBNET_A = 0.2


@dataclass(frozen=True)
class SearchSettings:
    method: str = "fbnet"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 4e-5
    #: Adam's rate for alpha: FBNet uses 0.01 over 90 epochs, ProxylessNAS 1e-3 over more;
    #: a CPU search of a few hundred steps needs a larger one to move alpha at all
    arch_lr: float = 0.05
    arch_weight_decay: float = 0.0
    #: share of the steps that train the weights alone, alpha fixed and uniform (FBNet: 10%)
    warmup: float = 0.2
    tau_start: float = 5.0
    tau_end: float = 0.2
    penalty: float = 2.0
    #: weight of the layers' mean entropy in the architecture loss, ramped up from 0 over
    #: the search: the distribution commits to one block per layer, so that the network
    #: read off it costs what the expected cost says (0: off, as the papers)
    entropy: float = 0.0
    #: supernet channel multiplier (1.0: the space's networks; less: a cheaper CPU proxy)
    width: float = 1.0
    #: PC-DARTS: cells per stage of the search network (NB201's own: 5) and the share 1/K
    #: of channels that go through an edge's ops
    cells: int = 5
    partial: int = 4
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        positive = (
            "epochs", "batch_size", "lr", "arch_lr", "tau_start", "tau_end", "penalty", "cells",
            "partial",
        )  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise SpecError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.width <= 2:
            raise SpecError(f"width must be in (0, 2], got {self.width}")
        if self.entropy < 0:
            raise SpecError(f"entropy must be at least 0, got {self.entropy}")
        if not 0 <= self.warmup < 1:
            raise SpecError(f"warmup must be in [0, 1), got {self.warmup}")


@dataclass(frozen=True)
class Goal:
    """Either `target` (drive the expected cost there) or `tradeoff` (the paper's loss)."""

    metric: str
    target: float | None = None
    tradeoff: float | None = None

    @property
    def label(self) -> str:
        if not self.metric:
            return "accuracy only"
        if self.target is not None:
            return f"{self.metric}={self.target:g}"
        return f"{self.metric} tradeoff={self.tradeoff:g}"
