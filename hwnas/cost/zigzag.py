"""Accelerator costs from ZigZag (KU Leuven's analytical DNN-accelerator model, MIT licence,
`pip install "hwnas[zigzag]"`): `latency@zigzag:ACCEL` and `energy@zigzag:ACCEL`, where
ACCEL is one of ZigZag's bundled accelerators (`tpu_like`, `eyeriss_like`, ...) or the
path of a user's accelerator YAML in ZigZag's format.

A network is exported with the one ONNX exporter (`hwnas.models.onnx`, the graph that
measurement times and export ships), its Conv, Gemm and MatMul nodes are read as ZigZag
layers the way ZigZag's own ONNX parser reads them, and each layer is evaluated alone
(ZigZag's mapping search, minimal latency) and summed, as ZigZag sums a workload without
inter-layer data reuse. Each distinct layer is evaluated once per (accelerator, mapping,
options, ZigZag version): results live in a SQLite cache (`hwnas.cost.zigzag_cache`)
shared by workers and runs, so a search pays seconds for each new layer shape only.

Latency is reported in ms at a clock (`zigzag:tpu_like@700mhz`; default 1000 MHz, at which
ms read as millions of cycles), energy in mJ; the cycles and the clock are in provenance."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from hwnas._imports import optional_import
from hwnas._io import why_not_a_file
from hwnas.cost import Target, register_target_resolver
from hwnas.cost.zigzag_cache import LayerCache, default_cache
from hwnas.cost.zigzag_layers import functional_products, layer_macs, module_layers, onnx_layers
from hwnas.errors import EvaluationError, HwnasError, SpecError, UnknownNameError
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import Architecture, SearchSpace

#: ZigZag's bundled accelerators that need in-memory-compute runs (not modelled here)
_IMC = ("aimc", "dimc")
#: how ZigZag picks a layer's mapping; part of every cache key
MAPPING_OPTIONS: dict[str, Any] = {
    "opt": "latency",
    "lpf_limit": 6,
    "nb_spatial_mappings_generated": 3,
    "temporal_mapping_type": "uneven",
}
DEFAULT_CLOCK_MHZ = 1000.0
_CLOCK = re.compile(r"^(?P<accel>.+)@(?P<mhz>[0-9]+(?:\.[0-9]+)?)mhz$", re.IGNORECASE)


def _zigzag(needed_by: str = "zigzag targets") -> Any:
    return optional_import("zigzag", needed_by)


def zigzag_version() -> str:
    from importlib.metadata import version

    return version("zigzag-dse")


@dataclass(frozen=True)
class Accelerator:
    """An accelerator description and the mapping hints ZigZag reads (both as parsed YAML),
    with the digest that keys the cache: a changed file never reads stale results."""

    name: str
    hardware: dict[str, Any]
    mapping: list[dict[str, Any]]
    origin: str

    @property
    def digest(self) -> str:
        text = json.dumps([self.hardware, self.mapping], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _inputs() -> Any:
    return resources.files(_zigzag()) / "inputs"


def bundled_accelerators() -> list[str]:
    """ZigZag's example accelerators that hwnas can use by name."""
    folder = _inputs() / "hardware"
    names = (p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))
    return sorted(n for n in names if n not in _IMC)


def _yaml(text: str, where: str) -> Any:
    yaml = optional_import("yaml", "zigzag targets")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML ({exc})") from None


