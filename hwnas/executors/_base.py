"""What travels to a worker (the pipeline itself is `hwnas.evaluation`'s), and the
scheduler that pools share: batches dispatched together, devices held one evaluation at a time, results
yielded as they complete, lost workers and timeouts retried by policy."""

from __future__ import annotations

import importlib
import json
import math
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from hwnas.config import StudyConfig
from hwnas.errors import HwnasError, SetupError, SpecError
from hwnas.evaluation import FREE, ON_DEVICE, WHOLE, Evaluator, resolve
from hwnas.spaces import Architecture, SearchSpace
from hwnas.trial import FAILED, OK, Outcome


# --- what a worker receives ---------------------------------------------------------------
@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker needs to evaluate for a study, as plain data: the study's
    configuration (the worker resolves the metric sources itself), the modules that
    register the plugins it uses, and the driver's import path."""

    config: dict[str, Any]
    imports: tuple[str, ...] = ()
    sys_path: tuple[str, ...] = ()

    @property
    def cache_key(self) -> str:
        return json.dumps([self.config, self.imports], sort_keys=True)


@dataclass(frozen=True)
class Job:
    """A study's evaluation, as the driver holds it (`evaluator` never leaves the driver)."""

    space: SearchSpace
    evaluator: Evaluator
    setup: WorkerSetup

    @property
    def devices(self) -> tuple[str, ...]:
        return self.evaluator.devices


def plugin_modules(objects: Sequence[object]) -> tuple[str, ...]:
    """Modules that define the given registered objects (targets, sources, spaces, quality
    estimators): importing them in a worker registers the same entries there. `__main__`
    is left out: a spawned process re-runs it by itself."""
    names = {type(o).__module__ for o in objects} | {
        o.__module__ for o in objects if isinstance(o, type)
    }
    return tuple(sorted(n for n in names if n not in ("__main__", "builtins")))


_RESOLVED: dict[str, tuple[SearchSpace, Evaluator]] = {}


def worker_evaluator(setup: WorkerSetup) -> tuple[SearchSpace, Evaluator]:
    """The study's space and pipeline in this process, resolved once per configuration."""
    key = setup.cache_key
    if key not in _RESOLVED:
        for path in setup.sys_path:
            if path not in sys.path:
                sys.path.append(path)
        for module in setup.imports:
            importlib.import_module(module)
        resolved = resolve(StudyConfig.from_dict(setup.config, "the study's configuration"))
        resolved.evaluator.prepare()
        _RESOLVED[key] = (resolved.space, resolved.evaluator)
    return _RESOLVED[key]


def evaluate_one(
    setup: WorkerSetup,
    key: str,
    genes: Sequence[int],
    part: str = WHOLE,
    prior: Outcome | None = None,
) -> Outcome:
    """Evaluate one architecture (or one part of its evaluation) in a worker; never raises
    for a failed evaluation."""
    started = prior.started if prior is not None else time.time()
    try:
        space, evaluator = worker_evaluator(setup)
        arch = space.make(genes)
        if arch.key != key:
            raise HwnasError(f"genes {tuple(genes)} make {arch.key}, expected {key}")
        return next(evaluator.evaluate([arch], part, {key: prior} if prior else None))[1]
    except Exception as exc:  # noqa: BLE001 - recorded as the evaluation's error
        return Outcome(
            FAILED, error=f"{type(exc).__name__}: {exc}", started=started, finished=time.time(),
            stop=isinstance(exc, SetupError),
        )  # fmt: skip


# --- executors ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One part of one candidate's evaluation, as a pool dispatches it."""

    arch: Architecture
    part: str
    prior: Outcome | None = None


@dataclass(frozen=True)
class Fault:
    """An evaluation lost to its worker (death, timeout): retried, unlike an exception."""

    reason: str


