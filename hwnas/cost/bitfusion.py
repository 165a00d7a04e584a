"""APQ's published BitFusion table as `latency@bitfusion` and `energy@bitfusion`: the
whole-network cost on the BitFusion bit-flexible accelerator (Sharma et al., ISCA 2018;
simulated, batch 1) is the sum of the table's entries for the network's convolution
shapes at their weight / activation bits, plus its fixed head and tail, as APQ's own
`utils/latency_predictor.py` sums it (Wang et al., CVPR 2020).

Coverage: the `mbv2` space's `pl` layout (ProxylessNAS / OFA / APQ stage widths) at width 1
and 224 pixels (imagenet at resolution 1): kernels 3/5/7, expanded widths of 4 to 6 times
the input in steps of 8 channels, weight and activation bits 4, 6 or 8 (no 4-bit
activations for 7x7 depthwise layers). Anything else is refused with the missing key.

Units: APQ's `test.py` prints the sums as ms and mJ, and the paper's and README's figures
(8.40 ms / 12.18 mJ at 74.1%) are such sums, so the table is in ms and mJ
(docs/benchmarks/bitfusion.md). HAQ's MobileNetV2 table (BISMO, cycles) ships beside it as
a reference (`haq_table`)."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from hwnas._io import loads_json
from hwnas.cost import Target, register_target
from hwnas.cost.targets import table_classes
from hwnas.datasets.catalogue import dataset_info
from hwnas.errors import EvaluationError, HwnasError, SpecError, UnknownNameError
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import Architecture
from hwnas.spaces._mobile import ConvShape

TABLE_FILE = "apq_bitfusion_lut.json.gz"
HAQ_FILE = "haq_qmobilenetv2_imagenet100_batch16_latency_table.npy"
SOURCE = (
    "APQ (Wang et al., CVPR 2020), BSD-2-Clause, mit-han-lab/apq @ 428190a "
    "lut/BitFusion_new.b1.dict: BitFusion (Sharma et al., ISCA 2018) simulated, batch 1 "
    "(hwnas/data/quant/README.md)"
)
UNITS = {"latency": "ms", "energy": "mJ"}
BITS = (4, 6, 8)
COVERAGE = (
    "space mbv2, layout pl, width 1, imagenet at 224 px; expand 4-6, kernel 3/5/7, "
    "W/A bits 4/6/8 (no A4 on 7x7 depthwise)"
)
#: (cin, cout, input side, kernel, stride, padding, groups) of APQ's fixed first layers
#: (stem and first block) and last layers (1x1 to 1280, classifier): the table has one
#: figure for each group, keyed "head" and "tail", without bit-widths
APQ_HEAD = ((3, 32, 224, 3, 2, 1, 1), (32, 32, 112, 3, 1, 1, 32), (32, 16, 112, 1, 1, 0, 1))
APQ_TAIL = ((320, 1280, 7, 1, 1, 0, 1), (1280, 1000, 1, 1, 1, 0, 1))


@cache
def table() -> dict[str, dict[str, float]]:
    """The shipped table: key `"(cin, cout, side, kernel, stride, padding, groups)-WwAa"`
    (and "head", "tail") -> {"latency": ms, "energy": mJ}."""
    data = (resources.files("hwnas") / "data" / "quant" / TABLE_FILE).read_bytes()
    out: dict[str, dict[str, float]] = loads_json(gzip.decompress(data), f"quant/{TABLE_FILE}")
    return out


def haq_table() -> np.ndarray:
    """HAQ's MobileNetV2 table: int64 latency (simulator cycles) of its 53 layers for weight
    bits 1-8 x activation bits 1-8, shape (53, 8, 8); a plain array, read without pickle."""
    with resources.as_file(resources.files("hwnas") / "data" / "quant" / HAQ_FILE) as path:
        arr = np.load(path, allow_pickle=False)
    if arr.dtype != np.int64 or arr.shape != (53, 8, 8):
        raise HwnasError(
            f"quant/{HAQ_FILE}: expected int64 (53, 8, 8), got {arr.dtype} {arr.shape}"
        )
    return arr


def layer_shape(layer: ConvShape) -> tuple[int, ...]:
    """The table's shape tuple of a layer."""
    return (
        layer.cin,
        layer.cout,
        layer.side,
        layer.kernel,
        layer.stride,
        layer.padding,
        layer.groups,
    )


