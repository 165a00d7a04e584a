"""Strategy benchmarks on tabular tasks: every method (hwnas strategies and external
baselines) in one harness, over seeds and budgets, against the exact true front."""

from __future__ import annotations

from hwnas.bench._oracle import Evaluator
from hwnas.bench._report import markdown_table, runs_frame, summary_frame, write_report
from hwnas.bench._run import RunResult, run_many, run_one
from hwnas.bench._tasks import Task, TaskContext, context, parse_task

#: The tasks of the issue's targets: CIFAR-10 validation accuracy x 4 HW-NAS-Bench devices.
MAIN_TASKS: tuple[str, ...] = (
    "cifar10:raspi4",
    "cifar10:pixel3",
    "cifar10:eyeriss",
    "cifar10:fpga",
)
#: Tasks no strategy was tuned on: other datasets, and HELP devices.
UNTUNED_TASKS: tuple[str, ...] = (
    "cifar100:raspi4",
    "imagenet16:pixel3",
    "cifar10:gold_6226",
    "cifar10:samsung_a50",
    "cifar10:titanx_1",
)
#: External optimisers every bench runs beside hwnas's strategies (`botorch-qlognehvi`
#: runs when named: a GP fit per evaluation makes it ~100x slower than these)
BASELINE_METHODS: tuple[str, ...] = ("pymoo-nsga2", "optuna-nsga2", "optuna-tpe")


def default_methods() -> list[str]:
    """Every registered hwnas strategy, then the external baselines."""
    from hwnas.strategies import list_strategies

    return list_strategies() + list(BASELINE_METHODS)


__all__ = [
    "BASELINE_METHODS",
    "MAIN_TASKS",
    "UNTUNED_TASKS",
    "Evaluator",
    "RunResult",
    "Task",
    "TaskContext",
    "context",
    "default_methods",
    "markdown_table",
    "parse_task",
    "run_many",
    "run_one",
    "runs_frame",
    "summary_frame",
    "write_report",
]
