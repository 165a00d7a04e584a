"""Latency measurement you can trust: ONNX Runtime (default) or PyTorch eager, one pinned
thread by default, warm-up, repeats interleaved across the networks of a batch (so a drift of
the machine hits them all alike), median and interquartile range, and a `noisy` flag when the
spread is too wide to trust the median. One process measures one device at a time (a lock per
device in the process, and a file lock per device across processes on the host)."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._imports import optional_import
from hwnas.errors import HwnasError, UnknownNameError
from hwnas.models.onnx import INPUT_NAME, to_onnx
from hwnas.spaces import Architecture, SearchSpace

BACKENDS: tuple[str, ...] = ("onnxruntime", "torch")
#: the figure a measurement reports: the median (default), or the fastest repeat, which a
#: shared, oversubscribed machine disturbs far less (contention only ever adds time)
STATISTICS: tuple[str, ...] = ("median", "min")
DEVICES: tuple[str, ...] = ("cpu", "cuda")
#: a measurement whose IQR exceeds this fraction of its median is flagged `noisy`
NOISE_THRESHOLD = 0.10


@dataclass(frozen=True)
class MeasureConfig:
    backend: str = "onnxruntime"
    device: str = "cpu"
    threads: int = 1
    warmup: int = 5
    repeats: int = 15
    #: each repeat times enough calls to last at least this long (short nets are timed in bulk)
    min_repeat_s: float = 0.005
    #: networks prepared and interleaved together (bounds memory on large batches)
    chunk: int = 8
    noise_threshold: float = NOISE_THRESHOLD
    statistic: str = "median"

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise UnknownNameError("measurement statistic", self.statistic, STATISTICS)
        if self.backend not in BACKENDS:
            raise UnknownNameError("measurement backend", self.backend, BACKENDS)
        if self.device not in DEVICES:
            raise UnknownNameError("measurement device", self.device, DEVICES)
        if self.threads < 1 or self.repeats < 1 or self.warmup < 0 or self.chunk < 1:
            raise HwnasError(
                "measurement needs threads >= 1, repeats >= 1, warmup >= 0 and chunk >= 1, got "
                f"threads={self.threads}, repeats={self.repeats}, warmup={self.warmup}, "
                f"chunk={self.chunk}"
            )


@dataclass
class Timing:
    """Per-call latency of one network: robust statistics over the repeats, in ms."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    repeats_ms: list[float]
    number: int  # calls per repeat
    noisy: bool
    provenance: dict[str, Any] = field(default_factory=dict)
    statistic: str = "median"
    #: per repeat, this network's time over the reference's time in the same round (only
    #: when measured with a reference; see `measure_referenced`)
    ratios: list[float] | None = None

    @property
    def ratio(self) -> float:
        """Median of `ratios`: the latency in units of the reference's, drift cancelled."""
        if not self.ratios:
            raise HwnasError("this timing was measured without a reference")
        return float(np.median(self.ratios))

    @property
    def min_ms(self) -> float:
        return min(self.repeats_ms)

    @property
    def value(self) -> float:
        """The configured statistic: the median, or the fastest repeat."""
        return self.min_ms if self.statistic == "min" else self.median_ms

    @property
    def iqr_ms(self) -> float:
        return self.q3_ms - self.q1_ms

    @property
    def rel_iqr(self) -> float:
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else math.inf


def statistic_of(values: Sequence[float] | np.ndarray, statistic: str) -> float:
    """What `statistic` (one of STATISTICS) reports for these repeats."""
    return float(np.min(values) if statistic == "min" else np.median(values))


def networks(
    space: SearchSpace, archs: Iterable[Architecture], dataset: str
) -> list[tuple[Any, tuple[int, ...]]]:
    """(module, input shape) of each architecture, as `measure` takes them."""
    return [(space.build(a, dataset), space.arch_input_shape(a, dataset)) for a in archs]


# --- one device at a time ----------------------------------------------------------------
_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def lock_path(device: str) -> Path:
    return Path(tempfile.gettempdir()) / f"hwnas-measure-{device}.lock"


