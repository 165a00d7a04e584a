"""`check_executor`: the `Executor` contract (hwnas/executors/_base.py), checked by running
a small tabular NB201 study on it and in-process and comparing their ledgers."""

from __future__ import annotations

from typing import Any

from hwnas.errors import HwnasError
from hwnas.executors import Executor, make_executor
from hwnas.study import Study
from hwnas.testing._common import expect, expect_raises
from hwnas.trial import STATUSES

#: what the rows are compared on: everything but the wall-clock times
_COMPARED = ("trial", "arch", "genes", "status", "metrics", "provenance", "error")


def check_executor(executor: Executor, *, budget: int = 16, seed: int = 3) -> None:
    """Raise an `AssertionError` naming the broken rule unless `executor` (a fresh one, not
    bound to a study) keeps the executor contract: it refuses to run before a study binds
    it, and a tabular NB201 study run on it (NSGA-II, batches of 8, a constraint that some
    candidates violate) records the same ledger rows as the same study in-process (all
    but the times, each of which is ordered), and `close()` may be called again after."""
    what = f"executor {getattr(executor, 'name', type(executor).__name__)!r}"
    expect(isinstance(executor, Executor), f"{what}: {type(executor).__name__} is no Executor")
    with expect_raises(HwnasError, f"{what}: `job` before a study opened it", "not bound"):
        _ = executor.job
    rows = _rows(executor, budget, seed)
    expect(len(rows) == budget, f"{what}: the study recorded {len(rows)} of {budget} evaluations")
    for row in rows:
        expect(row["status"] in STATUSES, f"{what}: trial {row['trial']} is {row['status']!r}")
        expect(
            0 < row["started"] <= row["finished"],
            f"{what}: trial {row['trial']} started {row['started']}, finished {row['finished']}",
        )
    reference = _rows(make_executor("inprocess"), budget, seed)
    for mine, theirs in zip(rows, reference):
        for field in _COMPARED:
            expect(
                mine[field] == theirs[field],
                f"{what}: trial {mine['trial']} has {field} {mine[field]!r}, in-process "
                f"{theirs[field]!r}; the same seed must give the same evaluations anywhere",
            )
    executor.close()  # idempotent: the study closed it already


def _rows(executor: Executor, budget: int, seed: int) -> list[dict[str, Any]]:
    study = Study(
        objectives=["accuracy:max", "latency@pixel3:min"],
        constraints=["latency@pixel3<=10"],
        strategy="nsga2",
        strategy_options={"population_size": 8},
        budget=budget,
        seed=seed,
        executor=executor,
    )
    return list(study.optimize().ledger.rows())
