"""NAS-Bench-201 table shipped in `hwnas/data/nb201` (see its README for provenance):
accuracies, FLOPs and params for three datasets, and CIFAR-10 latencies on 4 HW-NAS-Bench
devices plus 23 device configurations measured by the HELP authors."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas.cost import TARGETS, Target, register_target
from hwnas.cost.targets import table_classes
from hwnas.datasets.catalogue import dataset_info
from hwnas.errors import SpecError, UnknownNameError
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, MetricSource
from hwnas.tabular import TABLES, ColumnSource, TabularBenchmark

if TYPE_CHECKING:
    import pandas as pd

N_ARCHS = 15_625
_MAIN = "nb201_benchmark.csv.gz"
_EXTRA = "nb201_help_extra_devices_latency.csv.gz"

_REF_NATS = "NATS-Bench / NAS-Bench-201 (Dong et al.), MIT; export v-tao/nats-bench-landscape [A]"
_REF_VALID = "NATS-Bench cifar10-valid, mean of 3 seeds, via gabro8a/NAS-Landscapes [B]"
_REF_COST = "NAS-Bench-201 API cost info, exact affine law in op counts [D]"
_REF_HWNB = "HW-NAS-Bench (Li et al., ICLR 2021), MIT, via HayeonLee/HELP [E]"
_REF_HELP = "HELP (Lee et al., NeurIPS 2021), MIT, HayeonLee/HELP [E]; not HW-NAS-Bench"

_ACCURACY = {
    "cifar10": (
        "cifar10valid_valid_acc_200ep",
        "validation accuracy, cifar10-valid split",
        _REF_VALID,
    ),
    "cifar100": (
        "cifar100_test_acc_200ep",
        "test accuracy (the table has no validation split)",
        _REF_NATS,
    ),
    "imagenet16": (
        "imagenet16_test_acc_200ep",
        "test accuracy (the table has no validation split)",
        _REF_NATS,
    ),
}
_TEST_ACCURACY = {
    ds: (f"{ds}_test_acc_200ep", "test accuracy, trained on train+valid, 200 epochs", _REF_NATS)
    for ds in _ACCURACY
}


@dataclass(frozen=True)
class _Device:
    name: str
    column: str
    description: str
    source: str


def _devices() -> list[_Device]:
    hw = {
        "raspi4": "Raspberry Pi 4 (ARM Cortex-A72 CPU), measured",
        "pixel3": "Google Pixel 3 phone CPU, measured",
        "eyeriss": "ASIC Eyeriss accelerator, simulated",
        "fpga": "FPGA (ZC706) accelerator design, simulated",
    }
    out = [_Device(n, f"cifar10_{n}_latency_ms", d, _REF_HWNB) for n, d in hw.items()]
    gpus = {
        "1080ti": "NVIDIA GTX 1080 Ti",
        "2080ti": "NVIDIA RTX 2080 Ti",
        "titan_rtx": "NVIDIA Titan RTX",
        "titanx": "NVIDIA Titan X",
        "titanxp": "NVIDIA Titan Xp",
    }
    for gpu, desc in gpus.items():
        for batch in (1, 32, 256):
            out.append(
                _Device(
                    f"{gpu}_{batch}",
                    f"{gpu}_{batch}_latency_ms",
                    f"{desc} GPU, batch {batch}",
                    _REF_HELP,
                )
            )
    others = {
        "gold_6226": "Intel Xeon Gold 6226 CPU",
        "gold_6240": "Intel Xeon Gold 6240 CPU",
        "silver_4114": "Intel Xeon Silver 4114 CPU",
        "silver_4210r": "Intel Xeon Silver 4210R CPU",
        "pixel2": "Google Pixel 2 phone",
        "samsung_a50": "Samsung Galaxy A50 phone",
        "samsung_s7": "Samsung Galaxy S7 phone",
        "essential_ph_1": "Essential PH-1 phone",
    }
    out += [_Device(n, f"{n}_latency_ms", d, _REF_HELP) for n, d in others.items()]
    return out


DEVICES: tuple[_Device, ...] = tuple(_devices())


@lru_cache(maxsize=1)
def load_frame() -> pd.DataFrame:
    """The main table joined with the extra-device latencies, one row per arch index."""
    import pandas as pd

    data = resources.files("hwnas") / "data" / "nb201"
    with resources.as_file(data / _MAIN) as main_path, resources.as_file(data / _EXTRA) as extra:
        frame = pd.read_csv(main_path)
        frame = frame.merge(pd.read_csv(extra), on="arch_index", how="left", validate="1:1")
    if len(frame) != N_ARCHS:
        raise RuntimeError(f"NB201 table has {len(frame)} rows, expected {N_ARCHS}")
    return frame.sort_values("arch_index").reset_index(drop=True)


def arch_from_index(index: int) -> tuple[int, ...]:
    if not 0 <= index < N_ARCHS:
        raise SpecError(f"nb201 index {index} out of range 0..{N_ARCHS - 1}")
    row = load_frame().iloc[index]
    return tuple(int(row[c]) for c in ("op_1_0", "op_2_0", "op_2_1", "op_3_0", "op_3_1", "op_3_2"))


class NB201Table(TabularBenchmark):
    space = "nb201"

    def keys(self) -> list[str]:
        return _keys()

    def values(self, column: str) -> np.ndarray:
        return load_frame()[column].to_numpy(dtype=np.float64)

    def quality(self, ctx: EvalContext, base: str) -> MetricSource:
        mapping = _ACCURACY if base == "accuracy" else _TEST_ACCURACY
        column, meaning, ref = mapping[ctx.dataset]
        return ColumnSource(self, base, column, _prov(meaning, ref, unit="%", dataset=ctx.dataset))

    def counters(self, ctx: EvalContext) -> dict[str, MetricSource]:
        ds, head = ctx.dataset, _classes(ctx, ctx.dataset)  # counted with ds's classifier
        return {
            "flops": ColumnSource(
                self,
                "flops",
                f"{ds}_flops_M",
                _prov("FLOPs", _REF_COST, unit="MFLOPs", dataset=ds, **head),
            ),
            "params": ColumnSource(
                self,
                "params",
                f"{ds}_params_M",
                _prov("parameters", _REF_COST, unit="M", dataset=ds, **head),
            ),
        }


@lru_cache(maxsize=1)
def _keys() -> list[str]:
    return load_frame()["arch_str"].tolist()


def _classes(ctx: EvalContext, tabulated: str) -> dict[str, int]:
    """The class counts of the table's network (that of dataset `tabulated`) and the
    search's, where they differ (`hwnas.cost.targets.table_classes`)."""
    return table_classes(ctx, dataset_info(tabulated).classes)