@contextlib.contextmanager
def device_lock(device: str) -> Iterator[None]:
    """Exclusive use of `device` for a measurement: in this process, then on this host."""
    with _PROCESS_LOCKS_GUARD:
        lock = _PROCESS_LOCKS.setdefault(device, threading.Lock())
    with lock:
        try:
            import fcntl
        except ImportError:  # not POSIX: the process lock is all there is
            yield
            return
        with open(lock_path(device), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


# --- runners ---------------------------------------------------------------------------------
def _require_torch() -> Any:
    return optional_import("torch", "measuring")


def _ort_runner(model: Any, input_shape: tuple[int, ...], cfg: MeasureConfig) -> Callable[[], Any]:
    ort = optional_import("onnxruntime", "measuring")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cfg.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if cfg.device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise HwnasError(
                "ONNX Runtime has no CUDA execution provider here (install onnxruntime-gpu)"
            )
        providers = ["CUDAExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    # the graph export ships (see hwnas.models.onnx), timed on a batch of 1
    session = ort.InferenceSession(to_onnx(model, input_shape), opts, providers=providers)
    feed = {
        INPUT_NAME: np.random.default_rng(0).standard_normal((1, *input_shape)).astype(np.float32)
    }
    # run() returns host arrays, so each call waits for the device (CUDA included)
    return lambda: session.run(None, feed)


def _torch_runner(
    model: Any, input_shape: tuple[int, ...], cfg: MeasureConfig
) -> Callable[[], Any]:
    torch = _require_torch()
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise HwnasError("torch sees no CUDA device on this machine")
    model = model.eval().to(cfg.device)
    x = torch.randn((1, *input_shape), device=cfg.device)

    def call() -> Any:
        with torch.inference_mode():
            return model(x)

    return call


def _clock(cfg: MeasureConfig) -> Callable[[], float]:
    """A timer that first waits for queued device work, so GPU kernels are inside the span."""
    if cfg.device == "cuda" and cfg.backend == "torch":
        import torch

        def now() -> float:
            torch.cuda.synchronize()
            return time.perf_counter()

        return now
    return time.perf_counter


def runtime_info(cfg: MeasureConfig) -> dict[str, Any]:
    """Host, runtime, version and threads: recorded with every figure."""
    info: dict[str, Any] = {
        "kind": "measured",
        "host": socket.gethostname(),
        "cpu": _cpu_name(),
        "platform": platform.platform(),
        "runtime": cfg.backend,
        "device": cfg.device,
        "threads": cfg.threads,
        "cpus": os.cpu_count(),
        "warmup": cfg.warmup,
        "repeats": cfg.repeats,
        "unit": "ms",
    }
    torch = _require_torch()
    info["torch"] = torch.__version__
    if cfg.backend == "onnxruntime":
        import onnxruntime as ort

        info["version"] = ort.__version__
        info["provider"] = (
            "CUDAExecutionProvider" if cfg.device == "cuda" else "CPUExecutionProvider"
        )
    else:
        info["version"] = torch.__version__
    if cfg.device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


@contextlib.contextmanager
def _torch_threads(cfg: MeasureConfig) -> Iterator[None]:
    """Pin torch's intra-op threads for the measurement (ONNX export runs torch too)."""
    torch = _require_torch()
    before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- the measurement ------------------------------------------------------------------------
def measure(
    models: Sequence[tuple[Any, tuple[int, ...]]], cfg: MeasureConfig | None = None
) -> list[Timing]:
    """Per-call latency of each (module, input shape), measured interleaved."""
    return _measure(models, cfg or MeasureConfig(), None)[0]


def measure_referenced(
    models: Sequence[tuple[Any, tuple[int, ...]]],
    reference: tuple[Any, tuple[int, ...]],
    cfg: MeasureConfig | None = None,
) -> tuple[list[Timing], list[float]]:
    """As `measure`, with `reference` timed first in every round of every chunk. Each timing
    then carries `ratios` (its time over the reference's in the same round): on a shared
    machine whose speed drifts by tens of percent within minutes, the ratio of two things
    measured milliseconds apart stays put while either time alone does not. Also returns
    every repeat of the reference (ms), whose statistic turns ratios back into ms."""
    return _measure(models, cfg or MeasureConfig(), reference)


def _measure(
    models: Sequence[tuple[Any, tuple[int, ...]]],
    cfg: MeasureConfig,
    reference: tuple[Any, tuple[int, ...]] | None,
) -> tuple[list[Timing], list[float]]:
    info = runtime_info(cfg)
    make = _ort_runner if cfg.backend == "onnxruntime" else _torch_runner
    out: list[Timing] = []
    reference_ms: list[float] = []
    with device_lock(cfg.device), _torch_threads(cfg):
        ref_runner = make(reference[0], reference[1], cfg) if reference is not None else None
        for start in range(0, len(models), cfg.chunk):
            chunk = models[start : start + cfg.chunk]
            runners = [make(m, shape, cfg) for m, shape in chunk]
            if ref_runner is None:
                out += _time_interleaved(runners, cfg, info)
                continue
            ref, *timings = _time_interleaved([ref_runner, *runners], cfg, info)
            reference_ms += ref.repeats_ms
            for t in timings:
                t.ratios = [a / b for a, b in zip(t.repeats_ms, ref.repeats_ms)]
            out += timings
    return out, reference_ms


def _time_interleaved(
    runners: list[Callable[[], Any]], cfg: MeasureConfig, info: dict[str, Any]
) -> list[Timing]:
    now = _clock(cfg)
    numbers = []
    for run in runners:
        for _ in range(cfg.warmup):
            run()
        t0 = now()
        run()
        single = max(now() - t0, 1e-7)
        numbers.append(max(1, math.ceil(cfg.min_repeat_s / single)))
    samples: list[list[float]] = [[] for _ in runners]
    for _ in range(cfg.repeats):
        for i, run in enumerate(runners):
            t0 = now()
            for _ in range(numbers[i]):
                run()
            samples[i].append((now() - t0) / numbers[i] * 1e3)
    timings = []
    for values, number in zip(samples, numbers):
        q1, med, q3 = (float(v) for v in np.percentile(values, [25, 50, 75]))
        rel = (q3 - q1) / med if med > 0 else math.inf
        noisy = rel > cfg.noise_threshold
        prov = {
            **info,
            "statistic": cfg.statistic,
            "median_ms": med,
            "min_ms": float(min(values)),
            "iqr_ms": q3 - q1,
            "rel_iqr": rel,
            "number": number,
            "noisy": noisy,
            "measured_at": time.time(),
            # runnable processes per core: above 1, other work competed for the CPU
            "load_1min": os.getloadavg()[0],
        }
        timings.append(
            Timing(med, q1, q3, [float(v) for v in values], number, noisy, prov, cfg.statistic)
        )
    return timings
