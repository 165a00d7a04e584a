"""STAND-IN for the measurement protocol being written on main: the agreed interface only
(warm blocks interleaved between models, median of block medians, IQR, drift), replaced by
the real module when it lands. numpy + stdlib; ONNX Runtime imported when a runner is made."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import HwnasError


@dataclass(frozen=True)
class Protocol:
    """How a model is timed: warm-up runs, then `blocks` interleaved blocks of at least
    `min_block_runs` runs lasting at least `min_block_s`, each after `block_warmup` runs."""

    warmup: int = 5
    blocks: int = 5
    block_warmup: int = 2
    min_block_runs: int = 5
    min_block_s: float = 0.02
    noise_threshold: float = 0.10
    statistic: str = "median"

    def __post_init__(self) -> None:
        if self.warmup < 0 or self.block_warmup < 0 or self.blocks < 1 or self.min_block_runs < 1:
            raise HwnasError(
                f"protocol needs warmup >= 0, block_warmup >= 0, blocks >= 1 and "
                f"min_block_runs >= 1, got {self}"
            )
        if self.min_block_s < 0 or self.noise_threshold <= 0:
            raise HwnasError(f"protocol needs min_block_s >= 0, noise_threshold > 0, got {self}")
        if self.statistic not in ("median", "min"):
            raise HwnasError(f"protocol statistic {self.statistic!r}: median or min")


@dataclass
class BlockTiming:
    median_ms: float
    q1_ms: float
    q3_ms: float
    block_medians_ms: list[float]
    runs_per_block: int
    drift: float
    noisy: bool
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def iqr_ms(self) -> float:
        return self.q3_ms - self.q1_ms


def time_runners(
    runners: Sequence[Callable[[], Any]],
    protocol: Protocol,
    now: Callable[[], float] = time.perf_counter,
) -> list[BlockTiming]:
    """Time each runner in warm blocks interleaved between the runners."""
    runs = []
    for run in runners:
        for _ in range(protocol.warmup):
            run()
        t0 = now()
        run()
        single = max(now() - t0, 1e-7)
        runs.append(max(protocol.min_block_runs, math.ceil(protocol.min_block_s / single)))
    samples: list[list[list[float]]] = [[] for _ in runners]
    for _ in range(protocol.blocks):
        for i, run in enumerate(runners):
            for _ in range(protocol.block_warmup):
                run()
            block = []
            for _ in range(runs[i]):
                t0 = now()
                run()
                block.append((now() - t0) * 1e3)
            samples[i].append(block)
    out = []
    for blocks, n in zip(samples, runs):
        medians = [float(np.median(b)) for b in blocks]
        q1, q3 = (float(v) for v in np.percentile(np.concatenate(blocks), [25, 75]))
        med = float(np.median(medians))
        drift = (medians[-1] - medians[0]) / med if med > 0 else 0.0
        noisy = med <= 0 or (q3 - q1) / med > protocol.noise_threshold
        prov = {"protocol": asdict(protocol), "load_1min": os.getloadavg()[0]}
        out.append(BlockTiming(med, q1, q3, medians, n, drift, noisy, prov))
    return out


def ort_runner(
    onnx_bytes: bytes, threads: int = 1, provider: str = "CPUExecutionProvider"
) -> Callable[[], Any]:
    """One call of the model on a batch-1 random input of the model's input shape."""
    try:
        import onnxruntime as ort
    except ModuleNotFoundError:
        raise HwnasError("measuring needs onnxruntime: pip install onnxruntime") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(onnx_bytes, opts, providers=[provider])
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own types
        raise HwnasError(f"not a valid ONNX model: {str(exc).splitlines()[0]}") from None
    first = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in first.shape]
    feed = {first.name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
    return lambda: session.run(None, feed)


def host_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "host": socket.gethostname(),
        "cpu": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_1min": os.getloadavg()[0],
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(ImportError):
        import onnxruntime

        facts["onnxruntime"] = onnxruntime.__version__
    return facts
