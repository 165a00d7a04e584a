"""How hwnas times a network, here and on a board: warm blocks, interleaved.

"Latency" in hwnas is the steady-state time of one batch-1 inference on a warm runtime: the
figure a deployed model that runs repeatedly sees. Timing each network in one long run
measures that, but a shared machine drifts by tens of percent over minutes, so networks
timed minutes apart are not comparable. Interleaving single calls of different networks
cancels the drift but measures cold caches (47-68% slower on this project's machine). The
protocol here does both: each network runs in *blocks* (a few untimed calls that warm its
caches, then consecutive timed calls), blocks of the networks of a batch take turns, and the
figure is the median of the block medians. The spread of the block medians is the drift
estimate. Only numpy and the standard library are imported (onnxruntime lazily), so the
remote agent (`hwnas.cost.agent`) runs the same code on a board.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import HwnasError, UnknownNameError

#: the figure a timing reports: the median of the block medians (default), or the fastest
#: call, which an oversubscribed machine disturbs less (contention only ever adds time)
STATISTICS: tuple[str, ...] = ("median", "min")
#: a timing whose calls' IQR exceeds this fraction of its median is flagged `noisy`
NOISE_THRESHOLD = 0.10


@dataclass(frozen=True)
class Protocol:
    """Warm-up calls once per network, then `blocks` rounds; in each round every network
    runs `block_warmup` untimed calls and at least `min_block_runs` timed calls lasting at
    least `min_block_s` in all."""

    warmup: int = 5
    blocks: int = 5
    block_warmup: int = 2
    min_block_runs: int = 5
    min_block_s: float = 0.02
    noise_threshold: float = NOISE_THRESHOLD
    statistic: str = "median"

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise UnknownNameError("measurement statistic", self.statistic, STATISTICS)
        counts = {
            "warmup": (self.warmup, 0),
            "blocks": (self.blocks, 1),
            "block_warmup": (self.block_warmup, 0),
            "min_block_runs": (self.min_block_runs, 1),
        }
        for name, (value, least) in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise HwnasError(
                    f"measurement protocol: {name} must be an integer >= {least}, got {value!r}"
                )
        for name, number in (
            ("min_block_s", self.min_block_s),
            ("noise_threshold", self.noise_threshold),
        ):
            if (
                isinstance(number, bool)
                or not isinstance(number, (int, float))
                or not (math.isfinite(number) and number >= 0)
            ):
                raise HwnasError(
                    f"measurement protocol: {name} must be a finite number >= 0, got {number!r}"
                )

    def describe(self) -> dict[str, Any]:
        """The protocol as provenance (what a reader needs to repeat the measurement)."""
        return {
            "protocol": "warm blocks, interleaved",
            "warmup": self.warmup,
            "blocks": self.blocks,
            "block_warmup": self.block_warmup,
            "min_block_runs": self.min_block_runs,
            "min_block_s": self.min_block_s,
            "statistic": self.statistic,
        }


@dataclass
class BlockTiming:
    """Per-call latency of one network in ms: the median of its block medians, the IQR of
    all its timed calls, and the drift (range of the block medians over their median)."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    block_medians_ms: list[float]
    runs_per_block: int
    drift: float
    noisy: bool
    provenance: dict[str, Any] = field(default_factory=dict)
    min_ms: float = math.nan
    statistic: str = "median"
    #: per block, this network's block median over the reference's in the same round (only
    #: when measured with a reference; see `hwnas.cost.measure.measure_referenced`)
    ratios: list[float] | None = None

    @property
    def iqr_ms(self) -> float:
        return self.q3_ms - self.q1_ms

    @property
    def rel_iqr(self) -> float:
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else math.inf

    @property
    def value(self) -> float:
        """The configured statistic: the median of block medians, or the fastest call."""
        return self.min_ms if self.statistic == "min" else self.median_ms

    @property
    def ratio(self) -> float:
        """Median of `ratios`: the latency in units of the reference's, drift cancelled."""
        if not self.ratios:
            raise HwnasError("this timing was measured without a reference")
        return float(np.median(self.ratios))


