"""The search-space contract every space implements and the conformance suite checks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import SpecError


@dataclass(frozen=True)
class Dimension:
    """One named discrete decision, e.g. the op on an edge or the kernel of a block."""

    name: str
    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.choices) < 1:
            raise ValueError(f"dimension {self.name!r} has no choices")


@dataclass(frozen=True, order=True)
class Architecture:
    """A point of a space: one choice index per dimension, and its canonical key.

    Equality and hashing go by `key`, so two gene vectors that the space canonicalises to
    the same network are the same architecture."""

    key: str
    genes: tuple[int, ...] = field(compare=False)

    def __str__(self) -> str:
        return self.key


def numeric_choice(where: str, token: str, choices: Sequence[Any]) -> int:
    """The index of the choice a number in a key names (`1` is the choice `1.0`); a
    `SpecError` starting with `where` (e.g. "mbv3 architecture 'KEY': kernel") otherwise."""
    try:
        value = float(token)
    except ValueError:
        raise SpecError(f"{where} {token!r} is not a number") from None
    for i, c in enumerate(choices):
        if abs(float(c) - value) < 1e-9:
            return i
    raise SpecError(
        f"{where} {value:g} is not one of {', '.join(f'{float(c):g}' for c in choices)}"
    )


class SearchSpace:
    """Named discrete dimensions, validity rules, canonical keys, sampling, variation
    operators and encodings. Subclasses set `name`, `dimensions`, `datasets` and implement
    `key`/`parse`; they override `is_valid`/`canonical` where the space has structure."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    datasets: ClassVar[tuple[str, ...]] = ()
    dimensions: tuple[Dimension, ...]
    encodings: ClassVar[tuple[str, ...]] = ("vector", "onehot")

    # --- identity -------------------------------------------------------------------
    def key(self, genes: Sequence[int]) -> str:
        """The canonical string of a (canonical, valid) gene vector."""
        raise NotImplementedError

    def parse(self, text: str) -> Architecture:
        """An architecture from its key (or another form the space accepts)."""
        raise NotImplementedError

    def is_valid(self, genes: Sequence[int]) -> bool:
        """Whether the gene vector describes a buildable network."""
        return True

    def canonical(self, genes: Sequence[int]) -> tuple[int, ...]:
        """The representative of the genes' equivalence class (e.g. unused genes reset)."""
        return tuple(int(g) for g in genes)

    def make(self, genes: Sequence[int]) -> Architecture:
        """Check and canonicalise a gene vector into an `Architecture`."""
        return self._make(genes, valid=True)

    def _why_invalid(self, genes: tuple[int, ...]) -> str:
        """What `make` says of in-range genes that `is_valid` rejects."""
        return f"{self.name}: invalid architecture {genes}"

    def restore(self, genes: Sequence[int]) -> Architecture:
        """An architecture a ledger recorded: checked and canonicalised as `make` does, but
        kept when a validity rule added since rejects it, since an evaluation that was
        recorded is never dropped."""
        return self._make(genes, valid=False)

    def _make(self, genes: Sequence[int], valid: bool) -> Architecture:
        genes = tuple(int(g) for g in genes)
        if len(genes) != len(self.dimensions):
            raise SpecError(f"{self.name}: expected {len(self.dimensions)} genes, got {len(genes)}")
        for g, dim in zip(genes, self.dimensions):
            if not 0 <= g < len(dim.choices):
                raise SpecError(
                    f"{self.name}: gene {dim.name}={g} out of range 0..{len(dim.choices) - 1}"
                )
        if valid and not self.is_valid(genes):
            raise SpecError(self._why_invalid(genes))
        canon = self.canonical(genes)
        return Architecture(key=self.key(canon), genes=canon)

    # --- size and enumeration ---------------------------------------------------------
    @property
    def cardinalities(self) -> tuple[int, ...]:
        return tuple(len(d.choices) for d in self.dimensions)

    def size(self) -> int:
        """Number of gene vectors (an upper bound on distinct architectures)."""
        return int(np.prod(self.cardinalities, dtype=object))

    def enumerate(self) -> Iterator[Architecture]:
        """Every distinct valid architecture; only sensible for small spaces."""
        seen: set[str] = set()
        for flat in range(self.size()):
            genes, rest = [], flat
            for card in reversed(self.cardinalities):
                genes.append(rest % card)
                rest //= card
            genes.reverse()
            if self.is_valid(genes):
                arch = self.make(genes)
                if arch.key not in seen:
                    seen.add(arch.key)
                    yield arch

    # --- variation --------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Architecture:
        """A uniformly random valid gene vector (by rejection)."""
        for _ in range(10_000):
            genes = [int(rng.integers(len(d.choices))) for d in self.dimensions]
            if self.is_valid(genes):
                return self.make(genes)
        raise RuntimeError(f"{self.name}: could not sample a valid architecture")

    def mutate(
        self, arch: Architecture, rng: np.random.Generator, rate: float | None = None
    ) -> Architecture:
        """Resample each gene with probability `rate` (default 1/#dims); always returns a
        different valid architecture when one exists."""
        mutable = [i for i, d in enumerate(self.dimensions) if len(d.choices) > 1]
        if not mutable:
            return arch
        rate = 1.0 / len(mutable) if rate is None else rate
        for _ in range(1_000):
            genes = list(arch.genes)
            flips = [i for i in mutable if rng.random() < rate] or [int(rng.choice(mutable))]
            for i in flips:
                card = len(self.dimensions[i].choices)
                genes[i] = (genes[i] + 1 + int(rng.integers(card - 1))) % card
            if self.is_valid(genes):
                child = self.make(genes)
                if child != arch:
                    return child
        return arch

    def crossover(self, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture:
        """Uniform crossover; falls back to a parent if the child is invalid."""
        for _ in range(100):
            mask = rng.random(len(self.dimensions)) < 0.5
            genes = [ga if m else gb for ga, gb, m in zip(a.genes, b.genes, mask)]
            if self.is_valid(genes):
                return self.make(genes)
        return a

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        """Every valid architecture one gene away, for local search."""
        out: dict[str, Architecture] = {}
        for i, dim in enumerate(self.dimensions):
            for c in range(len(dim.choices)):
                if c != arch.genes[i]:
                    genes = list(arch.genes)
                    genes[i] = c
                    if self.is_valid(genes):
                        nb = self.make(genes)
                        if nb != arch:
                            out.setdefault(nb.key, nb)
        return list(out.values())

    # --- encodings ----------------------------------------------------------------------
    def encode(self, archs: Sequence[Architecture], kind: str = "onehot") -> np.ndarray:
        """Feature matrix for predictors: `vector` (choice indices), `onehot`, or a
        space-specific encoding listed in `encodings`."""
        genes = np.array([a.genes for a in archs], dtype=np.int64).reshape(
            len(archs), len(self.dimensions)
        )
        if kind == "vector":
            return genes.astype(np.float64)
        if kind == "onehot":
            blocks = [np.eye(len(d.choices))[genes[:, i]] for i, d in enumerate(self.dimensions)]
            return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(archs), 0))
        from hwnas.errors import UnknownNameError

        raise UnknownNameError(f"encoding of space {self.name!r}", kind, self.encodings)

    # --- networks (the `torch` extra) ---------------------------------------------------------
    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        """The architecture as a `torch.nn.Module` for `dataset`'s input, with `classes`
        outputs (None: `dataset`'s own; a user's data may have any number). Spaces that can
        build networks override this (importing torch lazily)."""
        from hwnas.errors import HwnasError

        raise HwnasError(f"space {self.name!r} cannot build networks")

    def input_shape(self, dataset: str) -> tuple[int, ...]:
        """(channels, height, width) of one input image for `dataset`, or (tokens,) where
        the dataset is token-id text (fed as float32 ids; see `hwnas.models.bert`)."""
        from hwnas.errors import HwnasError

        raise HwnasError(f"space {self.name!r} has no input shape for {dataset!r}")

    def counted_network(
        self, arch: Architecture, dataset: str, classes: int | None = None
    ) -> tuple[Any, tuple[int, ...]]:
        """The module and input shape that analytic counts (`hwnas.cost.analytic`) trace:
        the built network on its input, unless the space's literature counts another part
        (HAT counts no embeddings and no output layer), which the space then returns."""
        return self.build(arch, dataset, classes), self.arch_input_shape(arch, dataset)

    def arch_input_shape(self, arch: Architecture, dataset: str) -> tuple[int, ...]:
        """The input `arch` takes for `dataset`: `input_shape` unless the space searches
        the resolution too (then it overrides this)."""
        return self.input_shape(dataset)

    def check_dataset(self, dataset: str) -> str:
        """`dataset` if the space serves it, else an `UnknownNameError` listing those it
        does."""
        from hwnas.errors import UnknownNameError

        if dataset not in self.datasets:
            raise UnknownNameError("dataset", dataset, self.datasets, f"for space {self.name!r}")
        return dataset

    def describe(self, arch: Architecture) -> dict[str, Any]:
        """Human-readable choices by dimension name."""
        return {d.name: d.choices[g] for d, g in zip(self.dimensions, arch.genes)}

    # --- quantisation (`NAME+quant`, hwnas/spaces/quant.py) ------------------------------
    def quant_blocks(self) -> tuple[str, ...]:
        """Every block a quantisation policy may give its own bits, in forward order; by
        default the whole network is one block (one bit-width pair)."""
        return ("net",)

    def quant_modules(self, arch: Architecture) -> dict[str, str]:
        """Block -> prefix of its modules' names in `build(arch)`, for the blocks `arch`
        has, in forward order ('': every module)."""
        return {"net": ""}


class LayeredSpace(SearchSpace):
    """A space whose networks split into separately measurable layers, so that a latency
    lookup table (`hwnas profile`) can be built per layer and summed per network."""

    def layers(
        self, arch: Architecture, dataset: str, classes: int | None = None
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """(signature, module factory, input shape) of each part of `arch` that a lookup
        table measures separately; equal signatures are the same measurement. The head,
        last, has `classes` outputs (None: the dataset's) and names them in its signature,
        so that a table measured for one class count never prices another's head."""
        raise NotImplementedError

    def profile_units(
        self,
        dataset: str,
        allowed: Sequence[Sequence[int]] | None = None,
        classes: int | None = None,
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """Every distinct `layers` entry of the space (or of the sub-space whose choice
        indices per dimension are `allowed`) with a `classes`-output head, each once: what
        a profile measures."""
        raise NotImplementedError