def _fixed_part(layer: ConvShape) -> str | None:
    """Which of APQ's fixed groups a layer belongs to: the stem and the first block are its
    "head", the network's head its "tail"; None for the searched blocks."""
    if layer.part == "stem" or (layer.part == "block" and layer.block == 0):
        return "head"
    return "tail" if layer.part == "head" else None


def bitfusion_cost(
    layers: Sequence[ConvShape],
    bits: Sequence[tuple[int, int]] | None = None,
    metric: str = "latency",
) -> float:
    """Whole-network `metric` (latency ms | energy mJ) on BitFusion: the table's entry of
    every layer at its (weight, activation) bits (None: 8/8 everywhere, as for an fp32
    network), plus APQ's fixed head and tail, which the table gives at one precision only
    (their layers must carry 8/8). Raises `EvaluationError` naming the first layer key the
    table lacks, `SpecError` for bits it cannot read."""
    if metric not in UNITS:
        raise UnknownNameError("BitFusion metric", metric, UNITS)
    layers = list(layers)
    pairs = [(8, 8)] * len(layers) if bits is None else [tuple(b) for b in bits]
    if len(pairs) != len(layers):
        raise SpecError(f"BitFusion cost: {len(pairs)} bit pairs for {len(layers)} layers")
    lut = table()
    fixed: dict[str, list[tuple[int, ...]]] = {"head": [], "tail": []}
    total = 0.0
    for layer, pair in zip(layers, pairs):
        shape = layer_shape(layer)
        if len(pair) != 2 or any(b not in BITS for b in pair):
            raise SpecError(
                f"BitFusion cost: bits {pair!r} of layer {shape}; each of W, A in {BITS}"
            )
        part = _fixed_part(layer)
        if part is not None:
            if pair != (8, 8):
                raise SpecError(
                    f"BitFusion cost: layer {shape} is in APQ's fixed {part}, which the table "
                    f"gives at one precision; it takes 8/8 bits, not W{pair[0]}A{pair[1]}"
                )
            fixed[part].append(shape)
            continue
        key = f"{shape}-W{pair[0]}A{pair[1]}"
        if key not in lut:
            raise EvaluationError(f"BitFusion table has no layer {key!r}; it covers {COVERAGE}")
        total += lut[key][metric]
    for part, expected in (("head", APQ_HEAD), ("tail", APQ_TAIL)):
        if tuple(fixed[part]) != expected:
            raise EvaluationError(
                f"BitFusion table has no {part} of layers {fixed[part]}: its fixed {part} is "
                f"{list(expected)}; it covers {COVERAGE}"
            )
        total += lut[part][metric]
    return total


class BitFusionSource(MetricSource):
    """The network's layers at 8/8 bits, summed from the table; device-free and cheap."""

    cheap = True

    def __init__(self, ctx: EvalContext, metric: Metric) -> None:
        self.ctx = ctx
        self.metric = metric.name
        self.base = metric.base
        self.provenance: dict[str, Any] = {
            "kind": "table",
            "table": f"quant/{TABLE_FILE}",
            "meaning": f"{metric.base} on BitFusion, sum of per-layer entries, W8A8",
            "source": SOURCE,
            "unit": UNITS[metric.base],
            "bits": "W8A8",
            # APQ's table holds ImageNet's 1000-class classifier
            **table_classes(ctx, dataset_info(ctx.dataset).classes),
        }

    def evaluate_one(self, arch: Architecture) -> Measurement:
        layers = self.ctx.space.conv_layers(arch, self.ctx.dataset)  # type: ignore[attr-defined]
        return Measurement(bitfusion_cost(layers, None, self.base), self.provenance)


@dataclass
class BitFusionTarget(Target):
    def supports(self, ctx: EvalContext) -> bool:
        return getattr(ctx.space, "name", None) == "mbv2" and ctx.dataset == "imagenet"

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        if metric.base not in self.metrics:
            raise UnknownNameError(f"metric of target {self.name!r}", metric.base, self.metrics)
        if not self.supports(ctx):
            raise HwnasError(
                f"target {self.name!r} has no figures for {ctx.space.name}/{ctx.dataset}: "
                f"APQ's table covers {COVERAGE}"
            )
        return BitFusionSource(ctx, metric)


register_target(
    BitFusionTarget(
        "bitfusion",
        "BitFusion bit-flexible accelerator (simulated, batch 1): APQ's per-layer table",
        SOURCE,
        kind="table",
        metrics=("latency", "energy"),
    )
)
