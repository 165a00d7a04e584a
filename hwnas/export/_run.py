"""The run reader: a run directory's configuration and evaluations, read from its ledger (the
same file `Study.load` reads), not by reopening the study: exporting needs neither the run's
quality estimator nor its targets to be importable, and it must not rewrite the run's files.

Kept narrow on purpose: `Run`, `Evaluation`, `load_run` (and `_value`); a read-only
`hwnas.results.Results` is to replace it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import HwnasError, SpecError
from hwnas.ledger import LEDGER_FILE, Ledger
from hwnas.metrics import Constraint, Objective, parse_constraint, parse_objective
from hwnas.pareto import pareto_mask
from hwnas.spaces import Architecture, SearchSpace, get_space


@dataclass(frozen=True)
class Evaluation:
    """One recorded evaluation: its metrics and their provenance, as the ledger holds them."""

    trial: int
    arch: Architecture
    status: str
    metrics: dict[str, float]
    provenance: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Run:
    """What an export needs from a run directory."""

    path: Path
    config: dict[str, Any]
    host: dict[str, Any]
    space: SearchSpace
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    evaluations: tuple[Evaluation, ...]

    @property
    def dataset(self) -> str:
        return str(self.config["dataset"])

    @property
    def quality(self) -> str:
        return str(self.config.get("quality", "tabular"))

    @property
    def metric_names(self) -> list[str]:
        names: list[str] = []
        for m in [o.metric.name for o in self.objectives] + [
            c.metric.name for c in self.constraints
        ]:
            if m not in names:
                names.append(m)
        for e in self.evaluations:
            for m in e.metrics:
                if m not in names:
                    names.append(m)
        return names

    def ok(self) -> list[Evaluation]:
        """Feasible, successful evaluations (those a front is made of)."""
        return [e for e in self.evaluations if e.status == "ok"]

    def front(self) -> list[Evaluation]:
        """The Pareto front in `pareto.csv`'s order (first objective, best first); computed
        as `Study.pareto_front` does when the file is missing (an interrupted run)."""
        by_key = {e.arch.key: e for e in self.evaluations}
        csv = self.path / "pareto.csv"
        if csv.exists():
            import pandas as pd

            try:
                keys = pd.read_csv(csv, usecols=["arch"])["arch"].astype(str).tolist()
            except (ValueError, pd.errors.ParserError) as exc:
                raise HwnasError(f"{csv}: not a readable front ({exc})") from None
            missing = [k for k in keys if k not in by_key]
            if missing:
                raise HwnasError(
                    f"{csv} lists {missing[0]!r}, which the run's ledger does not hold; "
                    "was the file edited or copied from another run?"
                )
            return [by_key[k] for k in keys]
        ok = self.ok()
        if not ok:
            return []
        mask = pareto_mask(self._matrix(ok, self.objectives))
        front = [e for e, m in zip(ok, mask) if m]
        first = self.objectives[0]
        return sorted(front, key=lambda e: first.to_min(_value(e, first.metric.name)))

    @staticmethod
    def _matrix(evals: Sequence[Evaluation], objectives: Sequence[Objective]) -> np.ndarray:
        return np.array(
            [[o.to_min(_value(e, o.metric.name)) for o in objectives] for e in evals],
            dtype=np.float64,
        ).reshape(len(evals), len(objectives))


def _value(e: Evaluation, name: str) -> float:
    return float(e.metrics.get(name, math.nan))


def load_run(run_dir: str | Path) -> Run:
    """A run directory's configuration and evaluations, read-only."""
    from hwnas.study import StudyConfig

    path = Path(run_dir)
    ledger_path = path / LEDGER_FILE
    if not path.is_dir():
        raise HwnasError(f"{path}: no such run directory")
    if not ledger_path.exists():
        raise HwnasError(f"{path}: not a run directory (no {LEDGER_FILE})")
    ledger = Ledger(ledger_path)
    try:
        stored = ledger.get_meta("config")
        if stored is None:
            raise HwnasError(f"{ledger_path}: the ledger holds no configuration")
        config = StudyConfig.from_dict(stored, f"{ledger_path}: stored configuration")
        host = ledger.get_meta("host") or {}
        space = get_space(config.space)
        rows = list(ledger.rows())
    finally:
        ledger.close()
    evaluations = []
    for row in rows:
        try:
            arch = space.make(row["genes"])
        except SpecError as exc:
            raise HwnasError(f"{ledger_path}: damaged trial {row['trial']} ({exc})") from None
        evaluations.append(
            Evaluation(row["trial"], arch, row["status"], row["metrics"], row["provenance"])
        )
    return Run(
        path=path,
        config=config.to_dict(),
        host=host if isinstance(host, dict) else {},
        space=space,
        objectives=tuple(parse_objective(o) for o in config.objectives),
        constraints=tuple(parse_constraint(c) for c in config.constraints),
        evaluations=tuple(evaluations),
    )