@cache
def load_accelerator(name_or_path: str) -> Accelerator:
    """A bundled accelerator by name, or a YAML file: its mapping hints are the file beside
    it named `NAME.mapping.yaml` when there is one, else ZigZag's default mapping."""
    inputs = _inputs()
    if name_or_path.endswith((".yaml", ".yml")):
        path = Path(name_or_path)
        if reason := why_not_a_file(path):
            raise HwnasError(f"accelerator file {path} {reason}")
        hardware = _yaml(path.read_text(), str(path))
        mapping_path = path.with_name(path.name.rsplit(".", 1)[0] + ".mapping.yaml")
        if mapping_path.is_file():
            mapping = _yaml(mapping_path.read_text(), str(mapping_path))
            mapping_origin = str(mapping_path)
        else:
            mapping = _yaml((inputs / "mapping" / "default.yaml").read_text(), "default")
            mapping_origin = "ZigZag's default mapping"
        origin = f"{path} (mapping: {mapping_origin})"
        name = str(hardware.get("name", path.stem)) if isinstance(hardware, dict) else path.stem
    else:
        if name_or_path not in bundled_accelerators():
            raise UnknownNameError("ZigZag accelerator", name_or_path, bundled_accelerators())
        hardware = _yaml((inputs / "hardware" / f"{name_or_path}.yaml").read_text(), name_or_path)
        mapping_file = inputs / "mapping" / f"{name_or_path}.yaml"
        if not mapping_file.is_file():
            mapping_file = inputs / "mapping" / "default.yaml"
        mapping = _yaml(mapping_file.read_text(), mapping_file.name)
        name = name_or_path
        origin = f"ZigZag {zigzag_version()} inputs/hardware/{name}.yaml ({mapping_file.name})"
    accel = Accelerator(name, hardware, mapping, origin)
    validate(accel, name_or_path)
    return accel


def validate(accel: Accelerator, where: str) -> None:
    """ZigZag's own validation of the description and the mapping, as a clear error (its
    validators log the reason and may raise on what they do not expect)."""
    from zigzag.parser.accelerator_validator import AcceleratorValidator
    from zigzag.parser.mapping_validator import MappingValidator

    from hwnas.cost.zigzag_cache import quiet_zigzag

    if not isinstance(accel.hardware, dict):
        raise SpecError(f"{where}: an accelerator description is a YAML mapping")
    if not isinstance(accel.mapping, list):
        raise SpecError(f"{where}: a ZigZag mapping is a YAML list of entries")
    with quiet_zigzag(logging.CRITICAL + 1):
        try:
            hardware = AcceleratorValidator(accel.hardware)
            schema = hardware.validator  # Cerberus: the schema's errors, by field
            errors = None if schema.validate(hardware.data) else schema.errors
            valid = errors is None and hardware.validate()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            errors, valid = f"{type(exc).__name__}: {exc}", False
        if not valid:
            raise SpecError(
                f"{where}: not a valid ZigZag accelerator" + (f": {errors}" if errors else "")
            )
        try:
            valid = MappingValidator(accel.mapping).validate()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            valid = False
        if not valid:
            raise SpecError(f"{where}: not a valid ZigZag mapping")


# --- evaluating layers -------------------------------------------------------------------------
def layer_key(layer: dict[str, Any]) -> str:
    return json.dumps(layer, sort_keys=True)


