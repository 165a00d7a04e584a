"""A run as recorded, read-only: its configuration, every evaluation with its provenance,
the objective matrix, the found and (on tabular spaces) true Pareto fronts and a summary.
`load_results(run_dir)` opens a run directory without writing anything; a live study hands
out the same object (`Study.results()`), so `hwnas show`, the report and export read runs
one way, whoever wrote them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas.config import StudyConfig
from hwnas.errors import HwnasError, SpecError
from hwnas.ledger import LEDGER_FILE, Ledger
from hwnas.metrics import Constraint, Objective, parse_constraint, parse_objective
from hwnas.pareto import pareto_mask
from hwnas.sources import MetricSource
from hwnas.spaces import SearchSpace, get_space, restrict_space
from hwnas.trial import FAILED, INFEASIBLE, OK

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Evaluation:
    """One recorded evaluation, as the ledger holds it."""

    trial: int
    arch: str
    genes: tuple[int, ...]
    status: str
    metrics: dict[str, float]
    provenance: dict[str, dict[str, Any]]
    error: str | None
    started: float
    finished: float

    def value(self, name: str) -> float:
        """The metric's value, NaN when it was not computed."""
        return float(self.metrics.get(name, math.nan))


class Results:
    """A finished or interrupted run. Nothing here evaluates or writes; the metric sources
    are resolved only when a true front is asked for (tables, no heavy dependency)."""

    def __init__(
        self,
        config: StudyConfig,
        evaluations: Sequence[Evaluation],
        *,
        path: str | Path | None = None,
        host: Mapping[str, Any] | None = None,
        created: float | None = None,
        sources: Mapping[str, MetricSource] | None = None,
    ) -> None:
        self.config = config
        self.rows: tuple[Evaluation, ...] = tuple(evaluations)
        self.path = Path(path) if path is not None else None
        self.host: dict[str, Any] = dict(host or {})
        self.created = created
        self.objectives: tuple[Objective, ...] = tuple(map(parse_objective, config.objectives))
        self.constraints: tuple[Constraint, ...] = tuple(map(parse_constraint, config.constraints))
        if sources is not None:  # a live study's, already resolved: fills the cached property
            self.__dict__["sources"] = dict(sources)

    @cached_property
    def space(self) -> SearchSpace:
        return restrict_space(get_space(self.config.space), self.config.restrict)

    @cached_property
    def sources(self) -> dict[str, MetricSource]:
        """The run's metric sources, resolved without checking that they could evaluate
        here (a missing dependency does not stop reading)."""
        from hwnas.evaluation import resolve

        return resolve(StudyConfig.from_dict(self.config.to_dict()), check=False).sources

    @cached_property
    def metric_names(self) -> list[str]:
        """Objectives' metrics then constraints', each once."""
        names: list[str] = [o.metric.name for o in self.objectives]
        names += [c.metric.name for c in self.constraints if c.metric.name not in names]
        return names

    @cached_property
    def recorded_metrics(self) -> list[str]:
        """`metric_names`, then any other metric the evaluations recorded (a run whose
        configuration was edited after it ran), each once."""
        names = list(self.metric_names)
        names += [m for e in self.rows for m in e.metrics if m not in names]
        return list(dict.fromkeys(names))

    def __len__(self) -> int:
        return len(self.rows)

    # --- tables -------------------------------------------------------------------------
    def evaluations(self) -> pd.DataFrame:
        """Every evaluation: `arch`, `status`, one column per metric, `error`, `trial`."""
        import pandas as pd

        columns = ["arch", "status", *self.metric_names, "error", "trial"]
        records = [
            [e.arch, e.status, *(e.value(n) for n in self.metric_names), e.error, e.trial]
            for e in self.rows
        ]
        frame = pd.DataFrame(records, columns=columns)
        if self.origins:  # architectures given to the run: where each came from
            frame["origin"] = [self.origins.get(e.arch, "") for e in self.rows]
        return frame

    @cached_property
    def origins(self) -> dict[str, str]:
        """arch -> where it came from, for a run of given architectures (`hwnas dnas`,
        the `given` strategy); empty otherwise."""
        if self.config.strategy != "given":
            return {}
        from hwnas.strategies.given import origins_by_key

        return origins_by_key(self.config.strategy_options, self.space)

    def objective_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The objectives of a frame's rows as a minimisation matrix."""
        return np.column_stack(
            [frame[o.metric.name].to_numpy(dtype=np.float64) * o.sign for o in self.objectives]
        ).reshape(len(frame), len(self.objectives))

    def ok(self) -> list[Evaluation]:
        """Feasible, successful evaluations (those a front is made of)."""
        return [e for e in self.rows if e.status == OK]

    def pareto_front(self) -> pd.DataFrame:
        """Feasible, successfully evaluated, non-dominated architectures, sorted by the
        first objective (best first)."""
        frame = self.evaluations()
        ok = frame[frame["status"] == OK]
        if not ok.empty:
            ok = self._sorted(ok[pareto_mask(self.objective_matrix(ok))])
        return ok.drop(columns=["error"]).reset_index(drop=True)

    def front(self) -> list[Evaluation]:
        """The Pareto front's evaluations in `pareto_front`'s order."""
        by_key = {e.arch: e for e in self.rows}
        return [by_key[k] for k in self.pareto_front()["arch"]]

    def _sorted(self, frame: pd.DataFrame) -> pd.DataFrame:
        first = self.objectives[0]
        return frame.sort_values(first.metric.name, ascending=first.direction == "min")

    def _table(self, name: str) -> tuple[list[str], np.ndarray] | None:
        """The metric's complete table, or None (not a table, or a source this installation
        cannot even construct: reading a run needs no plugin's heavy dependency)."""
        try:
            source = self.sources.get(name)
        except HwnasError:
            return None
        return source.table() if source is not None else None

    def objectives_tabular(self) -> bool:
        """Whether every objective comes from a complete table (bounds are the table's)."""
        return all(self._table(o.metric.name) is not None for o in self.objectives)

    def true_front(self) -> pd.DataFrame | None:
        """The exact front of the whole (or the restricted) space when every metric comes
        from a complete table (tabular spaces); None otherwise."""
        import pandas as pd

        tables = {}
        for name in self.metric_names:
            table = self._table(name)
            if table is None:
                return None
            tables[name] = table
        keys = tables[self.metric_names[0]][0]
        frame = pd.DataFrame({"arch": keys})
        for name, (tkeys, values) in tables.items():
            if list(tkeys) != list(keys):
                return None
            frame[name] = values
        feasible = np.ones(len(frame), dtype=bool)
        if self.config.restrict:
            feasible &= np.array([_inside(self.space, key) for key in keys], dtype=bool)
        for c in self.constraints:
            col = frame[c.metric.name].to_numpy(dtype=np.float64)
            feasible &= np.array([c.satisfied(v) for v in col], dtype=bool)
        frame = frame[feasible]
        front = frame[pareto_mask(self.objective_matrix(frame))]
        return self._sorted(front).reset_index(drop=True)

    def table_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-objective minimisation bounds over the whole table (tabular objectives)."""
        lower, upper = [], []
        for o in self.objectives:
            table = self.sources[o.metric.name].table()
            if table is None:
                raise HwnasError(f"objective {o.metric.name} does not come from a table")
            values = np.asarray(table[1], dtype=np.float64) * o.sign
            lower.append(np.nanmin(values))
            upper.append(np.nanmax(values))
        return np.array(lower), np.array(upper)

    def summary(self) -> dict[str, Any]:
        """Counts by status and front size; on tabular spaces also the hypervolume ratio
        of the found front to the true one (normalised over the whole table) and the
        share of the true front found; `hv_method` says whether that ratio is exact or
        estimated (many objectives make the exact one far too slow)."""
        from hwnas.indicators import front_share, hv_ratio_method, hypervolume_ratio

        front = self.pareto_front()
        out: dict[str, Any] = {
            "evaluations": len(self.rows),
            **{s: sum(e.status == s for e in self.rows) for s in (OK, INFEASIBLE, FAILED)},
            "front_size": len(front),
        }
        true = self.true_front()
        if true is not None and not true.empty:
            lower, upper = self.table_bounds()
            found_F, true_F = self.objective_matrix(front), self.objective_matrix(true)
            out["hv_ratio"] = hypervolume_ratio(found_F, true_F, lower, upper)
            out["hv_method"] = hv_ratio_method(len(found_F), len(true_F), len(lower))
            out["true_front_size"] = len(true)
            out["true_front_found"] = front_share([e.arch for e in self.rows], true["arch"])
        return out


def read_ledger(ledger: Ledger, where: str) -> tuple[StudyConfig, list[Evaluation]]:
    """The configuration and evaluations a ledger holds (clear errors when damaged)."""
    stored = ledger.get_meta("config")
    if stored is None:
        raise HwnasError(f"{where}: the ledger holds no configuration")
    config = StudyConfig.from_dict(stored, f"{where}: stored configuration")
    rows = [
        Evaluation(
            r["trial"],
            r["arch"],
            r["genes"],
            r["status"],
            r["metrics"],
            r["provenance"],
            r["error"],
            r["started"],
            r["finished"],
        )
        for r in ledger.rows()
    ]
    return config, rows


def load_results(run_dir: str | Path) -> Results:
    """A run directory's results, read without writing a byte (the ledger is opened
    read-only); no plugin's heavy dependency is needed."""
    path = Path(run_dir)
    ledger_path = path / LEDGER_FILE
    try:
        found = path.is_dir() and ledger_path.exists()
    except OSError as exc:  # a name too long, a directory without permission
        raise HwnasError(f"{path}: cannot read a run there ({exc.strerror})") from None
    if not path.is_dir():
        raise HwnasError(f"{path}: no run here (no such run directory)")
    if not found:
        raise HwnasError(f"{path}: no run here (not a run directory: no {LEDGER_FILE})")
    ledger = Ledger(ledger_path, read_only=True)
    try:
        config, rows = read_ledger(ledger, str(ledger_path))
        host, created = ledger.get_meta("host"), ledger.get_meta("created")
    finally:
        ledger.close()
    return Results(
        config,
        rows,
        path=path,
        host=host if isinstance(host, dict) else {},
        created=start_time(created),
    )


#: the latest start time a run may claim (the year 10000): a hand-edited `created=1e300`
#: is no date, and formatting it overflowed the report
_LATEST = 253_402_300_800.0


def start_time(value: Any) -> float | None:
    """The ledger's `created` as a Unix time, None when it is not a plausible one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 <= value < _LATEST else None


def _inside(space: SearchSpace, key: str) -> bool:
    """Whether a table's architecture belongs to the (restricted) space."""
    try:
        space.parse(key)
    except SpecError:
        return False
    return True
