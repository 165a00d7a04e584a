"""Quantisation policy as genes: `NAME+quant[:SPEC]` wraps any space that builds networks so
that each of its quantisable blocks also chooses weight and activation bits, and the joint
point is one architecture (one key, one ledger row, one encoding) that a search treats like
any other (SimQ-NAS, APQ and HAQ search the two together; the best float network is rarely
the best one after quantisation).

SPEC is `w=4,6,8;a=8` (the default) with optional `first=N` / `last=N`, which fix the first
and last block (stem and classifier head) at N bits for weights and activations, as
deployments commonly do. 16 and 32 bits mean fp16 / fp32 (not quantised). The key is the
wrapped space's key, `#`, and each existing block's bits in forward order:
`w1|r1|k3e4,...#w8a8,w4a8,...,w8a8`. `build()` returns the float network of the wrapped
space; `policy()` says which module-name prefixes take which bits, and the costs,
measurement, accuracy and export read it (`hwnas.models.quant`, `hwnas.cost.bits`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import HwnasError, SpecError
from hwnas.spaces._base import Architecture, Dimension, SearchSpace

#: how a space name asks for the wrapper: `mbv3+quant` or `mbv3+quant:w=4,8;a=8`
MARK = "+quant"
#: bit-widths a policy may offer: integer 2..8 quantise; 16 and 32 are fp16 / fp32
BITS: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 16, 32)
DEFAULT_W: tuple[int, ...] = (4, 6, 8)
DEFAULT_A: tuple[int, ...] = (8,)
_ENTRY = re.compile(r"^w(\d+)a(\d+)$")


@dataclass(frozen=True)
class QuantSpec:
    """The bit sets of a policy and the blocks fixed at one width."""

    w: tuple[int, ...] = DEFAULT_W
    a: tuple[int, ...] = DEFAULT_A
    first: int | None = None
    last: int | None = None

    @classmethod
    def parse(cls, text: str) -> QuantSpec:
        """`w=4,6,8;a=8;first=8;last=8` (any part may be left out: defaults)."""
        values: dict[str, Any] = {}
        for part in (p.strip() for p in str(text).split(";")):
            if not part:
                continue
            name, sep, value = (s.strip() for s in part.partition("="))
            if not sep or name not in ("w", "a", "first", "last"):
                raise SpecError(
                    f"quantisation spec {text!r}: part {part!r} is not w=..., a=..., first=N "
                    "or last=N (e.g. w=4,6,8;a=8;first=8)"
                )
            if name in values:
                raise SpecError(f"quantisation spec {text!r}: {name} is given twice")
            bits = tuple(sorted({_bits(text, name, v) for v in value.split(",") if v.strip()}))
            if not bits or (name in ("first", "last") and len(bits) != 1):
                raise SpecError(
                    f"quantisation spec {text!r}: {name} needs "
                    + ("one bit-width" if name in ("first", "last") else "bit-widths")
                )
            values[name] = bits if name in ("w", "a") else bits[0]
        return cls(**values)

    def text(self) -> str:
        """The canonical spelling (sorted sets, fixed blocks last)."""
        parts = [f"w={','.join(map(str, self.w))}", f"a={','.join(map(str, self.a))}"]
        parts += [f"{n}={v}" for n, v in (("first", self.first), ("last", self.last)) if v]
        return ";".join(parts)

    def choices(self, index: int, n_blocks: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(weight bits, activation bits) block `index` of `n_blocks` may take."""
        fixed = self.first if index == 0 else self.last if index == n_blocks - 1 else None
        return ((fixed,), (fixed,)) if fixed else (self.w, self.a)


def _bits(text: str, name: str, value: str) -> int:
    value = value.strip().lower().removeprefix("fp").removeprefix("int")
    if not value.isdigit() or int(value) not in BITS:
        raise SpecError(
            f"quantisation spec {text!r}: {name} bit-width {value!r} is not one of "
            f"{', '.join(map(str, BITS))} (16, 32: fp16, fp32)"
        )
    return int(value)


