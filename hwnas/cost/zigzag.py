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
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from hwnas._imports import optional_import
from hwnas._io import why_not_a_file
from hwnas.cost import Target, register_target_resolver
from hwnas.cost.zigzag_cache import LayerCache, default_cache
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
#: operand bits of a layer, as ZigZag's ONNX parser defaults them (int8, 16-bit partials)
_PRECISION = {"W": 8, "I": 8, "O_final": 8, "O": 16}


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


# --- ONNX -> ZigZag layers ---------------------------------------------------------------------
def onnx_layers(model: Any) -> list[dict[str, Any]]:
    """The Conv, Gemm and MatMul nodes of an ONNX model (a `ModelProto` or its bytes) as
    ZigZag layers in its user format, as its ONNX parser writes them; a symbolic batch
    axis is 1. Other nodes (adds, pooling, activations) cost nothing, as in ZigZag."""
    onnx = optional_import("onnx", "zigzag targets")
    if isinstance(model, bytes):
        model = onnx.load_from_string(model)
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    shapes = {
        v.name: [
            d.dim_value if d.HasField("dim_value") else 1 for d in v.type.tensor_type.shape.dim
        ]
        for v in [*graph.input, *graph.value_info, *graph.output]
    }
    constants = {i.name for i in graph.initializer} | {
        o for n in graph.node if n.op_type == "Constant" for o in n.output
    }
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    layers = []
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            layer = _conv(attrs, shapes[node.input[0]], shapes[node.output[0]])
        elif node.op_type in ("Gemm", "MatMul"):
            weights_constant = node.input[1] in constants
            ins = shapes[node.input[0]]
            if attrs.get("transA"):
                ins = [ins[1], ins[0]]
            layer = _matmul(ins, shapes[node.output[0]], weights_constant)
        else:
            continue
        layers.append({"operator_type": node.op_type, **layer})
    return layers


def _conv(attrs: dict[str, Any], ins: list[int], out: list[int]) -> dict[str, Any]:
    kernel = list(attrs["kernel_shape"])
    strides = list(attrs.get("strides", [1, 1]))
    dilations = list(attrs.get("dilations", [1, 1]))
    groups = int(attrs.get("group", 1))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if len(kernel) != 2:
        raise HwnasError(f"ZigZag targets model 2-D convolutions, not a {len(kernel)}-D one")
    return {
        "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
        "loop_dims": ["B", "K", "G", "OX", "OY", "C", "FX", "FY"],
        "loop_sizes": [
            max(out[0], 1),
            math.ceil(out[1] / groups),
            groups,
            out[3],
            out[2],
            math.ceil(ins[1] / groups),
            kernel[0],
            kernel[1],
        ],
        "dimension_relations": [
            f"ix={strides[0]}*ox+{dilations[0]}*fx",
            f"iy={strides[1]}*oy+{dilations[1]}*fy",
        ],
        "operand_precision": dict(_PRECISION),
        "pr_loop_dims": ["IX", "IY"],
        "pr_loop_sizes": [ins[3], ins[2]],
        "padding": [[pads[0], pads[2]], [pads[1], pads[3]]],
    }


def _matmul(ins: list[int], out: list[int], weights_constant: bool) -> dict[str, Any]:
    """I[(b)(h)][d][c] * W[c][k] (or W[(b)(h)][c][k] between activations)."""
    if not 2 <= len(ins) <= 4 or len(ins) != len(out):
        raise HwnasError(f"ZigZag targets model 2-4-D matrix products, not {ins} -> {out}")
    batch = [("B", max(ins[0], 1))] if len(ins) >= 3 else []
    heads = [("H", ins[1])] if len(ins) == 4 and ins[1] else []
    outer = batch + heads
    prefix = "".join(f"[{d.lower()}]" for d, _ in outer)
    precision = dict(_PRECISION)
    if not weights_constant:
        precision["W"] = precision["I"]
    return {
        "equation": f"O{prefix}[d][k]+=I{prefix}[d][c]*W{'' if weights_constant else prefix}[c][k]",
        "loop_dims": ["C", "D", "K"] + [d for d, _ in outer],
        "loop_sizes": [ins[-1], ins[-2], out[-1]] + [s for _, s in outer],
        "dimension_relations": [],
        "operand_precision": precision,
    }


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
        workload_data = [{"id": 0, "name": "layer", **layer}]
        workload_validator = WorkloadValidator(workload_data)
        workload_data = workload_validator.normalized_data
        if not workload_validator.validate():
            raise HwnasError(f"ZigZag refused the layer {layer}")
        from zigzag.parser.mapping_validator import MappingValidator

        mapping_validator = MappingValidator(accel.mapping)
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