def evaluate_layer(layer: dict[str, Any], accel: Accelerator) -> tuple[float, float]:
    """(energy in pJ, latency in cycles) of one layer alone on `accel`: ZigZag's spatial
    and temporal mapping search (LOMA), the mapping of minimal latency; nothing is saved."""
    _zigzag()
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.parser.accelerator_factory import AcceleratorFactory
    from zigzag.parser.accelerator_validator import AcceleratorValidator
    from zigzag.parser.workload_factory import WorkloadFactory
    from zigzag.parser.workload_validator import WorkloadValidator
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import (
        TemporalMappingGeneratorStage,
    )
    from zigzag.stages.results.reduce_stages import MinimalLatencyStage, SumStage
    from zigzag.stages.workload_iterator import WorkloadStage

    from hwnas.cost.zigzag_cache import quiet_zigzag

    with quiet_zigzag():
        validator = AcceleratorValidator(accel.hardware)
        hardware = validator.normalized_data
        validator.validate()
        # ZigZag's ONNX parser makes a MatMul exactly as a Gemm, but its validator of
        # user layers knows only Gemm: checked as one, named as itself for the mapping
        kind = layer["operator_type"]
        checked = {**layer, "operator_type": "Gemm"} if kind == "MatMul" else layer
        workload_validator = WorkloadValidator([{"id": 0, "name": "layer", **checked}])
        workload_data = workload_validator.normalized_data
        if not workload_validator.validate():
            raise HwnasError(f"ZigZag refused the layer {layer}")
        workload_data[0]["operator_type"] = kind
        from zigzag.parser.mapping_validator import MappingValidator

        mapping_validator = MappingValidator(_with_pooling(accel))
        mapping = mapping_validator.normalized_data
        mapping_validator.validate()
        stages = [
            SumStage,
            WorkloadStage,
            MinimalLatencyStage,
            SpatialMappingGeneratorStage,
            MinimalLatencyStage,
            TemporalMappingGeneratorStage,
            CostModelStage,
        ]
        main = MainStage(
            list_of_callables=stages,  # type: ignore[arg-type]
            accelerator=AcceleratorFactory(hardware).create(),
            workload=WorkloadFactory(workload_data, mapping).create(),
            loma_lpf_limit=MAPPING_OPTIONS["lpf_limit"],
            loma_show_progress_bar=False,
            nb_mappings_generated=MAPPING_OPTIONS["nb_spatial_mappings_generated"],
            enable_mix_spatial_mapping_generation=False,
            access_same_data_considered_as_no_access=True,
            temporal_mapping_type=TemporalMappingType(MAPPING_OPTIONS["temporal_mapping_type"]),
        )
        cme = main.run()[0][0]
    return float(cme.energy_total), float(cme.latency_total2)


def _with_pooling(accel: Accelerator) -> list[dict[str, Any]]:
    """The accelerator's mapping hints, with one for pooling where they have none: the
    channels (G) over the array's first dimension, as ZigZag's own TPU-like mapping does;
    ZigZag's default (output x input channels) would leave a pooling layer one PE."""
    if any(entry.get("name") == "Pooling" for entry in accel.mapping):
        return accel.mapping
    array = accel.hardware.get("operational_array", {})
    dims = list(array.get("dimensions", ["D1", "D2"]))
    rows = int(array.get("sizes", [1])[0])
    links = next(
        (e["memory_operand_links"] for e in accel.mapping if e.get("name") == "default"),
        {"O": "O", "W": "I2", "I": "I1"},
    )
    spatial = {dims[0]: [f"G, {rows}"], **{d: ["C, 1"] for d in dims[1:2]}}
    return [
        *accel.mapping,
        {"name": "Pooling", "spatial_mapping": spatial, "memory_operand_links": links},
    ]


def network_cost(
    layers: Sequence[dict[str, Any]], accel: Accelerator, cache: LayerCache | None = None
) -> dict[str, Any]:
    """Energy (pJ) and latency (cycles) of a network's layers run one after another on
    `accel`, each distinct layer evaluated once and kept in `cache`. A layer ZigZag finds
    no mapping for (the accelerator's memories cannot hold it) fails the network with
    ZigZag's reason, and is remembered as such."""
    cache = default_cache() if cache is None else cache
    context = json.dumps(
        {"accelerator": accel.digest, **MAPPING_OPTIONS, "zigzag": zigzag_version()},
        sort_keys=True,
    )
    keys = [layer_key(layer) for layer in layers]
    known = cache.get_many(context, set(keys))
    failed = cache.failures(context, set(keys) - set(known))
    computed = 0
    for key, layer in zip(keys, layers):
        if key in known:
            continue
        if key not in failed:
            try:
                known[key] = evaluate_layer(layer, accel)
            except _unmappable() as exc:
                failed[key] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
                cache.put_failure(context, key, failed[key])
            else:
                cache.put(context, key, *known[key])
                computed += 1
                continue
        loops = dict(zip(layer["loop_dims"], layer["loop_sizes"]))
        raise EvaluationError(
            f"ZigZag found no mapping of the {layer['operator_type']} layer {loops} on "
            f"{accel.name}: {failed[key]}"
        )
    return {
        "energy_pj": sum(known[k][0] for k in keys),
        "cycles": sum(known[k][1] for k in keys),
        "layers": len(keys),
        "distinct_layers": len(set(keys)),
        "layers_evaluated_now": computed,
    }


