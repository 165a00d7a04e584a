"""How good a latency predictor is: its errors against measured latencies (used for the fit
on the training networks too), the noise floor of the measurements themselves, and
`validate` (`hwnas validate-cost`), which measures held-out networks of the profiled
sub-space and compares them with the predictions."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.cost.lut import LatencyPredictor
from hwnas.cost.measure import (
    BlockTiming,
    MeasureConfig,
    measure,
    measure_referenced,
    networks,
    statistic_of,
)
from hwnas.cost.sampling import sample_archs
from hwnas.cost.targets import measured_config
from hwnas.errors import HwnasError


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
    single repeats (a network's block medians) against their network's median, and the
    statistic of the odd repeats against that of the even ones (split-half: two measurements of the same network).
    `median_mape_est` is half the split-half MAPE: the two halves differ by twice the error
    of a statistic over all the repeats (each half has half the repeats: twice the variance,
    and the difference of two adds them), so it estimates how far the reported figure itself
    is from the network's latency in this session, the least error any predictor can show
    against it. Drift between sessions is not in it."""
    series = [np.asarray(r, dtype=np.float64) for r in repeats if len(r)]
    rel = (
        np.concatenate([np.abs(r - np.median(r)) / np.median(r) for r in series])
        if series
        else np.array([])
    )
    iqr = [(np.percentile(r, 75) - np.percentile(r, 25)) / np.median(r) for r in series]
    halves = [
        abs(statistic_of(r[0::2], statistic) - statistic_of(r[1::2], statistic))
        / statistic_of(r, statistic)
        for r in series
        if len(r) >= 2
    ]
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


def validate(
    path: str | Path,
    n: int = 30,
    seed: int = 12345,
    repeats: int = 11,
    config: MeasureConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Measure `n` held-out architectures (none used in fitting) and compare.

    The profile's reference network (for a schema-1 profile: its first training network) is
    timed beside every chunk again. The top-level figures compare the predictions with the
    measured latencies as they are; `referenced` compares them with the same measurements put
    on the profile's scale (ratio to the reference in the same round, times the reference's
    latency at profiling), which removes the machine's drift since profiling and during the
    run. On a quiet, dedicated device the two agree. `progress(stage, done, total)` hears
    after each chunk of networks measured."""
    predictor = LatencyPredictor.load(path)
    meta = predictor.meta
    space = predictor.space()
    dataset = meta["dataset"]
    statistic = str(meta.get("statistic", "median"))
    base = config or measured_config(meta["target"])  # `config`: as `profile`'s
    cfg = replace(base, repeats=repeats, statistic=statistic)
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
    nets = networks(space, held_out, dataset, predictor.classes())
    ref_meta = meta.get("reference")
    if ref_meta:
        ref_key, ref_then = str(ref_meta["arch"]), float(ref_meta["ms"])
    elif training.get("archs"):
        ref_key, ref_then = str(training["archs"][0]), float(training["measured_ms"][0])
    else:
        ref_key, ref_then = "", math.nan
    referenced: dict[str, Any] = {}
    drift: dict[str, Any] = {}
    # measured a chunk at a time (as `measure` does inside) so that progress can be told
    chunks = [nets[i : i + cfg.chunk] for i in range(0, len(nets), cfg.chunk)]
    timings: list[BlockTiming] = []
    if ref_key:
        (reference,) = networks(space, [space.parse(ref_key)], dataset, predictor.classes())
        ref_ms: list[float] = []
        for chunk in chunks:
            chunk_timings, chunk_ref_ms = measure_referenced(chunk, reference, cfg)
            timings += chunk_timings
            ref_ms += chunk_ref_ms
            if progress is not None:
                progress("held-out networks", len(timings), len(nets))
        normalised = [t.ratio * ref_then for t in timings]
        referenced = {
            **error_report(predicted, normalised),
            "noise_floor": noise_floor([t.ratios or [] for t in timings], "median"),
            "meaning": "measured ratio to the reference network in the same round, times its "
            "latency at profiling: the machine's drift removed",
        }
        drift = {
            "reference": ref_key,
            "now_over_profiled": statistic_of(ref_ms, statistic) / ref_then,
            "meaning": "the reference network's latency now over its latency at profiling",
        }
    else:
        for chunk in chunks:
            timings += measure(chunk, cfg)
            if progress is not None:
                progress("held-out networks", len(timings), len(nets))
    measured = [t.value for t in timings]
    return {
        "profile": str(path),
        "space": meta["space"],
        "dataset": dataset,
        "target": meta["target"],
        "profiled_on": meta.get("host"),
        **error_report(predicted, measured),
        "statistic": statistic,
        "noise_floor": noise_floor([t.block_medians_ms for t in timings], statistic),
        "noisy_measurements": int(sum(t.noisy for t in timings)),
        "drift": drift,
        "referenced": referenced,
        "measurement": {
            k: v
            for k, v in timings[0].provenance.items()
            if k
            not in (
                "median_ms",
                "min_ms",
                "iqr_ms",
                "rel_iqr",
                "drift",
                "runs_per_block",
                "noisy",
                "measured_at",
            )
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
