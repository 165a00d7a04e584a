"""Latency measurement you can trust: ONNX Runtime (default) or PyTorch eager, one pinned
thread by default, timed by the protocol of `hwnas.cost.protocol` (warm blocks interleaved
across the networks of a batch: steady-state latency, with the machine's drift cancelled),
median, interquartile range, drift, and a `noisy` flag when the spread is too wide to trust
the median. One process measures one device at a time (a lock per device in the process, and
a file lock per device across processes on the host)."""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._imports import optional_import
from hwnas.cost.protocol import (
    NOISE_THRESHOLD,
    BlockTiming,
    Protocol,
    host_facts,
    ort_runner,
    time_runners,
)
from hwnas.errors import HwnasError, UnknownNameError
from hwnas.models.onnx import to_onnx
from hwnas.spaces import Architecture, SearchSpace

BACKENDS: tuple[str, ...] = ("onnxruntime", "torch")
DEVICES: tuple[str, ...] = ("cpu", "cuda")


@dataclass(frozen=True)
class MeasureConfig:
    """Runtime, device and threads, and the protocol (`hwnas.cost.protocol`): `warmup`
    calls per network, then `repeats` interleaved warm blocks of at least `min_block_runs`
    timed calls lasting `min_block_s`, each after `block_warmup` untimed calls."""

    backend: str = "onnxruntime"
    device: str = "cpu"
    threads: int = 1
    warmup: int = 5
    repeats: int = 7
    block_warmup: int = 2
    min_block_runs: int = 5
    min_block_s: float = 0.005
    #: networks prepared and interleaved together (bounds memory on large batches)
    chunk: int = 8
    noise_threshold: float = NOISE_THRESHOLD
    statistic: str = "median"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UnknownNameError("measurement backend", self.backend, BACKENDS)
        if self.device not in DEVICES:
            raise UnknownNameError("measurement device", self.device, DEVICES)
        if self.threads < 1 or self.chunk < 1:
            raise HwnasError(
                "measurement needs threads >= 1 and chunk >= 1, got "
                f"threads={self.threads}, chunk={self.chunk}"
            )
        self.protocol()  # validates the protocol's own settings now, not mid-search

    def protocol(self) -> Protocol:
        return Protocol(
            warmup=self.warmup,
            blocks=self.repeats,
            block_warmup=self.block_warmup,
            min_block_runs=self.min_block_runs,
            min_block_s=self.min_block_s,
            noise_threshold=self.noise_threshold,
            statistic=self.statistic,
        )


def statistic_of(values: Sequence[float] | np.ndarray, statistic: str) -> float:
    """What `statistic` (one of `hwnas.cost.protocol.STATISTICS`) reports for these values."""
    return float(np.min(values) if statistic == "min" else np.median(values))


def networks(
    space: SearchSpace, archs: Iterable[Architecture], dataset: str, classes: int | None = None
) -> list[tuple[Any, tuple[int, ...]]]:
    """(module, input shape) of each architecture with `classes` outputs (None: the
    dataset's), as `measure` takes them."""
    return [(space.build(a, dataset, classes), space.arch_input_shape(a, dataset)) for a in archs]


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
    provider = "CUDAExecutionProvider" if cfg.device == "cuda" else "CPUExecutionProvider"
    if provider not in ort.get_available_providers():  # say what to install, up front
        raise HwnasError(
            "ONNX Runtime has no CUDA execution provider here (install onnxruntime-gpu)"
        )
    # the graph export ships (see hwnas.models.onnx), timed on a batch of 1; ONNX bytes
    # (a quantised graph, hwnas.models.qdq) are timed as they are
    graph = model if isinstance(model, bytes) else to_onnx(model, input_shape)
    return ort_runner(graph, cfg.threads, provider)


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
    """Host, load, runtime, version and threads: recorded with every figure."""
    info: dict[str, Any] = {
        "kind": "measured",
        **host_facts(),
        "runtime": cfg.backend,
        "device": cfg.device,
        "threads": cfg.threads,
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
) -> list[BlockTiming]:
    """Per-call latency of each (module or ONNX bytes, input shape), measured in
    interleaved warm blocks."""
    return _measure(models, cfg or MeasureConfig(), None)[0]


def measure_referenced(
    models: Sequence[tuple[Any, tuple[int, ...]]],
    reference: tuple[Any, tuple[int, ...]],
    cfg: MeasureConfig | None = None,
) -> tuple[list[BlockTiming], list[float]]:
    """As `measure`, with `reference` timed first in every round of every chunk. Each timing
    then carries `ratios` (its block median over the reference's in the same round): on a
    shared machine whose speed drifts by tens of percent within minutes, the ratio of two
    things measured milliseconds apart stays put while either time alone does not. Also
    returns every block median of the reference (ms), whose statistic turns ratios back
    into ms."""
    return _measure(models, cfg or MeasureConfig(), reference)


def _measure(
    models: Sequence[tuple[Any, tuple[int, ...]]],
    cfg: MeasureConfig,
    reference: tuple[Any, tuple[int, ...]] | None,
) -> tuple[list[BlockTiming], list[float]]:
    info = runtime_info(cfg)
    make = _ort_runner if cfg.backend == "onnxruntime" else _torch_runner
    out: list[BlockTiming] = []
    reference_ms: list[float] = []
    with device_lock(cfg.device), _torch_threads(cfg):
        ref_runner = make(reference[0], reference[1], cfg) if reference is not None else None
        for start in range(0, len(models), cfg.chunk):
            chunk = models[start : start + cfg.chunk]
            runners = [make(m, shape, cfg) for m, shape in chunk]
            if ref_runner is None:
                out += _timed(runners, cfg, info)
                continue
            ref, *timings = _timed([ref_runner, *runners], cfg, info)
            reference_ms += ref.block_medians_ms
            for t in timings:
                t.ratios = [a / b for a, b in zip(t.block_medians_ms, ref.block_medians_ms)]
            out += timings
    return out, reference_ms


def _timed(
    runners: list[Callable[[], Any]], cfg: MeasureConfig, info: dict[str, Any]
) -> list[BlockTiming]:
    timings = time_runners(runners, cfg.protocol(), _clock(cfg))
    for t in timings:  # the load is the one read as the timing ended
        t.provenance = {**info, **t.provenance}
    return timings