def time_runners(
    runners: Sequence[Callable[[], Any]],
    protocol: Protocol,
    now: Callable[[], float] = time.perf_counter,
) -> list[BlockTiming]:
    """Time each runner (one inference per call) by `protocol`; see the module docstring."""
    runs = []
    for run in runners:
        for _ in range(protocol.warmup):
            run()
        t0 = now()
        run()
        single = max(now() - t0, 1e-7)
        runs.append(max(protocol.min_block_runs, math.ceil(protocol.min_block_s / single)))
    calls: list[list[float]] = [[] for _ in runners]
    medians: list[list[float]] = [[] for _ in runners]
    for _ in range(protocol.blocks):
        for i, run in enumerate(runners):
            for _ in range(protocol.block_warmup):
                run()
            block = []
            for _ in range(runs[i]):
                t0 = now()
                run()
                block.append((now() - t0) * 1e3)
            calls[i] += block
            medians[i].append(float(np.median(block)))
    facts = {**host_facts(), **protocol.describe()}
    return [_summary(c, m, r, protocol, facts) for c, m, r in zip(calls, medians, runs)]


def _summary(
    calls: list[float],
    medians: list[float],
    runs: int,
    protocol: Protocol,
    facts: dict[str, Any],
) -> BlockTiming:
    median = float(np.median(medians))
    q1, q3 = (float(v) for v in np.percentile(calls, [25, 75]))
    drift = (max(medians) - min(medians)) / median if median > 0 else math.inf
    rel = (q3 - q1) / median if median > 0 else math.inf
    noisy = rel > protocol.noise_threshold
    prov = {
        **facts,
        "median_ms": median,
        "min_ms": float(min(calls)),
        "iqr_ms": q3 - q1,
        "rel_iqr": rel,
        "drift": drift,
        "runs_per_block": runs,
        "noisy": noisy,
        "measured_at": time.time(),
    }
    return BlockTiming(
        median, q1, q3, medians, runs, drift, noisy, prov, float(min(calls)), protocol.statistic
    )


def ort_runner(
    onnx_bytes: bytes, threads: int = 1, provider: str = "CPUExecutionProvider"
) -> Callable[[], Any]:
    """One batch-1 inference of an ONNX model with ONNX Runtime on `threads` threads, on a
    fixed random input of the shape the model declares (symbolic dimensions read as 1)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # the agent's only hard requirement besides numpy
        raise HwnasError(
            "measuring ONNX models needs onnxruntime: pip install onnxruntime"
        ) from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if provider not in ort.get_available_providers():
        raise HwnasError(
            f"ONNX Runtime here has no {provider} (available: "
            f"{', '.join(ort.get_available_providers())})"
        )
    try:
        session = ort.InferenceSession(onnx_bytes, opts, providers=[provider])
    except Exception as exc:  # ORT raises its own exception types for a bad graph
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HwnasError(f"ONNX Runtime cannot load the model: {first}") from exc
    rng = np.random.default_rng(0)
    feed = {}
    for spec in session.get_inputs():
        if spec.type != "tensor(float)":
            raise HwnasError(f"model input {spec.name!r} is {spec.type}; only float inputs")
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in spec.shape]
        feed[spec.name] = rng.standard_normal(shape).astype(np.float32)
    # run() returns host arrays, so each call waits for the device (CUDA included)
    return lambda: session.run(None, feed)


def host_facts() -> dict[str, Any]:
    """Where a figure was measured and how busy the machine was: recorded with every one."""
    cpus = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    facts: dict[str, Any] = {
        "host": socket.gethostname(),
        "cpu": _cpu_name(),
        "platform": platform.platform(),
        "cpus": cpus,
        # runnable processes per core: above 1, other work competed for the CPU
        "load_1min": load,
        "busy": bool(load > cpus),
    }
    with contextlib.suppress(ImportError):
        import onnxruntime as ort

        facts["onnxruntime"] = ort.__version__
    return facts


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
