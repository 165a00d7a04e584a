"""Profiling a device into a latency predictor, as Once-for-All and FBNet do: measure every
distinct layer configuration of a space once (the lookup table), measure a sample of whole
networks, and fit a linear correction of the table's sum (what a whole network costs beyond
its parts: fusion, memory traffic, per-layer overhead). The result is versioned JSON, plain
numbers only, usable as a target anywhere (`latency@FILE.json`).

Every chunk of measurements also times one reference network in each round, and each entry
is stored as its ratio to the reference times the reference's latency over the whole session
(schema 2): on a shared machine whose speed drifts by up to 1.5x within minutes, entries
measured minutes apart are otherwise not on one scale, and the table's sum inherits that."""

from __future__ import annotations

import fnmatch
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._io import atomic_write
from hwnas.errors import EvaluationError, HwnasError, SpecError
from hwnas.spaces import Architecture, LayeredSpace, SearchSpace, get_space

SCHEMA_VERSION = 2
#: schema 1 (no reference network) has the same predictor, so it still loads
READABLE_VERSIONS = (1, 2)
KIND = "hwnas-latency-predictor"
#: ridge penalty on the correction's slopes, relative to their scale (keeps tiny samples sane)
RIDGE = 1e-6


def layered(space: SearchSpace) -> bool:
    """Whether the space splits its networks into separately measurable layers."""
    return isinstance(space, LayeredSpace)


def _features(lut_sum: float, n_layers: int) -> list[float]:
    return [1.0, lut_sum, float(n_layers)]


FEATURES = ("intercept", "lut_sum_ms", "n_layers")


