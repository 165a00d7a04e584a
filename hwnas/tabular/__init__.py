"""Published benchmark tables (one per space) as metric sources: quality, counters and
device latencies are lookups with the table's provenance attached."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnas.errors import EvaluationError
from hwnas.registry import Registry
from hwnas.sources import EvalContext, Measurement, MetricSource


class TabularBenchmark:
    """A table keyed by the space's canonical keys. Subclasses load lazily and map metric
    names to columns."""

    space: str

    def keys(self) -> list[str]:
        raise NotImplementedError

    def values(self, column: str) -> np.ndarray:
        """A column aligned with `keys()`."""
        raise NotImplementedError

    def quality(self, ctx: EvalContext, base: str) -> MetricSource:
        raise NotImplementedError

    def counters(self, ctx: EvalContext) -> dict[str, MetricSource]:
        raise NotImplementedError


class ColumnSource(MetricSource):
    """One column of a `TabularBenchmark`, looked up by architecture key."""

    cheap = True

    def __init__(
        self, table: TabularBenchmark, metric: str, column: str, provenance: dict[str, Any]
    ) -> None:
        self.table_ = table
        self.metric = metric
        self.column = column
        self.provenance = {"kind": "table", "column": column, **provenance}
        self._lookup: dict[str, float] | None = None

    def _index(self) -> dict[str, float]:
        if self._lookup is None:
            self._lookup = dict(zip(self.table_.keys(), self.table_.values(self.column).tolist()))
        return self._lookup

    def prepare(self) -> None:
        self._index()

    def evaluate(self, archs: Sequence[Any]) -> list[Measurement]:
        index = self._index()
        out = []
        for arch in archs:
            value = index.get(arch.key)
            if value is None:
                raise EvaluationError(f"{arch.key} is not in the table ({self.column})")
            out.append(Measurement(float(value), self.provenance))
        return out

    def table(self) -> tuple[list[str], np.ndarray]:
        return self.table_.keys(), self.table_.values(self.column)


TABLES: Registry[TabularBenchmark] = Registry("table", ("hwnas.tabular.nb201",))
