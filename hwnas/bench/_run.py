"""One run = one method on one task with one seed, evaluated up to the largest budget;
indicators are read off the prefixes of its evaluation sequence (every method is
budget-agnostic), so one run serves every budget. Runs go to parallel processes."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwnas.bench._indicators import indicators
from hwnas.bench._oracle import BudgetSpent, Evaluator
from hwnas.bench._tasks import Task, context
from hwnas.errors import SpecError

#: prctl(2) option: the signal this process gets when its parent dies (linux/prctl.h)
_PR_SET_PDEATHSIG = 1


def _run_strategy(name: str, options: dict[str, Any]) -> Callable[[Evaluator, int], None]:
    def run(ev: Evaluator, seed: int) -> None:
        from hwnas.strategies import make_strategy

        ctx = ev.ctx
        strategy = make_strategy(name, ctx.problem, seed, options)
        while not ev.done:
            batch = strategy.ask(min(max(strategy.batch_size, 1), ev.budget - len(ev.keys)))
            if not batch:
                break
            start = len(ev.keys)
            ev(batch)
            strategy.tell(ctx.trials(batch, start))

    return run


def _parse_method(method: str) -> tuple[str, dict[str, Any]]:
    """`NAME:key=value,...` -> (NAME, options); values are JSON where they parse."""
    import json

    name, _, opts = method.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, opts.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SpecError(f"method {method!r}: option {item!r} is not KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return name, options


def check_methods(methods: Sequence[str], tasks: Sequence[Task]) -> None:
    """Fail now, before any process starts or file is written, on an unknown method, a
    baseline whose package is missing, or a strategy option its constructor refuses."""
    from hwnas.strategies import list_strategies, make_strategy

    for method in methods:
        method_runner(method)
        name, options = _parse_method(method)
        if name in list_strategies() and tasks:
            make_strategy(name, context(tasks[0]).problem, 0, options)


def method_runner(method: str) -> Callable[[Evaluator, int], None]:
    """`NAME` or `NAME:key=value,...` of an hwnas strategy, or an external baseline."""
    import importlib.util

    from hwnas.bench.baselines import BASELINES, REQUIRES
    from hwnas.errors import missing_dependency
    from hwnas.strategies import list_strategies

    name, options = _parse_method(method)
    if name in BASELINES:
        if options:
            raise SpecError(f"baseline {name!r} runs with its default settings only")
        module = REQUIRES.get(name)
        if module is not None and importlib.util.find_spec(module) is None:
            raise missing_dependency(module, f"baseline {name}")
        return BASELINES.get(name)
    if name not in list_strategies():
        valid = list_strategies() + BASELINES.names()
        from hwnas.errors import UnknownNameError

        raise UnknownNameError("strategy or baseline", name, valid)
    return _run_strategy(name, options)


@dataclass
class RunResult:
    method: str
    task: str
    seed: int
    wall_s: float
    evaluations: int
    #: budget -> indicator -> value
    at: dict[int, dict[str, float]] = field(default_factory=dict)
    #: (evaluations, hv_gap) along the run, for the plot
    curve: list[tuple[int, float]] = field(default_factory=list)


def run_one(
    method: str, task: Task, seed: int, budgets: Sequence[int], curve_step: int = 10
) -> RunResult:
    ctx = context(task)
    budget = max(budgets)
    ev = Evaluator(ctx, budget)
    runner = method_runner(method)
    start = time.perf_counter()
    try:
        runner(ev, seed)
    except BudgetSpent:
        pass
    wall = time.perf_counter() - start
    F = np.array(ev.rows).reshape(-1, len(ctx.metrics))
    result = RunResult(method, task.name, seed, wall, len(ev.keys))
    for b in sorted(set(budgets)):
        result.at[b] = indicators(ctx, ev.keys[:b], F[:b])
    for k in range(curve_step, budget + 1, curve_step):
        result.curve.append((k, indicators(ctx, ev.keys[:k], F[:k])["hv_gap"]))
    return result


def _worker_init(driver: int) -> None:
    """Worker initializer: die with the driver, and one BLAS thread (the runs are the
    parallelism; BLAS threads would only fight)."""
    _die_with(driver)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def _die_with(driver: int) -> None:
    """End this worker when the process `driver` ends. A killed bench left its workers
    running forever: a forked worker holds the task queue's write end itself, so it never
    sees the queue close. Linux: the kernel's parent-death signal; elsewhere (or if it is
    refused) a daemon thread that watches the parent."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if armed:
            if os.getppid() != driver:  # the driver died before the signal was armed
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="hwnas-bench-watchdog", daemon=True).start()


def _job(args: tuple[str, Task, int, tuple[int, ...]]) -> RunResult:
    return run_one(*args)


def run_many(
    methods: Sequence[str],
    tasks: Sequence[Task],
    seeds: Sequence[int],
    budgets: Sequence[int],
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    done: Sequence[RunResult] = (),
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Every method x task x seed, seeds (and everything else) spread over `workers`
    processes; results come back in job order whatever the completion order. Runs in
    `done` (e.g. loaded from a killed bench's file) are reused, not rerun; `on_result`
    sees each new run as soon as it finishes, to store it."""
    check_methods(methods, tasks)
    jobs = [(m, t, s, tuple(budgets)) for t in tasks for m in methods for s in seeds]
    reused = {(r.method, r.task, r.seed): r for r in done}
    results: list[RunResult | None] = [reused.get((m, t.name, s)) for m, t, s, _ in jobs]
    todo = [i for i, r in enumerate(results) if r is None]
    for k, (i, res) in enumerate(_results([jobs[i] for i in todo], todo, workers), start=1):
        results[i] = res
        if on_result:
            on_result(res)
        if progress:
            progress(len(jobs) - len(todo) + k, len(jobs))
    return [r for r in results if r is not None]


def _results(
    jobs: Sequence[tuple[str, Task, int, tuple[int, ...]]], tags: Sequence[int], workers: int
) -> Iterator[tuple[int, RunResult]]:
    """(tag, result) of each job as soon as it finishes (completion order with workers)."""
    if workers <= 1 or len(jobs) <= 1:
        for tag, job in zip(tags, jobs):
            yield tag, _job(job)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
    ) as pool:
        futures = {pool.submit(_job, job): tag for tag, job in zip(tags, jobs)}
        for future in as_completed(futures):
            yield futures[future], future.result()
