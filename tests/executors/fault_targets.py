"""Test-only targets, registered through the public registry: `latency@fault:MODE:DIR`
misbehaves (MODE) on the architectures whose first edge is `none` and writes one file per
attempt into DIR, so tests can count attempts; every other architecture gets a value.

Workers import this module by name (it defines the target's class), as they would any
plugin; it lives beside the tests, on the import path that the driver hands them."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from hwnas.cost import Target, register_target_resolver
from hwnas.errors import SetupError
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import Architecture

MODES = (
    "raise", "exit", "segv", "sigkill", "hang", "flaky", "device", "rendezvous", "slow", "setup",
)  # fmt: skip


def hits(arch: Architecture) -> bool:
    """The architectures a fault is injected into (about a fifth of NB201)."""
    return arch.genes[0] == 0


class FaultSource(MetricSource):
    cheap = False

    def __init__(self, metric: str, mode: str, folder: Path, device: str | None) -> None:
        self.metric = metric
        self.mode = mode
        self.folder = folder
        self.device = device

    def evaluate(self, archs: Sequence[Architecture]) -> list[Measurement]:
        return [self.evaluate_one(a) for a in archs]

    def evaluate_one(self, arch: Architecture) -> Measurement:
        started = time.time()
        attempt = self.folder / f"{arch.genes}-{uuid.uuid4().hex}"
        attempt.write_text(str(os.getpid()))
        mode = self.mode
        if mode == "device":
            time.sleep(0.05)
        elif mode == "slow":
            time.sleep(0.02)
        elif mode == "rendezvous":
            self._rendezvous()
        elif hits(arch):
            if mode == "raise":
                raise RuntimeError(f"injected failure for {arch.key}")
            if mode == "setup":
                raise SetupError("injected: the data file is gone")
            if mode == "exit":
                os._exit(3)
            if mode == "segv":
                os.kill(os.getpid(), signal.SIGSEGV)
            if mode == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "hang":
                time.sleep(3600)
            if mode == "flaky" and len(list(self.folder.glob(f"{arch.genes}-*"))) == 1:
                os._exit(4)  # the first attempt dies, a retry succeeds
        value = float(sum(arch.genes))
        return Measurement(value, {"pid": os.getpid(), "started": started, "finished": time.time()})

    def _rendezvous(self) -> None:
        """Return once two evaluations are in this method at the same time; raise if that
        does not happen within 60 s (the evaluations ran one after the other)."""
        mark = self.folder / f"in-{uuid.uuid4().hex}"
        mark.write_text("")
        deadline = time.monotonic() + 60
        while len(list(self.folder.glob("in-*"))) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("no other evaluation ran concurrently")
            time.sleep(0.01)


class FaultTarget(Target):
    def __init__(self, name: str, mode: str, folder: Path) -> None:
        super().__init__(name, f"test target that injects {mode}", "tests/executors/faults.py")
        self.mode = mode
        self.folder = folder

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        device = "testdev" if self.mode == "device" else None
        return FaultSource(metric.name, self.mode, self.folder, device)


@register_target_resolver("fault:MODE:DIR")
def _resolve(name: str) -> Target | None:
    kind, _, rest = name.partition(":")
    mode, _, folder = rest.partition(":")
    if kind != "fault" or not folder:
        return None
    return FaultTarget(name, mode, Path(folder))


def objective(mode: str, folder: Path) -> str:
    return f"latency@fault:{mode}:{folder}:min"


def attempts(folder: Path) -> int:
    return len([p for p in folder.iterdir() if not p.name.startswith("in-")])