@dataclass(frozen=True)
class BlockBits:
    """The bits of one block: its name, the prefix of its modules' names in the built
    network ('' is the whole network), weight and activation bits."""

    block: str
    prefix: str
    w: int
    a: int

    def covers(self, module: str) -> bool:
        return not self.prefix or module == self.prefix or module.startswith(self.prefix + ".")


def split_name(name: str) -> tuple[str, QuantSpec]:
    """`mbv3+quant:w=4,8` -> ('mbv3', its spec)."""
    base, _, rest = name.partition(MARK)
    if rest and not rest.startswith(":"):
        raise SpecError(f"space {name!r}: write NAME+quant or NAME+quant:w=4,6,8;a=8")
    return base, QuantSpec.parse(rest[1:])


def quantised_space(name: str, base: SearchSpace) -> QuantSpace:
    """The wrapper of `base` for the policy in `name` (a class made here, named canonically,
    as a registered space's class carries its name)."""
    _, spec = split_name(name)
    if isinstance(base, QuantSpace):
        raise SpecError(f"space {name!r}: {base.name!r} is already quantised")
    if type(base).build is SearchSpace.build:
        raise HwnasError(
            f"space {base.name!r} cannot build networks, so it has no layers to quantise"
        )
    canonical = base.name + MARK + ("" if spec == QuantSpec() else f":{spec.text()}")
    cls = type(
        f"Quant{type(base).__name__}",
        (QuantSpace,),
        {
            "name": canonical,
            "description": f"{base.name} with per-block weight/activation bits ({spec.text()})",
            "datasets": base.datasets,
            "encodings": base.encodings,
        },
    )
    space: QuantSpace = cls(base, spec)
    return space