def _unmappable() -> tuple[type[Exception], ...]:
    """ZigZag's exceptions for a layer that has no valid mapping on an accelerator."""
    from zigzag.opt.loma.engine import NoValidLoopOrderingFoundException
    from zigzag.opt.loma.memory_allocator import (
        MemoryHierarchyTooSmallException,
        MemoryTooSmallException,
    )

    return (
        NoValidLoopOrderingFoundException,
        MemoryHierarchyTooSmallException,
        MemoryTooSmallException,
    )


# --- the target --------------------------------------------------------------------------------
def parse_target(name: str) -> tuple[str, float]:
    """`zigzag:ACCEL[@NMHZ]` -> (ACCEL, clock in MHz)."""
    rest = name.partition(":")[2]
    if not rest:
        raise SpecError(f"target {name!r}: name an accelerator, e.g. zigzag:tpu_like")
    match = _CLOCK.match(rest)
    if match:
        mhz = float(match["mhz"])
        if mhz <= 0:
            raise SpecError(f"target {name!r}: the clock must be above 0 MHz")
        return match["accel"], mhz
    if "@" in rest:
        raise SpecError(f"target {name!r}: a clock is written @NMHZ, e.g. zigzag:tpu_like@700mhz")
    return rest, DEFAULT_CLOCK_MHZ


@dataclass
class ZigZagTarget(Target):
    accel: str = ""
    clock_mhz: float = DEFAULT_CLOCK_MHZ

    def supports(self, ctx: EvalContext) -> bool:
        from hwnas.cost.targets import buildable

        return buildable(ctx.space) and not _quantised(ctx.space) and not _joint(ctx.space)

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        from hwnas.cost.targets import buildable

        if metric.base not in self.metrics:
            raise UnknownNameError(f"metric of target {self.name!r}", metric.base, self.metrics)
        if not buildable(ctx.space):
            raise HwnasError(
                f"target {self.name!r} needs networks built, and space {ctx.space.name!r} "
                "cannot build them"
            )
        if _quantised(ctx.space):
            raise HwnasError(
                f"target {self.name!r} models 8-bit operands; per-layer bits "
                f"({ctx.space.name}) are not passed to ZigZag: search the unquantised space"
            )
        if _joint(ctx.space):
            raise HwnasError(
                f"target {self.name!r} is one fixed accelerator; space {ctx.space.name!r} "
                "searches the accelerator too: use latency@zigzag:searched"
            )
        return ZigZagSource(ctx, metric.name, metric.base, load_accelerator(self.accel), self)


def _joint(space: SearchSpace) -> bool:
    from hwnas.spaces.accel import AccelSpace

    return isinstance(space, AccelSpace)


def _quantised(space: SearchSpace) -> bool:
    from hwnas.spaces.quant import QuantSpace

    return isinstance(space, QuantSpace)


@lru_cache(maxsize=512)
def _layers_of(space: SearchSpace, dataset: str, key: str, classes: int | None) -> str:
    """The ZigZag layers of a network's ONNX graph (as JSON: cached values must not be
    shared mutables; latency and energy of one network read it once). Read off the module
    (its Conv2d and Linear calls, plus the products a torch.fx trace finds outside
    modules) when that accounts for every MAC the full count finds, else from the
    exported graph: the same layers, without seconds of export per network."""
    from hwnas.cost.targets import analytic_counts
    from hwnas.models.onnx import to_onnx

    arch = space.parse(key)
    model = space.build(arch, dataset, classes)
    shape = space.arch_input_shape(arch, dataset)
    macs = analytic_counts(space, arch, dataset, classes).macs
    layers = module_layers(model, shape)
    if layers is not None and sum(map(layer_macs, layers)) != macs:
        products = functional_products(model, shape)
        layers = None if products is None else layers + products
    if layers is None or sum(map(layer_macs, layers)) != macs:
        layers = onnx_layers(to_onnx(model, shape, dynamic_batch=False))
    return json.dumps(layers)


