"""Targets and counters for spaces that build networks: analytic counts (`macs`, `params`,
`peak_memory_kb`, `flash_kb`), measured latency on this machine (`latency@local-cpu`), a
roofline estimate from a device spec (`latency@roofline:stm32f746`) and a profiled predictor
(`latency@profiles/pi4.json`). Torch is imported only when a network is built."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from hwnas.cost import Target, bits, register_target, register_target_resolver
from hwnas.cost.lut import LatencyPredictor
from hwnas.cost.measure import MeasureConfig, measure, networks
from hwnas.errors import EvaluationError, HwnasError, SpecError, UnknownNameError
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import Architecture, SearchSpace, get_space
from hwnas.spaces.quant import QuantSpace


def buildable(space: SearchSpace) -> bool:
    return type(space).build is not SearchSpace.build


@lru_cache(maxsize=2048)
def _counts(space_name: str, dataset: str, key: str, classes: int | None) -> Any:
    from hwnas.cost.analytic import count

    space = get_space(space_name)
    return count(*space.counted_network(space.parse(key), dataset, classes))


def analytic_counts(
    space: SearchSpace, arch: Architecture, dataset: str, classes: int | None = None
) -> Any:
    """`hwnas.cost.analytic.Counts` of an architecture with `classes` outputs (None: the
    dataset's), cached by key; a quantised architecture's carry its bits (counted once per
    float network)."""
    if isinstance(space, QuantSpace):
        base = space.base_arch(arch)
        counts = _counts(space.base.name, dataset, base.key, classes)
        return replace(counts, bits=space.policy(arch))
    return _counts(space.name, dataset, arch.key, classes)


def network_classes(ctx: EvalContext) -> tuple[int | None, dict[str, Any]]:
    """The classes networks are built with in `ctx`, the data's when it names data (None:
    the dataset's), and the provenance entry that records the head's width."""
    from hwnas.datasets import data_classes
    from hwnas.datasets.catalogue import head_classes

    classes = data_classes(ctx.data)
    return classes, {"classes": head_classes(ctx.dataset, classes)}


def table_classes(ctx: EvalContext, tabulated: int) -> dict[str, int]:
    """Provenance entries for a table value whose network had `tabulated` classes, when
    the search builds another count (its data's): the table still answers, since the head
    is a small part of the cost, but the value says whose network it is. Empty otherwise."""
    _, head = network_classes(ctx)
    if head["classes"] == tabulated:
        return {}
    return {"classes_tabulated": tabulated, "classes_searched": head["classes"]}


# --- counters ---------------------------------------------------------------------------------
#: name -> (value from Counts, unit, meaning)
COUNTERS: dict[str, tuple[Callable[[Any], float], str, str]] = {
    "macs": (lambda c: c.macs / 1e6, "M", "multiply-accumulates of conv, linear and matmul"),
    "params": (lambda c: c.params / 1e6, "M", "parameters"),
    "peak_memory_kb": (
        lambda c: bits.peak_memory_bytes(c) / 1e3,
        "kB",
        "peak activation memory, int8 or the architecture's bits (MCUNet rule)",
    ),
    "peak_memory_fp32_kb": (
        lambda c: c.peak_memory_bytes(32) / 1e3,
        "kB",
        "peak activation memory, fp32",
    ),
    "flash_kb": (
        lambda c: bits.flash_bytes(c) / 1e3,
        "kB",
        "weight storage, int8 or the architecture's weight bits, + int32 biases",
    ),
    "flash_fp32_kb": (lambda c: c.flash_bytes(32) / 1e3, "kB", "weight storage, fp32"),
    # in KiB (1024 bytes), as MCU datasheets count SRAM and flash
    "peak_memory_kib": (
        lambda c: bits.peak_memory_bytes(c) / 1024,
        "KiB",
        "peak activation memory, int8 or the architecture's bits (MCUNet rule)",
    ),
    "peak_memory_inplace_kib": (
        lambda c: c.peak_memory_inplace_bytes(8) / 1024,
        "KiB",
        "peak activation memory, int8, depthwise layers in place (TinyEngine, MCUNetV2)",
    ),
    "flash_kib": (
        lambda c: bits.flash_bytes(c) / 1024,
        "KiB",
        "weight storage, int8 or the architecture's weight bits, + int32 biases",
    ),
    "bitops": (
        lambda c: bits.bitops(c) / 1e9,
        "G",
        "bit operations: MACs x weight bits x activation bits (int8 or the architecture's)",
    ),
}


class AnalyticSource(MetricSource):
    cheap = True
    requires = ("torch",)  # counts come from the built network

    def __init__(
        self, ctx: EvalContext, metric: str, fn: Callable[[Any], float], prov: dict[str, Any]
    ) -> None:
        self.ctx = ctx
        self.metric = metric
        self.fn = fn
        self.provenance = prov

    def evaluate_one(self, arch: Architecture) -> Measurement:
        classes, head = network_classes(self.ctx)
        counts = analytic_counts(self.ctx.space, arch, self.ctx.dataset, classes)
        prov = {**self.provenance, **head, "method": counts.method}
        if counts.bits is not None:
            prov["bits"] = [f"{b.block}:w{b.w}a{b.a}" for b in counts.bits]
        return Measurement(float(self.fn(counts)), prov)


def analytic_counters(ctx: EvalContext) -> dict[str, MetricSource]:
    """Counters computed from the built network, for any space that builds."""
    if not buildable(ctx.space):
        return {}
    return {
        name: AnalyticSource(
            ctx,
            name,
            fn,
            {"kind": "analytic", "meaning": meaning, "unit": unit, "dataset": ctx.dataset},
        )
        for name, (fn, unit, meaning) in COUNTERS.items()
    }


def _check_metric(target: Target, metric: Metric) -> None:
    if metric.base not in target.metrics:
        raise UnknownNameError(f"metric of target {target.name!r}", metric.base, target.metrics)


@dataclass
class _NetworkTarget(Target):
    """A target whose figures come from the built network: it serves spaces that build."""

    def supports(self, ctx: EvalContext) -> bool:
        return buildable(ctx.space)

    def _check(self, ctx: EvalContext, metric: Metric) -> None:
        if not self.supports(ctx):
            raise HwnasError(
                f"target {self.name!r} needs networks built, and space {ctx.space.name!r} "
                "cannot build them"
            )
        _check_metric(self, metric)


# --- measured on this machine ----------------------------------------------------------------
@dataclass
class MeasuredTarget(_NetworkTarget):
    backend: str = "onnxruntime"
    device: str = "cpu"

    def config(self) -> MeasureConfig:
        return MeasureConfig(backend=self.backend, device=self.device)

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        self._check(ctx, metric)
        return MeasuredSource(ctx, metric.name, self.config(), self.name)


class MeasuredSource(MetricSource):
    """Builds and measures the batch interleaved; expensive, so it runs after the cheap
    constraints."""

    cheap = False

    def __init__(self, ctx: EvalContext, metric: str, cfg: MeasureConfig, target: str) -> None:
        self.ctx = ctx
        self.metric = metric
        self.cfg = cfg
        self.requires = (
            ("torch", "onnx", "onnxruntime") if cfg.backend == "onnxruntime" else ("torch",)
        )
        self.target = target
        # executors hold this device for one measurement at a time; both CPU backends share it
        self.device = f"local-{cfg.device}"

    def evaluate(self, archs: Sequence[Architecture]) -> list[Measurement]:
        classes, head = network_classes(self.ctx)
        if isinstance(self.ctx.space, QuantSpace):  # int8, with fp32 timed beside it
            from hwnas.cost.int8 import measure_int8

            return [
                Measurement(value, {**prov, **head, "target": self.target})
                for value, prov in measure_int8(
                    self.ctx.space, archs, self.ctx.dataset, classes, self.cfg
                )
            ]
        nets = networks(self.ctx.space, archs, self.ctx.dataset, classes)
        return [
            Measurement(t.value, {**t.provenance, **head, "target": self.target})
            for t in measure(nets, self.cfg)
        ]


MEASURED: tuple[MeasuredTarget, ...] = (
    MeasuredTarget(
        "local-cpu",
        "this machine's CPU, ONNX Runtime, 1 thread",
        "measured here",
        kind="measured",
    ),
    MeasuredTarget(
        "local-cpu-torch",
        "this machine's CPU, PyTorch eager, 1 thread",
        "measured here",
        kind="measured",
        backend="torch",
    ),
    MeasuredTarget(
        "local-cuda",
        "this machine's first CUDA GPU, PyTorch eager, synchronised timing",
        "measured here",
        kind="measured",
        backend="torch",
        device="cuda",
    ),
)
for _t in MEASURED:
    register_target(_t)


def measured_config(target: str) -> MeasureConfig:
    """The measurement settings of a local target name (for profiling)."""
    for t in MEASURED:
        if t.name == target:
            return t.config()
    raise UnknownNameError("local target to measure on", target, [t.name for t in MEASURED])


# --- roofline ----------------------------------------------------------------------------------
@dataclass
class RooflineTarget(_NetworkTarget):
    spec_name: str = ""

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        from hwnas.cost.roofline import load_spec

        self._check(ctx, metric)
        return RooflineSource(ctx, metric.name, load_spec(self.spec_name))


class RooflineSource(MetricSource):
    cheap = True
    requires = ("torch",)  # layer shapes come from the built network

    def __init__(self, ctx: EvalContext, metric: str, spec: Any) -> None:
        self.ctx = ctx
        self.metric = metric
        self.spec = spec
        self.provenance = {
            "kind": "analytic",
            "meaning": f"roofline latency on {spec.name} ({spec.default_precision})",
            "spec": spec.name,
            "sources": spec.sources,
            "unit": "ms",
        }
        if spec.efficiency is not None:
            self.provenance["efficiency"] = spec.efficiency
            self.provenance["efficiency_source"] = spec.efficiency_source

    def evaluate_one(self, arch: Architecture) -> Measurement:
        """The roofline latency; a network that does not fit the device's memories fails
        (its evaluation, not the search), since no latency can be had on that device."""
        from hwnas.cost.roofline import bits_provenance, misfit, roofline_seconds

        classes, head = network_classes(self.ctx)
        counts = analytic_counts(self.ctx.space, arch, self.ctx.dataset, classes)
        if reason := misfit(counts, self.spec):
            raise EvaluationError(reason)
        provenance = {**self.provenance, **head}
        if counts.bits is not None:  # a quantised architecture: at its bits
            provenance.update(
                meaning=f"roofline latency on {self.spec.name} at the architecture's bits",
                **bits_provenance(counts, self.spec),
            )
        return Measurement(roofline_seconds(counts, self.spec) * 1e3, provenance)


@register_target_resolver("roofline:SPEC")
def _roofline(name: str) -> Target | None:
    if not name.startswith("roofline:"):
        return None
    from hwnas.cost.roofline import load_spec

    spec = load_spec(name.partition(":")[2])  # validates the name now, not mid-search
    return RooflineTarget(
        name,
        f"roofline model of {spec.name}",
        "; ".join(spec.sources),
        kind="analytic",
        spec_name=name.partition(":")[2],
    )


# --- profiled predictor ------------------------------------------------------------------------
@dataclass
class ProfileTarget(Target):
    path: str = ""

    def supports(self, ctx: EvalContext) -> bool:
        predictor = LatencyPredictor.load(self.path)
        meta = predictor.meta
        if (ctx.space.name, ctx.dataset) != (meta["space"], meta["dataset"]):
            return False
        return network_classes(ctx)[1]["classes"] == predictor.classes()

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        predictor = LatencyPredictor.load(self.path)
        meta = predictor.meta
        if (ctx.space.name, ctx.dataset) != (meta["space"], meta["dataset"]):
            raise HwnasError(
                f"{self.path} predicts {meta['space']}/{meta['dataset']}, not "
                f"{ctx.space.name}/{ctx.dataset}"
            )
        _check_metric(self, metric)
        self._check_classes(ctx, predictor)
        return PredictedSource(metric.name, predictor, self.path)

    def _check_classes(self, ctx: EvalContext, predictor: LatencyPredictor) -> None:
        """Refuse, before anything is evaluated, a profile whose head has another class
        count than the networks the search builds: its head entry would price the wrong
        classifier, silently."""
        searched, profiled = network_classes(ctx)[1]["classes"], predictor.classes()
        if searched == profiled:
            return
        meta = predictor.meta
        made = f" (data {meta['data']})" if meta.get("data") else ""
        if ctx.data is not None:
            again = (
                f"hwnas profile --space {meta['space']} --dataset {meta['dataset']} "
                f"--data {ctx.data} --out PROFILE.json"
            )
            raise SpecError(
                f"{self.path} was measured with a {profiled}-class head{made}, but the "
                f"search's data {ctx.data} has {searched} classes: profile again with {again}"
            )
        fix = f"give --data {meta['data']}" if meta.get("data") else "profile again"
        raise SpecError(
            f"{self.path} was measured with a {profiled}-class head{made}, but without --data "
            f"the search builds {ctx.dataset}'s {searched}-class head: {fix}"
        )


class PredictedSource(MetricSource):
    cheap = True

    def __init__(self, metric: str, predictor: LatencyPredictor, path: str) -> None:
        self.metric = metric
        self.predictor = predictor
        meta = predictor.meta
        self.provenance = {
            "kind": "predicted",
            "profile": path,
            "schema_version": 1,
            "profiled_on": meta.get("host"),
            "runtime": meta.get("runtime"),
            "threads": meta.get("threads"),
            "created": meta.get("created"),
            "classes": predictor.classes(),
            "unit": "ms",
        }

    def evaluate_one(self, arch: Architecture) -> Measurement:
        return Measurement(self.predictor.predict(arch), self.provenance)