def _prov(meaning: str, ref: str, **extra: Any) -> dict[str, Any]:
    return {"table": f"nb201/{_MAIN}", "meaning": meaning, "source": ref, **extra}


TABLES.add("nb201", NB201Table())


class NB201DeviceTarget(Target):
    """A device whose NB201 latencies were published (CIFAR-10 inputs, 32x32)."""

    def __init__(self, device: _Device) -> None:
        super().__init__(device.name, device.description, device.source, kind="table")
        self.column = device.column

    def supports(self, ctx: EvalContext) -> bool:
        return ctx.space.name == "nb201"

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        if not self.supports(ctx):
            space = ctx.space.name
            served = [name for name, target in TARGETS.items() if target.serves(ctx)]
            why = (
                f"{self.name!r} publishes latencies of nb201 cells only; "
                f"hwnas metrics --space {space} lists every metric"
            )
            raise UnknownNameError("target", self.name, served, f"for space {space!r} ({why})")
        if metric.base not in self.metrics:
            raise UnknownNameError(f"metric of target {self.name!r}", metric.base, self.metrics)
        table = self.column if self.column.startswith("cifar10_") else _EXTRA
        prov = {
            "table": f"nb201/{table if table == _EXTRA else _MAIN}",
            "meaning": f"latency on {self.description}",
            "source": self.source_ref,
            "unit": "ms",
            "input": "CIFAR-10 network, 32x32 (the only input size published)",
            **_classes(ctx, "cifar10"),
        }
        return ColumnSource(TABLES.get("nb201"), metric.name, self.column, prov)


for _device in DEVICES:
    register_target(NB201DeviceTarget(_device))