class Executor:
    """Runs a study's evaluations. `run(archs)` yields (arch, outcome) as each completes;
    the study commits each to the ledger at once and tells the strategy in ask order."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(
        self, workers: int | None = None, timeout: float | None = None, retries: int = 1
    ) -> None:
        if workers is not None and workers < 1:
            raise SpecError(f"workers must be >= 1, got {workers}")
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            raise SpecError(f"timeout must be a positive number of seconds, got {timeout}")
        if retries < 0:
            raise SpecError(f"retries must be >= 0, got {retries}")
        self.workers = workers
        self.timeout = timeout
        self.retries = retries
        self._job: Job | None = None

    def open(self, job: Job) -> None:
        """Bind to a study; workers start lazily, on the first evaluation."""
        self.close()
        self._job = job

    def run(self, archs: Sequence[Architecture]) -> Iterator[tuple[Architecture, Outcome]]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers (idempotent)."""

    @property
    def job(self) -> Job:
        if self._job is None:
            raise HwnasError("the executor is not bound to a study")
        return self._job


class PoolExecutor(Executor):
    """Shared scheduling of the pools. Subclasses start workers, submit one evaluation,
    and wait for finished ones (reporting deaths and timeouts as `Fault`s).

    Workers import the modules that define the study's plugins by themselves; `imports`
    names further modules to import first (e.g. one that registers a target built from
    a class of another module)."""

    def __init__(
        self,
        workers: int | None = None,
        timeout: float | None = None,
        retries: int = 1,
        imports: Sequence[str] = (),
    ) -> None:
        super().__init__(workers, timeout, retries)
        self.imports = tuple(imports)
        self._started = False

    def open(self, job: Job) -> None:
        if self.imports:
            modules = self.imports + tuple(m for m in job.setup.imports if m not in self.imports)
            job = replace(job, setup=replace(job.setup, imports=modules))
        super().open(job)

    def run(self, archs: Sequence[Architecture]) -> Iterator[tuple[Architecture, Outcome]]:
        """Dispatch the device-free part of every candidate; a candidate that passes it
        goes on to its device part, which waits for a free unit of each device it uses."""
        if not archs:
            return
        if not self._started:
            self._start()
            self._started = True
        devices = self.job.devices
        queue: deque[Task] = deque(Task(a, FREE) for a in archs)
        attempts: dict[tuple[str, str], int] = {}
        faults: dict[str, list[str]] = {}
        first_dispatch: dict[str, float] = {}
        busy = dict.fromkeys(devices, 0)
        in_flight = 0
        slots = self._slots()

        def ready(task: Task) -> bool:
            return task.part == FREE or all(busy[d] < self._capacity(d) for d in devices)

        while queue or in_flight:
            while in_flight < slots and self._can_submit():
                task = next((t for t in queue if ready(t)), None)
                if task is None:
                    break
                queue.remove(task)
                ident = (task.arch.key, task.part)
                attempts[ident] = attempts.get(ident, 0) + 1
                first_dispatch.setdefault(task.arch.key, time.time())
                self._submit(task)
                in_flight += 1
                if task.part == ON_DEVICE:
                    for d in devices:
                        busy[d] += 1
            for task, result in self._wait():
                in_flight -= 1
                if task.part == ON_DEVICE:
                    for d in devices:
                        busy[d] -= 1
                if isinstance(result, Fault):
                    faults.setdefault(task.arch.key, []).append(result.reason)
                    tries = attempts[(task.arch.key, task.part)]
                    if tries <= self.retries:
                        queue.appendleft(task)
                        continue
                    reasons = "; ".join(faults[task.arch.key])
                    error = result.reason + (f" ({tries} attempts: {reasons})" if tries > 1 else "")
                    kept = task.prior or Outcome(FAILED)
                    result = Outcome(
                        FAILED,
                        kept.values,
                        kept.provenance,
                        error,
                        first_dispatch[task.arch.key],
                        time.time(),
                    )
                elif task.part == FREE and devices and result.status == OK:
                    queue.appendleft(Task(task.arch, ON_DEVICE, result))
                    continue
                yield task.arch, result

    # subclass hooks
    def _start(self) -> None:
        raise NotImplementedError

    def _slots(self) -> int:
        raise NotImplementedError

    def _capacity(self, device: str) -> int:
        return 1

    def _can_submit(self) -> bool:
        return True

    def _submit(self, task: Task) -> None:
        raise NotImplementedError

    def _wait(self) -> list[tuple[Task, Outcome | Fault]]:
        """Block until at least one submitted evaluation finished, died or timed out."""
        raise NotImplementedError
