"""NAS-Bench-201 cell space: 6 edges of a 4-node DAG, 5 candidate ops each (15,625 cells)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from hwnas._imports import optional_import
from hwnas.datasets.catalogue import dataset_info, head_classes
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


def cell(ops: Sequence[int]) -> tuple[tuple[int, int, str], ...]:
    """(destination, source, op name) of each edge: the cell as the builder reads it."""
    return tuple((dest, src, OPS[o]) for (dest, src), o in zip(EDGES, ops))


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


#: cells of the built network: 3 stages of 5 searched cells, 2 reduction blocks between
_CELLS = 17


@register_space("nb201")
class NB201Space(SearchSpace):
    description = "NAS-Bench-201 cell: 6 edges x 5 ops, 15,625 architectures (tabular)"
    datasets: ClassVar[tuple[str, ...]] = ("cifar10", "cifar100", "imagenet16")
    encodings: ClassVar[tuple[str, ...]] = (
        "vector",
        "onehot",
        "opcount",
        "path",
        "live",
        "effective",
    )

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
        if kind == "live":
            live = np.array([live_genes(a.genes) for a in archs], dtype=np.int64).reshape(-1, 6)
            return np.concatenate([np.eye(len(OPS))[live[:, i]] for i in range(6)], axis=1)
        if kind == "effective":
            return np.array([_effective_encoding(a.genes) for a in archs]).reshape(
                len(archs), len(_functional_index()) + 8 + len(OPS)
            )
        return super().encode(archs, kind)

    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        """The network NAS-Bench-201 trained for `arch` on `dataset`, with `classes` outputs
        (default: the dataset's) (imports torch)."""
        width = head_classes(self.check_dataset(dataset), classes)
        optional_import("torch", "building networks")
        from hwnas.models.nb201 import TinyNetwork

        return TinyNetwork(cell(arch.genes), width)

    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        return dataset_info(self.check_dataset(dataset)).input_shape

    def quant_blocks(self) -> tuple[str, ...]:
        """The stem, each of the 17 cells (15 searched, 2 residual reductions), the head."""
        return ("stem", *(f"cell{i}" for i in range(_CELLS)), "head")

    def quant_modules(self, arch: Architecture) -> dict[str, str]:
        """Blocks as `TinyNetwork` names them."""
        cells = {f"cell{i}": f"cells.{i}" for i in range(_CELLS)}
        return {"stem": "stem", **cells, "head": "classifier"}


def live_genes(genes: Sequence[int]) -> tuple[int, ...]:
    """The effective cell: every edge that lies on no input->output path of non-`none`
    edges is set to `none` (its op computes, but nothing it computes reaches the output).
    Many NB201 cells differ only in such dead edges and train alike."""
    edge_op = {edge: genes[i] for i, edge in enumerate(EDGES)}
    from_input = {0}
    for node in (1, 2, 3):
        if any(edge_op[(node, s)] != 0 and s in from_input for s in range(node)):
            from_input.add(node)
    to_output = {3}
    for node in (2, 1, 0):
        if any(edge_op[(d, node)] != 0 and d in to_output for d in range(node + 1, 4)):
            to_output.add(node)
    return tuple(
        op if op != 0 and s in from_input and d in to_output else 0
        for op, (d, s) in zip(genes, EDGES)
    )


def _paths(genes: Sequence[int]) -> list[tuple[int, ...]]:
    """The op sequences along every input->output path of non-`none` edges."""
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
    return paths


@lru_cache(maxsize=1)
def _functional_index() -> dict[tuple[int, ...], int]:
    """One slot per sequence of 0..3 ops over conv 1x1, conv 3x3 and pooling: a path with
    its skip connections removed (they are identities)."""
    index: dict[tuple[int, ...], int] = {(): 0}
    for length in (1, 2, 3):
        for seq in itertools.product((2, 3, 4), repeat=length):
            index[seq] = len(index)
    return index


def _effective_encoding(genes: Sequence[int]) -> list[float]:
    """What the cell computes, not how it is written: counts of live paths by their
    sequence of non-identity ops; path statistics (number of paths, most and fewest convs
    and 3x3 convs along a path, conv-free paths, most poolings along a path, mean convs per
    path); op counts of the effective cell. Cells that compute the same function up to dead
    edges and skip connections share most of it; from 100 labelled cells a tree ensemble on
    it ranks NB201 CIFAR-10 accuracy with Kendall tau about 0.8 (docs/benchmarks/predictor.md)."""
    paths = _paths(genes)
    index = _functional_index()
    counts = [0.0] * len(index)
    for p in paths:
        counts[index[tuple(o for o in p if o != 1)]] += 1.0
    if paths:
        convs = [sum(o in (2, 3) for o in p) for p in paths]
        conv3 = [sum(o == 3 for o in p) for p in paths]
        pools = [sum(o == 4 for o in p) for p in paths]
        stats = [
            float(len(paths)),
            float(max(convs)),
            float(min(convs)),
            float(max(conv3)),
            float(min(conv3)),
            float(sum(c == 0 for c in convs)),
            float(max(pools)),
            float(np.mean(convs)),
        ]
    else:
        stats = [0.0] * 8
    live = live_genes(genes)
    return counts + stats + [float(sum(o == op for o in live)) for op in range(len(OPS))]


def _path_encoding(genes: Sequence[int]) -> list[float]:
    """Counts of input->output paths by op sequence (White et al., BANANAS): the op
    sequences along every path from node 0 to node 3, `none` edges cutting a path."""
    paths = _paths(genes)
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