def network_cost(
    layers: Sequence[dict[str, Any]], accel: Accelerator, cache: LayerCache | None = None
) -> dict[str, Any]:
    """Energy (pJ) and latency (cycles) of a network's layers run one after another on
    `accel`, each distinct layer evaluated once and kept in `cache`."""
    cache = default_cache() if cache is None else cache
    context = json.dumps(
        {"accelerator": accel.digest, **MAPPING_OPTIONS, "zigzag": zigzag_version()},
        sort_keys=True,
    )
    keys = [layer_key(layer) for layer in layers]
    known = cache.get_many(context, set(keys))
    computed = 0
    for key, layer in zip(keys, layers):
        if key not in known:
            known[key] = evaluate_layer(layer, accel)
            cache.put(context, key, *known[key])
            computed += 1
    return {
        "energy_pj": sum(known[k][0] for k in keys),
        "cycles": sum(known[k][1] for k in keys),
        "layers": len(keys),
        "distinct_layers": len(set(keys)),
        "layers_evaluated_now": computed,
    }


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

        return buildable(ctx.space) and not _quantised(ctx.space)

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
        return ZigZagSource(ctx, metric.name, metric.base, load_accelerator(self.accel), self)


def _quantised(space: SearchSpace) -> bool:
    from hwnas.spaces.quant import QuantSpace

    return isinstance(space, QuantSpace)


class ZigZagSource(MetricSource):
    """Exports each network to ONNX and prices its layers; new layer shapes take seconds
    each, so it runs after cheap constraints."""

    cheap = False
    requires = ("torch", "onnx", "zigzag")

    def __init__(
        self, ctx: EvalContext, metric: str, base: str, accel: Accelerator, target: ZigZagTarget
    ) -> None:
        self.ctx = ctx
        self.metric = metric
        self.base = base
        self.accel = accel
        self.clock_mhz = target.clock_mhz
        self.provenance = {
            "kind": "analytic",
            "model": f"ZigZag {zigzag_version()}",
            "accelerator": accel.name,
            "accelerator_source": accel.origin,
            "accelerator_sha256": accel.digest,
            "mapping_search": dict(MAPPING_OPTIONS),
            "unit": "ms" if base == "latency" else "mJ",
        }

    def evaluate_one(self, arch: Architecture) -> Measurement:
        from hwnas.cost.targets import network_classes
        from hwnas.models.onnx import to_onnx

        classes, head = network_classes(self.ctx)
        space = self.ctx.space
        model = space.build(arch, self.ctx.dataset, classes)
        layers = onnx_layers(to_onnx(model, space.arch_input_shape(arch, self.ctx.dataset)))
        if not layers:
            raise EvaluationError("the network has no Conv, Gemm or MatMul layer to price")
        cost = network_cost(layers, self.accel)
        value = (
            cost["cycles"] / (self.clock_mhz * 1e3)  # cycles / (cycles per ms)
            if self.base == "latency"
            else cost["energy_pj"] * 1e-9
        )
        return Measurement(value, {**self.provenance, **head, **cost, "clock_mhz": self.clock_mhz})


@register_target_resolver("zigzag:ACCEL")
def _resolve(name: str) -> Target | None:
    if not name.startswith("zigzag:"):
        return None
    accel, mhz = parse_target(name)
    load_accelerator(accel)  # an unknown name or a bad file fails now, not mid-search
    return ZigZagTarget(
        name,
        f"ZigZag analytical model of {accel}"
        + (f" at {mhz:g} MHz" if mhz != DEFAULT_CLOCK_MHZ else ""),
        "ZigZag (KU Leuven, MIT licence), https://github.com/KULeuven-MICAS/zigzag",
        kind="analytic",
        metrics=("latency", "energy"),
        accel=accel,
        clock_mhz=mhz,
    )
