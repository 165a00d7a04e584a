"""HW-NAS-Bench's FBNet-space CIFAR-100 latencies (raspi4, pixel3, eyeriss, fpga) as a
per-layer additive table: latency = BASE + sum over layers of delta[layer, op]. HW-NAS-Bench
itself computes FBNet costs as a sum of per-block lookup entries; the table in
`hwnas/data/fbnet` was reconstructed from HELP's 5,000 samples with a residual below 3e-13 ms
(see hwnas/data/fbnet/README.md). The device names are the NB201 targets' names: on the
fbnet space `latency@raspi4` reads this table."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from hwnas.cost import register_space_source
from hwnas.cost.targets import table_classes
from hwnas.errors import UnknownNameError
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement, MetricSource

TABLE_FILE = "fbnet_cifar100_hwnasbench_layer_deltas.csv"
#: the classes of the networks HW-NAS-Bench timed (CIFAR-100)
TABLE_CLASSES = 100
DEVICES: dict[str, str] = {
    "raspi4": "Raspberry Pi 4 (ARM Cortex-A72 CPU), measured",
    "pixel3": "Google Pixel 3 phone CPU, measured",
    "eyeriss": "ASIC Eyeriss accelerator, simulated",
    "fpga": "FPGA (ZC706) accelerator design, simulated",
}
SOURCE = (
    "HW-NAS-Bench (Li et al., ICLR 2021), MIT, FBNet space, CIFAR-100; per-layer table "
    "reconstructed from HayeonLee/HELP samples [E] (hwnas/data/fbnet/README.md)"
)


@cache
def layer_table(device: str) -> tuple[float, np.ndarray]:
    """(BASE, delta[22, 9]) in ms for one device."""
    import pandas as pd

    from hwnas.spaces.fbnet import N_LAYERS, OPS

    if device not in DEVICES:
        raise UnknownNameError("fbnet device", device, DEVICES)
    path = resources.files("hwnas") / "data" / "fbnet" / TABLE_FILE
    with resources.as_file(path) as p:
        frame = pd.read_csv(p)
    rows = frame[frame["metric"] == f"{device}_latency_ms"]
    base = float(rows.loc[rows["layer"] == -1, "delta_vs_k3_e1"].iloc[0])
    delta = np.full((N_LAYERS, len(OPS)), np.nan)
    for layer, op, value in rows.loc[
        rows["layer"] >= 0, ["layer", "op_idx", "delta_vs_k3_e1"]
    ].itertuples(index=False):
        delta[int(layer), int(op)] = float(value)
    if np.isnan(delta).any():
        raise RuntimeError(f"{TABLE_FILE}: incomplete table for {device}")
    return base, delta


def latency_ms(device: str, genes: Sequence[int]) -> float:
    base, delta = layer_table(device)
    return base + float(sum(delta[i, g] for i, g in enumerate(genes)))


class FBNetLatencySource(MetricSource):
    cheap = True

    def __init__(self, device: str, metric: str, classes: dict[str, int] | None = None) -> None:
        self.table_device = device  # a table column: no device is occupied
        self.metric = metric
        self.provenance: dict[str, Any] = {
            "kind": "table",
            "table": f"fbnet/{TABLE_FILE}",
            "meaning": f"latency on {DEVICES[device]}, sum of per-layer entries",
            "source": SOURCE,
            "unit": "ms",
            "input": "CIFAR-100 network, 32x32",
            **(classes or {}),  # the search's class count, where it is not the table's
        }

    def evaluate_one(self, arch: Any) -> Measurement:
        return Measurement(latency_ms(self.table_device, arch.genes), self.provenance)


def _factory(device: str) -> Any:
    def make(ctx: EvalContext, metric: Metric) -> MetricSource:
        if metric.base != "latency":
            raise UnknownNameError(
                f"metric of target {device!r} on fbnet", metric.base, ["latency"]
            )
        return FBNetLatencySource(device, metric.name, table_classes(ctx, TABLE_CLASSES))

    return make


for _device in DEVICES:
    register_space_source(_device, "fbnet")(_factory(_device))
