"""Executors run a study's evaluations: in the driver (`inprocess`, the default), in a
local process pool (`process`) or on a Ray cluster (`ray`, the `hwnas[ray]` extra). The
strategy and the ledger stay in the driver; workers get plain data (the configuration and
an architecture) and resolve the metric sources themselves."""

from __future__ import annotations

from hwnas.errors import SpecError
from hwnas.executors._base import (
    Executor,
    Fault,
    Job,
    PoolExecutor,
    Task,
    WorkerSetup,
    evaluate_one,
    plugin_modules,
)
from hwnas.registry import Registry

EXECUTORS: Registry[type[Executor]] = Registry(
    "executor",
    ("hwnas.executors.inprocess", "hwnas.executors.process", "hwnas.executors.ray_cluster"),
)
DEFAULT_EXECUTOR = "inprocess"
register_executor = EXECUTORS.register_class


def make_executor(
    name: str = DEFAULT_EXECUTOR,
    workers: int | None = None,
    timeout: float | None = None,
    retries: int = 1,
    **options: object,
) -> Executor:
    """An executor by name; `options` are executor-specific (e.g. `address` for ray)."""
    cls = EXECUTORS.get(name)
    try:
        return cls(workers=workers, timeout=timeout, retries=retries, **options)  # type: ignore[call-arg]
    except TypeError as exc:
        raise SpecError(f"executor {name!r}: {exc}") from None


list_executors = EXECUTORS.names


__all__ = [
    "DEFAULT_EXECUTOR",
    "EXECUTORS",
    "Executor",
    "Fault",
    "Job",
    "PoolExecutor",
    "Task",
    "WorkerSetup",
    "evaluate_one",
    "list_executors",
    "make_executor",
    "plugin_modules",
    "register_executor",
]