class QuantSpace(SearchSpace):
    """A space's architectures with a bit-width pair per quantisable block."""

    name: ClassVar[str]

    def __init__(self, base: SearchSpace, spec: QuantSpec) -> None:
        self.base = base
        self.spec = spec
        self.blocks = tuple(base.quant_blocks())
        n = len(self.blocks)
        dims = list(base.dimensions)
        for i, block in enumerate(self.blocks):
            w, a = spec.choices(i, n)
            dims += [Dimension(f"w_bits_{block}", w), Dimension(f"a_bits_{block}", a)]
        self.dimensions = tuple(dims)
        self._n = len(base.dimensions)

    # --- genes ------------------------------------------------------------------------
    def _split(self, genes: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        genes = tuple(int(g) for g in genes)
        return genes[: self._n], genes[self._n :]

    def _active(self, base_genes: tuple[int, ...]) -> dict[str, str]:
        """Block -> module prefix of the blocks this (canonical) base point has."""
        arch = Architecture(self.base.key(base_genes), base_genes)
        return dict(self.base.quant_modules(arch))

    def is_valid(self, genes: Sequence[int]) -> bool:
        return self.base.is_valid(self._split(genes)[0])

    def canonical(self, genes: Sequence[int]) -> tuple[int, ...]:
        """The wrapped space's canonical genes; bits of blocks it does not have reset to 0."""
        base_genes, bits = self._split(genes)
        base_genes = self.base.canonical(base_genes)
        active = self._active(base_genes)
        out = list(bits)
        for i, block in enumerate(self.blocks):
            if block not in active:
                out[2 * i] = out[2 * i + 1] = 0
        return base_genes + tuple(out)

    def key(self, genes: Sequence[int]) -> str:
        base_genes, bits = self._split(genes)
        active = self._active(base_genes)
        entries = []
        for i, block in enumerate(self.blocks):
            if block in active:
                w, a = self.dimensions[self._n + 2 * i], self.dimensions[self._n + 2 * i + 1]
                entries.append(f"w{w.choices[bits[2 * i]]}a{a.choices[bits[2 * i + 1]]}")
        return f"{self.base.key(base_genes)}#{','.join(entries)}"

    def parse(self, text: str) -> Architecture:
        """`BASE_KEY#w8a8,w4a8,...` (one entry per block the architecture has; one entry
        alone: every block), or a key or preset of the wrapped space alone: every block at
        the widest bits its sets allow."""
        text = str(text).strip()
        base_text, sep, bits_text = text.rpartition("#") if "#" in text else (text, "", "")
        base_arch = self.base.parse(base_text)
        active = self._active(base_arch.genes)
        genes = [0] * (2 * len(self.blocks))
        entries = [e.strip() for e in bits_text.split(",")] if sep else []
        if entries and len(entries) not in (1, len(active)):
            raise SpecError(
                f"{self.name} architecture {text!r}: {len(entries)} bit entries for "
                f"{len(active)} blocks ({', '.join(active)}); give one per block or one for all"
            )
        k = 0
        for i, block in enumerate(self.blocks):
            if block not in active:
                continue
            wdim, adim = self.dimensions[self._n + 2 * i], self.dimensions[self._n + 2 * i + 1]
            if entries:
                m = _ENTRY.match(entries[k if len(entries) > 1 else 0])
                if m is None:
                    raise SpecError(
                        f"{self.name} architecture {text!r}: bits {entries[k]!r} are not wNaM "
                        "(e.g. w4a8)"
                    )
                genes[2 * i] = _index(self.name, block, "weight", int(m[1]), wdim.choices)
                genes[2 * i + 1] = _index(self.name, block, "activation", int(m[2]), adim.choices)
            else:
                genes[2 * i], genes[2 * i + 1] = len(wdim.choices) - 1, len(adim.choices) - 1
            k += 1
        return self.make([*base_arch.genes, *genes])

    # --- the two halves ---------------------------------------------------------------
    def base_arch(self, arch: Architecture) -> Architecture:
        """The wrapped space's architecture (the float network)."""
        base_genes, _ = self._split(arch.genes)
        return Architecture(self.base.key(base_genes), base_genes)

    def policy(self, arch: Architecture) -> list[BlockBits]:
        """Each existing block's bits and the module-name prefix they apply to, in order."""
        base_genes, bits = self._split(arch.genes)
        active = self._active(base_genes)
        out = []
        for i, block in enumerate(self.blocks):
            if block in active:
                w = self.dimensions[self._n + 2 * i].choices[bits[2 * i]]
                a = self.dimensions[self._n + 2 * i + 1].choices[bits[2 * i + 1]]
                out.append(BlockBits(block, active[block], int(w), int(a)))
        return out

    # --- encodings --------------------------------------------------------------------
    def encode(self, archs: Sequence[Architecture], kind: str = "onehot") -> np.ndarray:
        """`vector` and `onehot` over every gene; a wrapped space's own encoding of its
        half, with the bits one-hot beside it."""
        if kind in ("vector", "onehot") or kind not in self.base.encodings:
            return super().encode(archs, kind)
        base = np.asarray(self.base.encode([self.base_arch(a) for a in archs], kind))
        bits = np.array([self._split(a.genes)[1] for a in archs], dtype=np.int64)
        dims = self.dimensions[self._n :]
        hot = [np.eye(len(d.choices))[bits[:, i]] for i, d in enumerate(dims)]
        return np.concatenate([base.reshape(len(archs), -1), *hot], axis=1)

    # --- networks: the wrapped space's float network ----------------------------------
    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        """The float network (quantise it with `hwnas.models.quant`, using `policy`)."""
        return self.base.build(self.base_arch(arch), dataset, classes)

    def input_shape(self, dataset: str) -> tuple[int, ...]:
        return self.base.input_shape(dataset)

    def arch_input_shape(self, arch: Architecture, dataset: str) -> tuple[int, ...]:
        return self.base.arch_input_shape(self.base_arch(arch), dataset)

    def check_dataset(self, dataset: str) -> str:
        return self.base.check_dataset(dataset)


def _index(space: str, block: str, what: str, bits: int, choices: tuple[Any, ...]) -> int:
    if bits not in choices:
        raise SpecError(
            f"{space}: block {block} {what} bits {bits} are not one of "
            f"{', '.join(map(str, choices))}"
        )
    return choices.index(bits)