def network_layers(
    ctx: EvalContext, arch: Architecture, space: SearchSpace | None = None
) -> list[dict[str, Any]]:
    """The ZigZag layers of `arch` (of `space`, default the context's) built as the
    search builds it (the data's classes)."""
    from hwnas.cost.targets import network_classes

    classes, _ = network_classes(ctx)
    layers = json.loads(_layers_of(space or ctx.space, ctx.dataset, arch.key, classes))
    if not layers:
        raise EvaluationError("the network has no Conv, Gemm or MatMul layer to price")
    return list(layers)


class ZigZagSource(MetricSource):
    """Exports each network to ONNX and prices its layers; new layer shapes take seconds
    each, so it runs after cheap constraints."""

    cheap = False
    requires = ("torch", "onnx", "zigzag")
    ctx: EvalContext
    base: str
    clock_mhz: float

    def __init__(
        self, ctx: EvalContext, metric: str, base: str, accel: Accelerator, target: ZigZagTarget
    ) -> None:
        self.ctx = ctx
        self.metric = metric
        self.base = base
        self.accel = accel
        self.clock_mhz = target.clock_mhz
        self.provenance = {
            **self._common(base),
            "accelerator": accel.name,
            "accelerator_source": accel.origin,
            "accelerator_sha256": accel.digest,
        }

    @staticmethod
    def _common(base: str) -> dict[str, Any]:
        return {
            "kind": "analytic",
            "model": f"ZigZag {zigzag_version()}",
            "mapping_search": dict(MAPPING_OPTIONS),
            "unit": "ms" if base == "latency" else "mJ",
        }

    def evaluate_one(self, arch: Architecture) -> Measurement:
        return self._measure(network_layers(self.ctx, arch), self.accel, self.provenance)

    def _measure(
        self, layers: list[dict[str, Any]], accel: Accelerator, prov: dict[str, Any]
    ) -> Measurement:
        from hwnas.cost.targets import network_classes

        cost = network_cost(layers, accel)
        value = (
            cost["cycles"] / (self.clock_mhz * 1e3)  # cycles / (cycles per ms)
            if self.base == "latency"
            else cost["energy_pj"] * 1e-9
        )
        head = network_classes(self.ctx)[1]
        return Measurement(value, {**prov, **head, **cost, "clock_mhz": self.clock_mhz})


@register_target_resolver("zigzag:ACCEL")
def _resolve(name: str) -> Target | None:
    if not name.startswith("zigzag:"):
        return None
    accel, mhz = parse_target(name)
    if accel == "searched":  # the genes' accelerator: hwnas.cost.accel claims it
        return None
    load_accelerator(accel)  # an unknown name or a bad file fails now, not mid-search
    return make_target(ZigZagTarget, name, accel, mhz, f"ZigZag analytical model of {accel}")


def make_target(
    cls: type[ZigZagTarget], name: str, accel: str, mhz: float, what: str
) -> ZigZagTarget:
    """A ZigZag target named `name`, described as `what` (at its clock when not the
    default); both resolvers (`zigzag:ACCEL`, `zigzag:searched`) build theirs here."""
    return cls(
        name,
        what + (f" at {mhz:g} MHz" if mhz != DEFAULT_CLOCK_MHZ else ""),
        "ZigZag (KU Leuven, MIT licence), https://github.com/KULeuven-MICAS/zigzag",
        kind="analytic",
        metrics=("latency", "energy"),
        accel=accel,
        clock_mhz=mhz,
    )
