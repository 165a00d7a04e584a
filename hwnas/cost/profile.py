"""Profiling a device into a latency predictor, as Once-for-All and FBNet do: measure every
distinct layer configuration of a space once (the lookup table), measure a sample of whole
networks, and fit a linear correction of the table's sum (`hwnas.cost.lut` holds the result
and its JSON schema; `hwnas.cost.validate` checks it on held-out networks).

Every chunk of measurements also times one reference network in each round, and each entry
is stored as its ratio to the reference times the reference's latency over the whole session
(schema 2): on a shared machine whose speed drifts by up to 1.5x within minutes, entries
measured minutes apart are otherwise not on one scale, and the table's sum inherits that."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from hwnas._version import __version__
from hwnas.cost.lut import LatencyPredictor, fit_correction
from hwnas.cost.measure import (
    MeasureConfig,
    measure,
    measure_referenced,
    networks,
    runtime_info,
    statistic_of,
)
from hwnas.cost.protocol import BlockTiming
from hwnas.cost.sampling import allowed_choices, parse_restrict, sample_archs
from hwnas.cost.targets import measured_config
from hwnas.cost.validate import error_report, validate
from hwnas.datasets import data_classes
from hwnas.datasets.catalogue import head_classes
from hwnas.errors import HwnasError, SpecError
from hwnas.spaces import LayeredSpace, get_space, list_spaces

#: importable from here as before (README, the CLI and benchmarks/hardware_cost.py do)
__all__ = ["LatencyPredictor", "parse_restrict", "profile", "validate"]


def profilable_spaces() -> list[str]:
    """The registered spaces that split into layers, which `hwnas profile` can profile."""
    return [name for name in list_spaces() if isinstance(get_space(name), LayeredSpace)]


def profile(
    space_name: str,
    dataset: str,
    target: str = "local-cpu",
    samples: int = 30,
    seed: int = 0,
    unit_repeats: int = 7,
    net_repeats: int = 11,
    restrict: dict[str, list[Any]] | None = None,
    statistic: str = "median",
    progress: Callable[[str, int, int], None] | None = None,
    reference: bool = True,
    config: MeasureConfig | None = None,
    data: str | None = None,
) -> LatencyPredictor:
    """Measure the lookup table and `samples` whole networks on a local target, and fit.
    With `reference` (the default) the first sampled network is timed beside every chunk
    and all figures are put on its scale (see the module docstring). `data` (a dataset
    spec, as a search's --data) gives the networks its class count, as a search on that
    data builds them; the profile records it as `classes`."""
    space = get_space(space_name)
    space.check_dataset(dataset)
    if not isinstance(space, LayeredSpace):
        raise HwnasError(
            f"space {space_name!r} does not split into layers, so it cannot be profiled into "
            f"a lookup table (spaces that can: {', '.join(profilable_spaces())})"
        )
    # `config` replaces the target's measurement settings (e.g. another protocol)
    base = replace(config or measured_config(target), statistic=statistic)
    if samples < 1:
        raise SpecError(f"profiling needs at least 1 whole-network sample, got {samples}")
    classes = data_classes(data)
    started = time.time()
    archs = sample_archs(space, samples, seed, restrict=restrict)
    (ref,) = networks(space, archs[:1], dataset, classes)
    reference_ms: list[float] = []

    def run(models: list[tuple[Any, tuple[int, ...]]], cfg: MeasureConfig) -> list[BlockTiming]:
        if not reference:
            return measure(models, cfg)
        timings, ref_ms = measure_referenced(models, ref, cfg)
        reference_ms.extend(ref_ms)
        return timings

    units = space.profile_units(dataset, allowed_choices(space, restrict), classes)
    unit_cfg = replace(base, repeats=unit_repeats)
    unit_timings: list[BlockTiming] = []
    chunk = unit_cfg.chunk
    for start in range(0, len(units), chunk):
        part = units[start : start + chunk]
        unit_timings += run([(make(), shape) for _, make, shape in part], unit_cfg)
        if progress is not None:
            progress("lookup table", min(start + chunk, len(units)), len(units))
    lut_done = time.time()
    net_cfg = replace(base, repeats=net_repeats)
    net_timings: list[BlockTiming] = []
    for start in range(0, len(archs), net_cfg.chunk):
        nets = networks(space, archs[start : start + net_cfg.chunk], dataset, classes)
        net_timings += run(nets, net_cfg)
        if progress is not None:
            progress("whole networks", min(start + net_cfg.chunk, len(archs)), len(archs))
    scale = statistic_of(reference_ms, statistic) if reference else math.nan

    def value(t: BlockTiming) -> float:
        return t.ratio * scale if reference else float(t.value)

    lut = {sig: value(t) for (sig, _, _), t in zip(units, unit_timings)}
    measured = [value(t) for t in net_timings]
    info = runtime_info(base)
    meta: dict[str, Any] = {
        "space": space_name,
        "dataset": dataset,
        "input_shape": list(space.input_shape(dataset)),
        # the head's outputs: the data's classes (profiles without the key: the dataset's)
        "classes": head_classes(dataset, classes),
        **({"data": data} if data is not None else {}),
        "target": target,
        "host": info["host"],
        "cpu": info["cpu"],
        "platform": info["platform"],
        "runtime": info["runtime"],
        "runtime_version": info["version"],
        "device": info["device"],
        "threads": info["threads"],
        "statistic": statistic,
        "hwnas": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "measure": {
            "unit_repeats": unit_repeats,
            "net_repeats": net_repeats,
            "warmup": base.warmup,
            "protocol": base.protocol().describe(),
        },
        "restrict": restrict or {},
        "n_units": len(lut),
        "unit_rel_iqr_median": float(np.median([t.rel_iqr for t in unit_timings])),
        "reference": _reference_meta(archs[0].key, reference_ms, statistic) if reference else None,
        "training": {
            "seed": seed,
            "archs": [a.key for a in archs],
            "measured_ms": measured,
            "raw_ms": [float(t.value) for t in net_timings],
        },
    }
    predictor = LatencyPredictor(meta, lut, [0.0, 1.0, 0.0])
    sums = [predictor.lut_sum(a) for a in archs]
    predictor.coef = fit_correction([s for s, _ in sums], [n for _, n in sums], measured)
    fitted = [predictor.predict(a) for a in archs]
    meta["training"]["fit"] = error_report(fitted, measured)
    meta["seconds"] = {
        "lookup_table": lut_done - started,
        "whole_networks": time.time() - lut_done,
        "total": time.time() - started,
    }
    return predictor


def _reference_meta(key: str, repeats_ms: Sequence[float], statistic: str) -> dict[str, Any]:
    q1, med, q3 = np.percentile(repeats_ms, [25, 50, 75])
    return {
        "arch": key,
        "ms": statistic_of(repeats_ms, statistic),
        "repeats": len(repeats_ms),
        "rel_iqr": float((q3 - q1) / med),
        "meaning": "every table entry and training figure is its time over this network's "
        "in the same round, times `ms` (this network's latency over the whole session)",
    }
