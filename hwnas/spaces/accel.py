"""The accelerator as genes: `NAME+accel` joins any space that builds networks with a
parametrised Eyeriss-like accelerator (NASAIC-style co-exploration), so that one
architecture is (network, accelerator), one key, one ledger row, one encoding, and every
strategy, predictor and the report work on the joint space.

The accelerator genes: the PE array (rows x columns), the weight and the activation
global buffers, the dataflow (which loops the array unrolls: `ws` = output channels x
input channels, as ZigZag's default mapping and a TPU; `os` = output columns x output
channels) and the operand bit width. `accelerator(arch)` returns the description and
mapping in ZigZag's YAML schema (`hwnas.cost.zigzag` prices it: `latency@zigzag:searched`).

The template is ZigZag's `eyeriss_like` (14x12 PEs, per-PE register files, 64 KB weight
and 1 MB activation/output buffers, DRAM). Where the genes change it, first-order rules
stand in for a circuit model and are stated here so that a figure can be read: an SRAM's
per-access energy scales with the square root of its capacity and its area linearly
(from the template's values); a multiplier's energy and area scale with the square of its
bit width (array multipliers); register files keep their size in bits. The key is the
network's key, `#`, and the accelerator: `...#14x12,w64,a1024,ws,b8`.

A pair is valid only when the accelerator can run every layer of the network, as far as
that is known without ZigZag: ZigZag's loop-order search (LOMA) fills each PE's weight
register file first, and a memory level must hold everything the levels below it hold. A
layer whose weights, split over the array, fit the register files whole therefore needs
the weight buffer to hold all of them; when it cannot, no loop ordering exists. Only a
32x32 array with the 32 KB buffer and the `ws` dataflow (1,024 register files of 64 B over
a 32 KB buffer) can break the rule; the pairs that do are left out of the space, so a
search spends no evaluation on them (`unmappable`)."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hwnas._imports import optional_import
from hwnas.errors import DependencyError, HwnasError, SpecError
from hwnas.spaces._base import Architecture, Dimension, SearchSpace

MARK = "+accel"
ARRAYS: tuple[str, ...] = ("8x8", "14x12", "16x16", "32x32")
WEIGHT_BUFFER_KB: tuple[int, ...] = (32, 128)
ACT_BUFFER_KB: tuple[int, ...] = (256, 1024)
DATAFLOWS: tuple[str, ...] = ("ws", "os")
BITS: tuple[int, ...] = (8, 16)
#: dataflow -> the loops unrolled over the array's (rows, columns)
UNROLL = {"ws": ("K", "C"), "os": ("OX", "K")}
_KEY = re.compile(r"^(\d+)x(\d+),w(\d+),a(\d+),(\w+),b(\d+)$")
#: the template's global buffers: (capacity in KB, read, write pJ per access, area)
_WEIGHT_SRAM = (64, 20.0, 25.0, 6.0)
_ACT_SRAM = (1024, 100.0, 130.0, 25.0)
#: bits of weights each PE's register file holds (the template's `rf_64B_W`)
_PE_WEIGHT_BITS = 512


def _unrolled(choices: dict[str, Any]) -> dict[str, int]:
    """The loops the dataflow spreads over the array, each with the array side it gets."""
    rows, cols = (int(x) for x in str(choices["pe_array"]).split("x"))
    return dict(zip(UNROLL[str(choices["dataflow"])], (rows, cols)))


def weights_overflow(
    shape: tuple[int, int, int, int], choices: dict[str, Any]
) -> tuple[int, int] | None:
    """(the layer's weight bits, the weight buffer's bits) when a layer of weight shape
    (groups, output channels per group, input channels per group, kernel taps) cannot be
    mapped on the accelerator of `choices`; None when this rule does not rule it out.

    Its weights split over the array (the loops the dataflow unrolls, each padded up to a
    multiple of the array's side) fit one PE's register file, so ZigZag's allocator puts
    them all there and the weight buffer above must hold the whole layer. Checked against
    ZigZag 3.9.1 on 31 layers x accelerators (tests/spaces/test_accel.py)."""
    groups, k, c, taps = shape
    bits, unrolled = int(choices["bits"]), _unrolled(choices)
    per_pe = groups * taps
    for loop, size in (("K", k), ("C", c)):
        per_pe *= math.ceil(size / min(size, unrolled.get(loop, 1)))
    total, buffer = groups * k * c * taps * bits, int(choices["weight_buffer_kb"]) * 8192
    if per_pe * bits <= _PE_WEIGHT_BITS and total > buffer:
        return total, buffer
    return None


def _can_overflow(choices: dict[str, Any]) -> bool:
    """Whether the PE array's weight register files, over the weights the array keeps
    apart, can hold more than the weight buffer: otherwise `weights_overflow` never fires."""
    unrolled = _unrolled(choices)
    apart = unrolled.get("K", 1) * unrolled.get("C", 1)
    return _PE_WEIGHT_BITS * apart > int(choices["weight_buffer_kb"]) * 8192


def _template() -> dict[str, Any]:
    """ZigZag 3.9's `eyeriss_like.yaml`, as data (so the space needs no ZigZag to exist)."""

    def port(name: str, kind: str, bw: int, alloc: list[str]) -> dict[str, Any]:
        return {
            "name": name,
            "type": kind,
            "bandwidth_min": bw,
            "bandwidth_max": bw,
            "allocation": alloc,
        }

    def memory(
        size: int,
        r: float,
        w: float,
        area: float,
        ops: list[str],
        ports: list[Any],
        dims: list[str],
    ) -> dict[str, Any]:
        return {
            "size": size,
            "r_cost": r,
            "w_cost": w,
            "area": area,
            "latency": 1,
            "operands": ops,
            "ports": ports,
            "served_dimensions": dims,
        }

    out_rw = ["O, fh", "O, tl", "O, fl", "O, th"]
    return {
        "name": "eyeriss_like",
        "memories": {
            "rf_64B_A": memory(
                512, 1.0, 1.5, 0.3, ["I1"],
                [port("r_port_1", "read", 8, ["I1, tl"]), port("w_port_1", "write", 8, ["I1, fh"])],
                [],
            ),
            "rf_64B_W": memory(
                512, 1.0, 1.5, 0.3, ["I2"],
                [port("r_port_1", "read", 8, ["I2, tl"]), port("w_port_1", "write", 8, ["I2, fh"])],
                [],
            ),
            "rf_16B": memory(
                128, 1.5, 2.0, 0.95, ["O"],
                [
                    port("r_port_1", "read", 24, ["O, tl", "O, th"]),
                    port("w_port_1", "write", 24, ["O, fh", "O, fl"]),
                ],
                [],
            ),
            "sram_8KB": memory(
                65536, 10.0, 15.0, 3, ["O"], [port("rw_port_1", "read_write", 128, out_rw)],
                ["D1", "D2"],
            ),
            "sram_64KB": memory(
                524288, 20, 25, 6, ["I2"],
                [
                    port("r_port_1", "read", 128, ["I2, tl"]),
                    port("w_port_1", "write", 128, ["I2, fh"]),
                ],
                ["D1", "D2"],
            ),
            "sram_1M": memory(
                8388608, 100, 130, 25, ["I1", "O"],
                [port("rw_port_1", "read_write", 384, ["I1, fh", "I1, tl", *out_rw])],
                ["D1", "D2"],
            ),
            "dram": memory(
                10000000000, 1000, 1000, 0, ["I1", "I2", "O"],
                [port("rw_port_1", "read_write", 64, ["I1, fh", "I1, tl", "I2, fh", "I2, tl", *out_rw])],
                ["D1", "D2"],
            ),
        },
        "operational_array": {
            "unit_energy": 0.5,
            "unit_area": 0.1,
            "dimensions": ["D1", "D2"],
            "sizes": [14, 12],
        },
    }  # fmt: skip


def _scaled_sram(memory: dict[str, Any], base: tuple[int, float, float, float], kb: int) -> None:
    """Resize a global buffer to `kb` (1 KB = 1,024 bytes, as the template's names count)."""
    ratio = kb / base[0]
    memory["size"] = kb * 1024 * 8
    memory["r_cost"] = base[1] * math.sqrt(ratio)
    memory["w_cost"] = base[2] * math.sqrt(ratio)
    memory["area"] = base[3] * ratio


class AccelSpace(SearchSpace):
    """A space's networks, each with an accelerator to run it on."""

    name: ClassVar[str]
    ACCEL_DIMENSIONS: ClassVar[tuple[Dimension, ...]] = (
        Dimension("pe_array", ARRAYS),
        Dimension("weight_buffer_kb", WEIGHT_BUFFER_KB),
        Dimension("act_buffer_kb", ACT_BUFFER_KB),
        Dimension("dataflow", DATAFLOWS),
        Dimension("bits", BITS),
    )

    def __init__(self, base: SearchSpace) -> None:
        self.base = base
        self.dimensions = (*base.dimensions, *self.ACCEL_DIMENSIONS)
        self._n = len(base.dimensions)
        self._weights: dict[tuple[int, ...], tuple[tuple[int, int, int, int], ...]] = {}

    def _split(self, genes: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        genes = tuple(int(g) for g in genes)
        return genes[: self._n], genes[self._n :]

    def is_valid(self, genes: Sequence[int]) -> bool:
        return self.base.is_valid(self._split(genes)[0]) and self.unmappable(genes) is None

    def _why_invalid(self, genes: tuple[int, ...]) -> str:
        if self.base.is_valid(self._split(genes)[0]):
            reason = self.unmappable(genes)
            if reason is not None:
                return reason
        return super()._why_invalid(genes)

    def unmappable(self, genes: Sequence[int]) -> str | None:
        """Why the accelerator of `genes` cannot run one of the network's layers (ZigZag
        would find no mapping: `weights_overflow`), or None when no such layer is known.
        The network's weight shapes are read off it built with one output class (the
        head depends on the dataset; a head that breaks the rule still fails when
        priced); without torch nothing is known."""
        base, accel = self._split(genes)
        choices = {d.name: d.choices[g] for d, g in zip(self.ACCEL_DIMENSIONS, accel)}
        if not _can_overflow(choices):
            return None
        for shape in self._weight_shapes(self.base.canonical(base)):
            overflow = weights_overflow(shape, choices)
            if overflow is not None:
                groups, k, c, taps = shape
                return (
                    f"{self.name}: {self.key(self.canonical(genes))} cannot run: a layer's weights "
                    f"({groups}x{k}x{c}x{taps} at {choices['bits']} bits = {overflow[0]:,} "
                    f"bits) fit the {choices['pe_array']} PEs' register files whole but not "
                    f"the {choices['weight_buffer_kb']} KB weight buffer above them "
                    f"({overflow[1]:,} bits), so ZigZag finds no loop ordering"
                )
        return None

    def _weight_shapes(self, base: tuple[int, ...]) -> tuple[tuple[int, int, int, int], ...]:
        """(groups, out/groups, in/groups, kernel taps) of each Conv2d and Linear."""
        if base not in self._weights and self.base.datasets:
            try:
                nn = optional_import("torch.nn", "checking which layers an accelerator runs")
                model = self.base.build(
                    Architecture(self.base.key(base), base), self.base.datasets[0], classes=1
                )
            except DependencyError:
                return ()
            shapes = []
            for m in model.modules():
                if isinstance(m, nn.Conv2d):
                    out, per_group, kh, kw = m.weight.shape
                    shapes.append((m.groups, out // m.groups, per_group, kh * kw))
                elif isinstance(m, nn.Linear):
                    shapes.append((1, m.out_features, m.in_features, 1))
            self._weights[base] = tuple(dict.fromkeys(shapes))
        return self._weights.get(base, ())

    def canonical(self, genes: Sequence[int]) -> tuple[int, ...]:
        base, accel = self._split(genes)
        return self.base.canonical(base) + accel

    def key(self, genes: Sequence[int]) -> str:
        base, accel = self._split(genes)
        return f"{self.base.key(base)}#{self._accel_key(accel)}"

    def _accel_key(self, genes: Sequence[int]) -> str:
        array, wbuf, abuf, flow, bits = (d.choices[g] for d, g in zip(self.ACCEL_DIMENSIONS, genes))
        return f"{array},w{wbuf},a{abuf},{flow},b{bits}"

    def parse(self, text: str) -> Architecture:
        """`NETWORK#ROWSxCOLS,wKB,aKB,DATAFLOW,bBITS`; a network alone gets the template
        (14x12, w32, a1024, ws, b8 -- the nearest choices to eyeriss_like)."""
        text = str(text).strip()
        base_text, sep, accel_text = text.rpartition("#") if "#" in text else (text, "", "")
        base = self.base.parse(base_text)
        if not sep:
            return self.make([*base.genes, 1, 0, 1, 0, 0])
        match = _KEY.match(accel_text.strip())
        if match is None:
            raise SpecError(
                f"{self.name} architecture {text!r}: accelerator {accel_text!r} is not "
                "ROWSxCOLS,wKB,aKB,DATAFLOW,bBITS (e.g. 14x12,w32,a1024,ws,b8)"
            )
        values = (f"{match[1]}x{match[2]}", int(match[3]), int(match[4]), match[5], int(match[6]))
        genes = []
        for dim, value in zip(self.ACCEL_DIMENSIONS, values):
            if value not in dim.choices:
                raise SpecError(
                    f"{self.name} architecture {text!r}: {dim.name} {value!r} is not one of "
                    f"{', '.join(map(str, dim.choices))}"
                )
            genes.append(dim.choices.index(value))
        return self.make([*base.genes, *genes])

    # --- the two halves ---------------------------------------------------------------
    def base_arch(self, arch: Architecture) -> Architecture:
        """The network alone, an architecture of the wrapped space."""
        base, _ = self._split(arch.genes)
        return Architecture(self.base.key(base), base)

    def choices(self, arch: Architecture) -> dict[str, Any]:
        _, accel = self._split(arch.genes)
        return {d.name: d.choices[g] for d, g in zip(self.ACCEL_DIMENSIONS, accel)}

    def accelerator(self, arch: Architecture) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
        """(ZigZag accelerator description, ZigZag mapping, operand bits) of `arch`."""
        c = self.choices(arch)
        hardware = copy.deepcopy(_template())
        hardware["name"] = f"eyeriss_like-{self._accel_key(self._split(arch.genes)[1])}"
        rows, cols = (int(x) for x in str(c["pe_array"]).split("x"))
        array = hardware["operational_array"]
        array["sizes"] = [rows, cols]
        scale = (int(c["bits"]) / 8) ** 2
        array["unit_energy"] *= scale
        array["unit_area"] *= scale
        memories = hardware["memories"]
        _scaled_sram(memories["sram_64KB"], _WEIGHT_SRAM, int(c["weight_buffer_kb"]))
        _scaled_sram(memories["sram_1M"], _ACT_SRAM, int(c["act_buffer_kb"]))
        d1, d2 = UNROLL[str(c["dataflow"])]
        mapping = [
            {
                "name": "default",
                "spatial_mapping": {"D1": [f"{d1}, {rows}"], "D2": [f"{d2}, {cols}"]},
                "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"},
            }
        ]
        return hardware, mapping, int(c["bits"])

    # --- encodings: the network's own, the accelerator one-hot beside it -------------
    def encode(self, archs: Sequence[Architecture], kind: str = "onehot") -> np.ndarray:
        if kind in ("vector", "onehot") or kind not in self.base.encodings:
            return super().encode(archs, kind)
        base = np.asarray(self.base.encode([self.base_arch(a) for a in archs], kind))
        genes = np.array([self._split(a.genes)[1] for a in archs], dtype=np.int64)
        hot = [np.eye(len(d.choices))[genes[:, i]] for i, d in enumerate(self.ACCEL_DIMENSIONS)]
        return np.concatenate([base.reshape(len(archs), -1), *hot], axis=1)

    # --- networks: the wrapped space's --------------------------------------------------
    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        return self.base.build(self.base_arch(arch), dataset, classes)

    def input_shape(self, dataset: str) -> tuple[int, ...]:
        return self.base.input_shape(dataset)

    def arch_input_shape(self, arch: Architecture, dataset: str) -> tuple[int, ...]:
        return self.base.arch_input_shape(self.base_arch(arch), dataset)

    def check_dataset(self, dataset: str) -> str:
        return self.base.check_dataset(dataset)

    def describe(self, arch: Architecture) -> dict[str, Any]:
        return {**self.base.describe(self.base_arch(arch)), **self.choices(arch)}


def accelerated_space(name: str, base: SearchSpace) -> AccelSpace:
    """The joint space of `base`'s networks and the accelerator (`nb201+accel`)."""
    if name != base.name + MARK:
        raise SpecError(f"space {name!r}: write NAME+accel (e.g. nb201+accel)")
    if isinstance(base, AccelSpace):
        raise SpecError(f"space {name!r}: {base.name!r} already has an accelerator")
    if type(base).build is SearchSpace.build:
        raise HwnasError(
            f"space {base.name!r} cannot build networks, so there is nothing to run on an "
            "accelerator"
        )
    cls = type(
        f"Accel{type(base).__name__}",
        (AccelSpace,),
        {
            "name": name,
            "description": f"{base.name} networks x a parametrised Eyeriss-like accelerator",
            "datasets": base.datasets,
            "encodings": base.encodings,
        },
    )
    space: AccelSpace = cls(base)
    return space
