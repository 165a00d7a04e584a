"""NAS-Bench-201 cell space: 6 edges of a 4-node DAG, 5 candidate ops each (15,625 cells)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import SpecError
from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture, Dimension, SearchSpace

#: NB201's own op order; the gene of an edge is the op's index here.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Edges (destination, source) in the order of the NB201 string.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

_NODE_RE = re.compile(r"^([a-z_0-9]+)~([0-9]{1,3})$")
#: ASCII digits only: str.isdigit() also accepts '²', which int() then refuses
_INDEX_RE = re.compile(r"^-?[0-9]+$")


def arch_string(ops: Sequence[int]) -> str:
    """`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` from six op ids."""
    names = [OPS[o] for o in ops]
    return f"|{names[0]}~0|+|{names[1]}~0|{names[2]}~1|+|{names[3]}~0|{names[4]}~1|{names[5]}~2|"


def parse_arch_string(text: str) -> tuple[int, ...]:
    """Six op ids from an NB201 string; the error says which part is wrong."""
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise SpecError(
            f"nb201 architecture {text!r}: expected 3 nodes separated by '+', got {len(nodes)}"
        )
    ops: list[int] = []
    for dest, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise SpecError(f"nb201 architecture {text!r}: node {dest} {node!r} must be '|...|'")
        parts = node[1:-1].split("|")
        if len(parts) != dest:
            raise SpecError(
                f"nb201 architecture {text!r}: node {dest} needs {dest} input edge(s), "
                f"got {len(parts)}"
            )
        for src, part in enumerate(parts):
            m = _NODE_RE.match(part)
            if not m:
                raise SpecError(f"nb201 architecture {text!r}: edge {part!r} is not 'op~source'")
            op, j = m.group(1), int(m.group(2))
            if op not in OPS:
                raise SpecError(
                    f"nb201 architecture {text!r}: unknown op {op!r}; valid: {', '.join(OPS)}"
                )
            if j != src:
                raise SpecError(
                    f"nb201 architecture {text!r}: edge {part!r} into node {dest} "
                    f"should come from node {src}"
                )
            ops.append(OPS.index(op))
    return tuple(ops)


@register_space("nb201")
class NB201Space(SearchSpace):
    description = "NAS-Bench-201 cell: 6 edges x 5 ops, 15,625 architectures (tabular)"
    datasets: ClassVar[tuple[str, ...]] = ("cifar10", "cifar100", "imagenet16")
    encodings: ClassVar[tuple[str, ...]] = ("vector", "onehot", "opcount", "path")

    def __init__(self) -> None:
        self.dimensions = tuple(Dimension(f"edge_{d}_{s}", OPS) for d, s in EDGES)

    def key(self, genes: Sequence[int]) -> str:
        return arch_string(genes)

    def parse(self, text: str) -> Architecture:
        """An NB201 string, or an index 0..15624 into the NB201 / NATS-Bench table."""
        text = str(text).strip()
        if _INDEX_RE.match(text):
            from hwnas.tabular.nb201 import N_ARCHS, arch_from_index

            if len(text) > len(str(N_ARCHS)):  # int() of a huge string would refuse or be slow
                raise SpecError(f"nb201 index {text[:12]}... out of range 0..{N_ARCHS - 1}")
            return self.make(arch_from_index(int(text)))
        return self.make(parse_arch_string(text))

    def encode(self, archs: Sequence[Architecture], kind: str = "onehot") -> np.ndarray:
        if kind == "opcount":
            genes = np.array([a.genes for a in archs], dtype=np.int64).reshape(len(archs), 6)
            return np.stack([(genes == op).sum(axis=1) for op in range(len(OPS))], axis=1).astype(
                np.float64
            )
        if kind == "path":
            return np.array([_path_encoding(a.genes) for a in archs], dtype=np.float64).reshape(
                len(archs), -1
            )
        return super().encode(archs, kind)

    def build(self, arch: Architecture, dataset: str) -> Any:
        """The network NAS-Bench-201 trained for `arch` on `dataset` (imports torch)."""
        from hwnas.evaluation import validate_dataset
        from hwnas.models import require_torch

        validate_dataset(self, dataset)
        require_torch()
        from hwnas.models import nb201

        return nb201.build(arch.genes, dataset)

    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        from hwnas.evaluation import validate_dataset

        validate_dataset(self, dataset)
        return (3, 16, 16) if dataset == "imagenet16" else (3, 32, 32)


def _path_encoding(genes: Sequence[int]) -> list[float]:
    """Counts of input->output paths by op sequence (White et al., BANANAS): the op
    sequences along every path from node 0 to node 3, `none` edges cutting a path."""
    edge_op = {edge: genes[i] for i, edge in enumerate(EDGES)}
    paths: list[tuple[int, ...]] = []

    def walk(node: int, ops: tuple[int, ...]) -> None:
        if node == 3:
            paths.append(ops)
            return
        for dest in range(node + 1, 4):
            op = edge_op[(dest, node)]
            if op != 0:
                walk(dest, ops + (op,))

    walk(0, ())
    index = _path_index()
    vec = [0.0] * len(index)
    for p in paths:
        vec[index[p]] += 1.0
    return vec


@lru_cache(maxsize=1)
def _path_index() -> dict[tuple[int, ...], int]:
    """Feature index: one slot per op sequence of length 1..3 over the 4 live ops."""
    live = [1, 2, 3, 4]  # ops that carry signal (all but `none`)
    index: dict[tuple[int, ...], int] = {}
    for length in (1, 2, 3):
        for flat in range(len(live) ** length):
            seq, rest = [], flat
            for _ in range(length):
                seq.append(live[rest % len(live)])
                rest //= len(live)
            index[tuple(seq)] = len(index)
    return index