@dataclass
class LatencyPredictor:
    """LUT sum plus a linear correction, loaded from / saved to a profile JSON."""

    meta: dict[str, Any]
    lut: dict[str, float]
    coef: list[float]

    # --- prediction ---------------------------------------------------------------------
    def space(self) -> SearchSpace:
        return get_space(self.meta["space"])

    def lut_sum(self, arch: Architecture) -> tuple[float, int]:
        space = self.space()
        total, n = 0.0, 0
        for signature, _, _ in space.layers(arch, self.meta["dataset"]):  # type: ignore[attr-defined]
            if signature not in self.lut:
                restrict = self.meta.get("restrict")
                why = (
                    f"the profile covers only {restrict} (made with --restrict); search "
                    "within that or profile without it"
                    if restrict
                    else f"profile again with this hwnas version ({self.meta.get('hwnas')} made it)"
                )
                raise EvaluationError(
                    f"layer {signature} of {arch.key} is not in the lookup table: {why}"
                )
            total += self.lut[signature]
            n += 1
        return total, n

    def predict(self, arch: Architecture) -> float:
        """Predicted latency in ms."""
        total, n = self.lut_sum(arch)
        return float(np.dot(self.coef, _features(total, n)))

    # --- artifact -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            **self.meta,
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "correction": {"features": list(FEATURES), "coef": self.coef},
            "lut_ms": self.lut,
        }

    def save(self, path: str | Path) -> None:
        atomic_write(path, json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LatencyPredictor:
        path = Path(path)
        if not path.is_file():
            raise HwnasError(f"latency profile {path} does not exist (make one: hwnas profile)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SpecError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise SpecError(f"{path}: not an hwnas latency profile (kind {KIND!r} expected)")
        if data.get("schema_version") not in READABLE_VERSIONS:
            raise SpecError(
                f"{path}: profile schema_version {data.get('schema_version')!r}, this hwnas "
                f"reads {', '.join(map(str, READABLE_VERSIONS))}; profile the device again "
                "with this version"
            )
        try:
            coef = [float(c) for c in data["correction"]["coef"]]
            lut = {str(k): float(v) for k, v in data["lut_ms"].items()}
            if list(data["correction"]["features"]) != list(FEATURES) or len(coef) != len(FEATURES):
                raise ValueError("unexpected correction features")
            meta = {
                k: v
                for k, v in data.items()
                if k not in ("correction", "lut_ms", "kind", "schema_version")
            }
            meta["space"], meta["dataset"] = str(data["space"]), str(data["dataset"])
            if not all(np.isfinite(coef)) or not all(np.isfinite(list(lut.values()))):
                raise ValueError("coefficients and lookup-table entries must be finite numbers")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SpecError(f"{path}: malformed latency profile ({exc})") from None
        return cls(meta, lut, coef)


def fit_correction(
    lut_sums: Sequence[float], n_layers: Sequence[int], measured: Sequence[float]
) -> list[float]:
    """Least squares on relative error (rows weighted by 1/measured), with a tiny ridge on
    the slopes so that one or two samples still give a defined answer."""
    X = np.array([_features(s, n) for s, n in zip(lut_sums, n_layers)], dtype=np.float64)
    y = np.asarray(measured, dtype=np.float64)
    w = 1.0 / y
    A, b = X * w[:, None], y * w
    gram = A.T @ A
    penalty = RIDGE * np.diag(np.r_[0.0, np.diag(gram)[1:]]) + 1e-12 * np.eye(len(FEATURES))
    return [float(c) for c in np.linalg.solve(gram + penalty, A.T @ b)]


# --- profiling ------------------------------------------------------------------------------
def allowed_choices(space: SearchSpace, restrict: dict[str, list[Any]] | None) -> list[list[int]]:
    """Per dimension, the choice indices a restriction allows: `{"width": [1.0],
    "kernel_*": [3, 5]}` (shell patterns over dimension names, values as the choices)."""
    allowed = [list(range(len(d.choices))) for d in space.dimensions]
    for pattern, values in (restrict or {}).items():
        dims = [i for i, d in enumerate(space.dimensions) if fnmatch.fnmatchcase(d.name, pattern)]
        if not dims:
            raise SpecError(
                f"restriction {pattern!r} matches no dimension of {space.name!r} "
                f"(e.g. {', '.join(d.name for d in space.dimensions[:4])})"
            )
        for i in dims:
            choices = space.dimensions[i].choices
            keep = [c for c, choice in enumerate(choices) if any(_same(choice, v) for v in values)]
            if not keep:
                raise SpecError(
                    f"restriction {pattern}={values}: {space.dimensions[i].name} has choices "
                    f"{', '.join(str(c) for c in choices)}"
                )
            allowed[i] = keep
    return allowed


def _same(choice: Any, value: Any) -> bool:
    try:
        return abs(float(choice) - float(value)) < 1e-9
    except (TypeError, ValueError):
        return str(choice) == str(value)


def parse_restrict(items: Sequence[str]) -> dict[str, list[Any]]:
    """`NAME=V1,V2` strings (the CLI's --restrict) as a restriction dict."""
    out: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise SpecError(f"restriction {item!r}: expected DIMENSION=V1,V2 (e.g. width=1)")
        out[name.strip()] = [v.strip() for v in values.split(",") if v.strip()]
    return out


def sample_archs(
    space: SearchSpace,
    n: int,
    seed: int,
    exclude: set[str] | None = None,
    restrict: dict[str, list[Any]] | None = None,
) -> list[Architecture]:
    """Up to `n` distinct random architectures within the restriction, not in `exclude`."""
    rng = np.random.default_rng(seed)
    allowed = allowed_choices(space, restrict)
    exclude = set(exclude or ())
    out: list[Architecture] = []
    for _ in range(100 * n + 100):
        if len(out) == n:
            break
        genes = [int(rng.choice(a)) for a in allowed]
        if not space.is_valid(genes):
            continue
        arch = space.make(genes)
        if arch.key not in exclude:
            exclude.add(arch.key)
            out.append(arch)
    return out


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
) -> LatencyPredictor:
    """Measure the lookup table and `samples` whole networks on a local target, and fit.
    With `reference` (the default) the first sampled network is timed beside every chunk
    and all figures are put on its scale (see the module docstring)."""
    from hwnas._version import __version__
    from hwnas.cost.measure import measure, measure_referenced, runtime_info
    from hwnas.cost.targets import measured_config

    space = get_space(space_name)
    space.check_dataset(dataset)
    if not layered(space):
        raise HwnasError(
            f"space {space_name!r} does not split into layers, so it cannot be profiled into "
            "a lookup table"
        )
    base = replace(measured_config(target), statistic=statistic)
    if samples < 1:
        raise SpecError(f"profiling needs at least 1 whole-network sample, got {samples}")
    started = time.time()
    archs = sample_archs(space, samples, seed, restrict=restrict)
    ref = (space.build(archs[0], dataset), space.arch_input_shape(archs[0], dataset))
    reference_ms: list[float] = []

    def run(models: list[tuple[Any, tuple[int, ...]]], cfg: Any) -> list[Any]:
        if not reference:
            return measure(models, cfg)
        timings, ref_ms = measure_referenced(models, ref, cfg)
        reference_ms.extend(ref_ms)
        return timings

    units = space.profile_units(dataset, allowed_choices(space, restrict))  # type: ignore[attr-defined]
    unit_cfg = replace(base, repeats=unit_repeats)
    unit_timings: list[Any] = []
    chunk = unit_cfg.chunk
    for start in range(0, len(units), chunk):
        part = units[start : start + chunk]
        unit_timings += run([(make(), shape) for _, make, shape in part], unit_cfg)
        if progress is not None:
            progress("lookup table", min(start + chunk, len(units)), len(units))
    lut_done = time.time()
    net_cfg = replace(base, repeats=net_repeats)
    net_timings: list[Any] = []
    for start in range(0, len(archs), net_cfg.chunk):
        part = archs[start : start + net_cfg.chunk]
        nets = [(space.build(a, dataset), space.arch_input_shape(a, dataset)) for a in part]
        net_timings += run(nets, net_cfg)
        if progress is not None:
            progress("whole networks", min(start + net_cfg.chunk, len(archs)), len(archs))
    scale = _statistic(reference_ms, statistic) if reference else math.nan

    def value(t: Any) -> float:
        return t.ratio * scale if reference else float(t.value)

    lut = {sig: value(t) for (sig, _, _), t in zip(units, unit_timings)}
    measured = [value(t) for t in net_timings]
    info = runtime_info(base)
    meta: dict[str, Any] = {
        "space": space_name,
        "dataset": dataset,
        "input_shape": list(space.input_shape(dataset)),
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


def _statistic(values: Sequence[float], statistic: str) -> float:
    return float(np.min(values) if statistic == "min" else np.median(values))


def _reference_meta(key: str, repeats_ms: Sequence[float], statistic: str) -> dict[str, Any]:
    q1, med, q3 = np.percentile(repeats_ms, [25, 50, 75])
    return {
        "arch": key,
        "ms": _statistic(repeats_ms, statistic),
        "repeats": len(repeats_ms),
        "rel_iqr": float((q3 - q1) / med),
        "meaning": "every table entry and training figure is its time over this network's "
        "in the same round, times `ms` (this network's latency over the whole session)",
    }


# --- validation -----------------------------------------------------------------------------
def kendall_tau(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b (ties counted as neither concordant nor discordant)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    iu = np.triu_indices(len(x), 1)
    sx, sy = dx[iu], dy[iu]
    denom = math.sqrt(float(np.sum(sx != 0)) * float(np.sum(sy != 0)))
    return float(np.sum(sx * sy) / denom) if denom > 0 else math.nan


def error_report(predicted: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    """RMSE, MAPE, shares within +-5% / +-10%, Kendall tau, and the mean signed relative
    error (`bias`: a drift of the whole machine shows here)."""
    p, m = np.asarray(predicted, dtype=np.float64), np.asarray(measured, dtype=np.float64)
    rel = np.abs(p - m) / m
    return {
        "n": len(m),
        "bias": float(np.mean((p - m) / m)) if len(m) else math.nan,
        "rmse_ms": float(np.sqrt(np.mean((p - m) ** 2))) if len(m) else math.nan,
        "mape": float(np.mean(rel)) if len(m) else math.nan,
        "within_5pct": float(np.mean(rel <= 0.05)) if len(m) else math.nan,
        "within_10pct": float(np.mean(rel <= 0.10)) if len(m) else math.nan,
        "kendall_tau": kendall_tau(p, m) if len(m) > 1 else math.nan,
    }


def noise_floor(repeats: Sequence[Sequence[float]], statistic: str = "median") -> dict[str, float]:
    """How reproducible the measurements themselves are, to set beside the predictor's error:
    single repeats against their network's median, and the statistic of the odd repeats
    against that of the even ones (split-half: two measurements of the same network).
    `median_mape_est` is half the split-half MAPE: the two halves differ by twice the error
    of a statistic over all the repeats (each half has half the repeats: twice the variance,
    and the difference of two adds them), so it estimates how far the reported figure itself
    is from the network's latency in this session, the least error any predictor can show
    against it. Drift between sessions is not in it."""
    stat = np.min if statistic == "min" else np.median
    series = [np.asarray(r, dtype=np.float64) for r in repeats if len(r)]
    rel = (
        np.concatenate([np.abs(r - np.median(r)) / np.median(r) for r in series])
        if series
        else np.array([])
    )
    iqr = [(np.percentile(r, 75) - np.percentile(r, 25)) / np.median(r) for r in series]
    halves = [abs(stat(r[0::2]) - stat(r[1::2])) / stat(r) for r in series if len(r) >= 2]
    return {
        "repeat_rel_iqr_median": float(np.median(iqr)) if iqr else math.nan,
        "repeat_mape": float(np.mean(rel)) if len(rel) else math.nan,
        "repeat_within_5pct": float(np.mean(rel <= 0.05)) if len(rel) else math.nan,
        "repeat_within_10pct": float(np.mean(rel <= 0.10)) if len(rel) else math.nan,
        "split_half_mape": float(np.mean(halves)) if halves else math.nan,
        "median_mape_est": float(np.mean(halves)) / 2 if halves else math.nan,
        "split_half_within_5pct": float(np.mean(np.array(halves) <= 0.05)) if halves else math.nan,
        "split_half_within_10pct": float(np.mean(np.array(halves) <= 0.10)) if halves else math.nan,
    }


def validate(path: str | Path, n: int = 30, seed: int = 12345, repeats: int = 11) -> dict[str, Any]:
    """Measure `n` held-out architectures (none used in fitting) and compare.

    The profile's reference network (for a schema-1 profile: its first training network) is
    timed beside every chunk again. The top-level figures compare the predictions with the
    measured latencies as they are; `referenced` compares them with the same measurements put
    on the profile's scale (ratio to the reference in the same round, times the reference's
    latency at profiling), which removes the machine's drift since profiling and during the
    run. On a quiet, dedicated device the two agree."""
    from hwnas.cost.measure import measure, measure_referenced
    from hwnas.cost.targets import measured_config

    predictor = LatencyPredictor.load(path)
    meta = predictor.meta
    space = predictor.space()
    dataset = meta["dataset"]
    statistic = str(meta.get("statistic", "median"))
    cfg = replace(measured_config(meta["target"]), repeats=repeats, statistic=statistic)
    training = meta.get("training", {})
    held_out = sample_archs(
        space,
        n,
        seed,
        exclude=set(training.get("archs", [])),
        restrict=meta.get("restrict") or None,
    )
    if not held_out:
        raise HwnasError(f"{path}: no held-out architecture left in the profiled sub-space")
    predicted = [predictor.predict(a) for a in held_out]
    nets = [(space.build(a, dataset), space.arch_input_shape(a, dataset)) for a in held_out]
    ref_meta = meta.get("reference")
    if ref_meta:
        ref_key, ref_then = str(ref_meta["arch"]), float(ref_meta["ms"])
    elif training.get("archs"):
        ref_key, ref_then = str(training["archs"][0]), float(training["measured_ms"][0])
    else:
        ref_key, ref_then = "", math.nan
    referenced: dict[str, Any] = {}
    drift: dict[str, Any] = {}
    if ref_key:
        ref_arch = space.parse(ref_key)
        reference = (space.build(ref_arch, dataset), space.arch_input_shape(ref_arch, dataset))
        timings, ref_ms = measure_referenced(nets, reference, cfg)
        normalised = [t.ratio * ref_then for t in timings]
        referenced = {
            **error_report(predicted, normalised),
            "noise_floor": noise_floor([t.ratios or [] for t in timings], "median"),
            "meaning": "measured ratio to the reference network in the same round, times its "
            "latency at profiling: the machine's drift removed",
        }
        drift = {
            "reference": ref_key,
            "now_over_profiled": _statistic(ref_ms, statistic) / ref_then,
            "meaning": "the reference network's latency now over its latency at profiling",
        }
    else:
        timings = measure(nets, cfg)
    measured = [t.value for t in timings]
    return {
        "profile": str(path),
        "space": meta["space"],
        "dataset": dataset,
        "target": meta["target"],
        "profiled_on": meta.get("host"),
        **error_report(predicted, measured),
        "statistic": statistic,
        "noise_floor": noise_floor([t.repeats_ms for t in timings], statistic),
        "noisy_measurements": int(sum(t.noisy for t in timings)),
        "drift": drift,
        "referenced": referenced,
        "measurement": {
            k: v
            for k, v in timings[0].provenance.items()
            if k not in ("median_ms", "iqr_ms", "rel_iqr", "number", "noisy", "measured_at")
        },
        "archs": [
            {
                "arch": a.key,
                "predicted_ms": p,
                "measured_ms": t.value,
                "iqr_ms": t.iqr_ms,
                **({"referenced_ms": t.ratio * ref_then} if t.ratios else {}),
            }
            for a, p, t in zip(held_out, predicted, timings)
        ],
    }
