"""A local pool of spawned worker processes, one pipe each. A worker that dies (segfault,
`os._exit`, out-of-memory kill) or overruns its timeout is replaced; its evaluation is
retried by policy and then recorded as failed, and the others go on."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from hwnas.errors import HwnasError
from hwnas.executors import register_executor
from hwnas.executors._base import Fault, PoolExecutor, Task, WorkerSetup, evaluate_one
from hwnas.trial import Outcome

#: how long a fresh worker may take to import and resolve the study before it counts as broken
STARTUP_TIMEOUT_S = 300.0


def _worker_main(conn: Connection, setup: WorkerSetup) -> None:
    """Resolve the study, say ready, then evaluate (key, genes) messages until the pipe
    closes (the driver is gone or done)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    from hwnas.executors._base import worker_evaluator

    try:
        worker_evaluator(setup)
    except BaseException as exc:  # noqa: BLE001 - reported to the driver, which raises it
        conn.send(("setup-error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        key, genes, part, prior = message
        try:
            conn.send(("done", evaluate_one(setup, key, genes, part, prior)))
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Worker:
    process: Any
    conn: Connection
    started: float
    ready: bool = False
    task: Task | None = None
    deadline: float | None = None


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed: out of memory?)" if exitcode == -signal.SIGKILL else ""
        return f"worker died from {name}{hint}"
    return f"worker exited with code {exitcode}"


@register_executor("process")
class ProcessExecutor(PoolExecutor):
    description = "a local pool of worker processes; one evaluation per device at a time"
    _ctx = mp.get_context("spawn")
    #: the pool, from the first evaluation (`_start`) to `close`
    _workers: list[_Worker]

    def _slots(self) -> int:
        return self.workers or os.cpu_count() or 1

    def _start(self) -> None:
        self._workers = [self._spawn() for _ in range(self._slots())]

    def _spawn(self) -> _Worker:
        ours, theirs = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main, args=(theirs, self.job.setup), name="hwnas-worker", daemon=True
        )
        process.start()
        theirs.close()
        return _Worker(process, ours, time.monotonic())

    def _can_submit(self) -> bool:
        return any(w.ready and w.task is None for w in self._workers)

    def _submit(self, task: Task) -> None:
        worker = next(w for w in self._workers if w.ready and w.task is None)
        worker.task = task
        worker.deadline = time.monotonic() + self.timeout if self.timeout else None
        worker.conn.send((task.arch.key, task.arch.genes, task.part, task.prior))

    def _wait(self) -> list[tuple[Task, Outcome | Fault]]:
        """Finished or lost evaluations; an empty list when a worker became ready."""
        while True:
            ready_before = sum(w.ready for w in self._workers)
            now = time.monotonic()
            deadlines = [w.deadline for w in self._workers if w.task and w.deadline]
            deadlines += [w.started + STARTUP_TIMEOUT_S for w in self._workers if not w.ready]
            timeout = max(min(deadlines) - now, 0.0) if deadlines else None
            handles: list[Any] = [w.conn for w in self._workers]
            handles += [w.process.sentinel for w in self._workers]
            ready = set(wait(handles, timeout))
            results: list[tuple[Task, Outcome | Fault]] = []
            for i, worker in enumerate(self._workers):
                fault = None
                if worker.conn in ready or worker.process.sentinel in ready:
                    fault = self._receive(worker, results)
                elif worker.task is not None and worker.deadline and now >= worker.deadline:
                    fault = f"timed out after {self.timeout:g} s"
                elif not worker.ready and now >= worker.started + STARTUP_TIMEOUT_S:
                    self.close()
                    raise HwnasError(f"a worker did not start within {STARTUP_TIMEOUT_S:g} s")
                if fault is not None:
                    if not worker.ready:  # died before it was ready: a broken setup
                        self.close()
                        raise HwnasError(f"a process worker could not start: {fault}")
                    if worker.task is not None:
                        results.append((worker.task, Fault(fault)))
                    self._stop(worker)
                    self._workers[i] = self._spawn()
            if results or sum(w.ready for w in self._workers) > ready_before:
                return results

    def _receive(self, worker: _Worker, results: list[tuple[Task, Outcome | Fault]]) -> str | None:
        """Handle what a worker sent; the reason it is lost, if it is."""
        try:
            if worker.conn.poll():
                kind, payload = worker.conn.recv()
            else:
                kind, payload = "dead", None
        except (EOFError, OSError):
            kind, payload = "dead", None
        if kind == "ready":
            worker.ready = True
        elif kind == "done":
            assert worker.task is not None
            results.append((worker.task, payload))
            worker.task = worker.deadline = None
        elif kind == "setup-error":
            self.close()
            raise HwnasError(
                f"a process worker could not resolve the study: {payload} (a plugin registered "
                "in __main__ or outside the module of its class? name its module in the "
                "executor's imports)"
            )
        elif not worker.process.is_alive() or kind == "dead":
            worker.process.join(timeout=5)
            return _death_reason(worker.process.exitcode)
        return None

    def _stop(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()

    def close(self) -> None:
        if not self._started:  # no pool to stop
            return
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for worker in self._workers:
            worker.process.join(timeout=0.5 if worker.task is None else 0)
            self._stop(worker)
        self._workers = []
        self._started = False
