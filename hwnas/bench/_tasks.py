"""Tabular benchmark tasks: a dataset's accuracy x a device's latency, with the exact true
front and the normalisation bounds taken over the whole table."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from hwnas.config import StudyConfig
from hwnas.errors import SpecError
from hwnas.evaluation import resolve
from hwnas.results import Results
from hwnas.spaces import Architecture
from hwnas.strategies import Problem
from hwnas.trial import FAILED, OK, Trial


@dataclass(frozen=True)
class Task:
    """`DATASET:DEVICE` on a tabular space, e.g. `cifar10:raspi4`: maximise the dataset's
    (validation where the table has it) accuracy, minimise the device's latency."""

    dataset: str
    device: str
    space: str = "nb201"

    @property
    def name(self) -> str:
        return f"{self.dataset}:{self.device}"

    @property
    def objectives(self) -> tuple[str, str]:
        return ("accuracy:max", f"latency@{self.device}:min")


def parse_task(text: str, space: str = "nb201") -> Task:
    dataset, sep, device = str(text).strip().partition(":")
    if not sep or not dataset or not device:
        raise SpecError(f"task {text!r}: expected DATASET:DEVICE, e.g. cifar10:raspi4")
    task = Task(dataset.strip(), device.strip(), space)
    context(task)  # validates the dataset, the device and that the space is tabular
    return task


class TaskContext:
    """What every run of a task shares: the problem, the metric sources, the true front
    and the bounds. Built once per process."""

    def __init__(self, task: Task) -> None:
        config = StudyConfig(space=task.space, dataset=task.dataset, objectives=[*task.objectives])
        resolved = resolve(config)
        self.task = task
        self.space = resolved.space
        self.problem = Problem(resolved.space, resolved.objectives, resolved.constraints)
        self.metrics = [o.metric.name for o in resolved.objectives]
        self.signs = np.array([o.sign for o in resolved.objectives])
        tables = [resolved.sources[m].table() for m in self.metrics]
        if any(t is None for t in tables):
            raise SpecError(f"task {task.name}: not every metric comes from a complete table")
        keys = tables[0][0]  # type: ignore[index]
        F = np.column_stack([t[1] for t in tables]) * self.signs  # type: ignore[index]
        self.lower, self.upper = np.nanmin(F, axis=0), np.nanmax(F, axis=0)
        self._rows = {k: i for i, k in enumerate(keys)}
        self._F = F
        true = Results(config, [], sources=resolved.sources).true_front()
        assert true is not None
        self.true_keys: list[str] = list(true["arch"])
        self.true_F = np.column_stack([true[m].to_numpy(dtype=np.float64) for m in self.metrics])
        self.true_F = self.true_F * self.signs

    def objective_rows(self, archs: list[Architecture]) -> np.ndarray:
        """Minimisation vectors of architectures (NaN where the table has no row)."""
        out = np.full((len(archs), len(self.metrics)), np.nan)
        for i, a in enumerate(archs):
            row = self._rows.get(a.key)
            if row is not None:
                out[i] = self._F[row]
        return out

    def trials(self, archs: list[Architecture], start: int) -> list[Trial]:
        """Trials as a study would record them (values in the metrics' own directions)."""
        F = self.objective_rows(archs)
        out = []
        for i, (arch, f) in enumerate(zip(archs, F)):
            if np.all(np.isfinite(f)):
                values = {m: float(v * s) for m, v, s in zip(self.metrics, f, self.signs)}
                out.append(Trial(start + i, arch, OK, values))
            else:
                out.append(Trial(start + i, arch, FAILED, {}, "not in the table"))
        return out


@cache
def context(task: Task) -> TaskContext:
    return TaskContext(task)
