"""A study: objectives, constraints, a budget and a seed over a space, run by a strategy,
with every evaluation in an append-only ledger. The loop: the strategy asks, cheap metrics
are computed, cheap constraints reject, expensive metrics are computed, the ledger records,
the strategy is told. Resuming replays the strategy against the ledger, so a killed run
continues exactly where it stopped and re-evaluates nothing."""

from __future__ import annotations

import json
import math
import platform
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas.errors import ConfigConflictError, HwnasError, SpecError
from hwnas.evaluation import (
    QUALITY_METRICS,
    EvalContext,
    MetricSource,
    check_requirements,
    resolve_metric,
    validate_dataset,
)
from hwnas.executors import (
    DEFAULT_EXECUTOR,
    Evaluator,
    Executor,
    Job,
    WorkerSetup,
    make_executor,
    plugin_modules,
)
from hwnas.ledger import LEDGER_FILE, Ledger
from hwnas.metrics import Constraint, Metric, Objective, parse_constraint, parse_objective
from hwnas.pareto import pareto_mask
from hwnas.spaces import Architecture, SearchSpace, get_space
from hwnas.strategies import (
    DEFAULT_STRATEGY,
    FAILED,
    INFEASIBLE,
    OK,
    Problem,
    Strategy,
    Trial,
    make_strategy,
)

if TYPE_CHECKING:
    import pandas as pd

CONFIG_FILE = "config.json"
#: options a resumed run may change: a larger budget continues the same run
RESUMABLE_CHANGES = ("budget",)


@dataclass
class StudyConfig:
    """Everything that determines a run's evaluations (plus its budget)."""

    space: str = "nb201"
    dataset: str = "cifar10"
    objectives: list[str] = field(default_factory=lambda: ["accuracy:max", "latency@pixel3:min"])
    constraints: list[str] = field(default_factory=list)
    strategy: str = DEFAULT_STRATEGY
    strategy_options: dict[str, Any] = field(default_factory=dict)
    budget: int = 200
    seed: int = 0
    quality: str = "tabular"
    #: dataset spec of the images data-dependent estimators read (None: their default)
    data: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "configuration") -> StudyConfig:
        """Settings from stored or given data, type-checked (a damaged ledger must give a
        clear error, not a traceback); unknown keys are ignored, missing ones default."""
        if not isinstance(data, dict):
            raise SpecError(f"{where}: expected an object of settings, got {type(data).__name__}")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name, value in known.items():
            kind = _FIELD_KINDS[name]
            if not _is_kind(value, kind):
                raise SpecError(f"{where}: {name} must be {kind}, got {value!r}")
        return cls(**known)

    def differences(self, other: StudyConfig) -> list[str]:
        """`name: stored -> requested` for every setting that differs, budget excepted."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{k}: {mine[k]!r} -> {theirs[k]!r}"
            for k in mine
            if k not in RESUMABLE_CHANGES and mine[k] != theirs[k]
        ]


_FIELD_KINDS = {
    "space": "a string",
    "dataset": "a string",
    "objectives": "a list of strings",
    "constraints": "a list of strings",
    "strategy": "a string",
    "strategy_options": "an object",
    "budget": "an integer",
    "seed": "an integer",
    "quality": "a string",
    "data": "a string or null",
}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "a string":
        return isinstance(value, str)
    if kind == "a string or null":
        return value is None or isinstance(value, str)
    if kind == "a list of strings":
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    if kind == "an object":
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return isinstance(value, int) and not isinstance(value, bool)


def host_info() -> dict[str, str]:
    from hwnas import __version__

    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "hwnas": __version__,
    }


class Study:
    """A multi-objective architecture search.

    >>> study = Study(objectives=["accuracy:max", "latency@pixel3:min"], budget=100, seed=0)
    >>> front = study.optimize().pareto_front()   # a DataFrame, one row per front point

    `out_dir=None` keeps the ledger in memory; with a directory, the ledger and the result
    files live there, and `Study.resume(out_dir)` continues a run.

    `executor` runs the evaluations: "inprocess" (default), "process" or "ray" with
    `workers`, or an `Executor` (e.g. `make_executor("ray", address="auto", timeout=600)`).
    It is not part of the configuration: the same seed gives the same evaluations on any
    executor, and a resumed run may use another one."""

    def __init__(
        self,
        space: str = "nb201",
        dataset: str = "cifar10",
        objectives: Sequence[str] = ("accuracy:max", "latency@pixel3:min"),
        constraints: Sequence[str] = (),
        strategy: str | None = None,
        strategy_options: dict[str, Any] | None = None,
        budget: int = 200,
        seed: int = 0,
        quality: str = "tabular",
        out_dir: str | Path | None = None,
        data: str | None = None,
        *,
        executor: str | Executor = DEFAULT_EXECUTOR,
        workers: int | None = None,
        _resume: bool = False,
        _read_only: bool = False,
    ) -> None:
        self.config = StudyConfig(
            space=space,
            dataset=dataset,
            objectives=[str(o) for o in objectives],
            constraints=[str(c) for c in constraints],
            strategy=strategy or DEFAULT_STRATEGY,
            strategy_options=dict(strategy_options or {}),
            budget=int(budget),
            seed=int(seed),
            quality=quality,
            data=data,
        )
        self._setup(check=not _read_only)
        self.executor: Executor = (
            executor if isinstance(executor, Executor) else make_executor(executor, workers)
        )
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.ledger = self._open_ledger(_resume)

    # --- construction -------------------------------------------------------------------
    def _setup(self, check: bool = True) -> None:
        """Resolve the configuration; `check` also refuses metrics that could not be
        evaluated here (a missing dependency or file), which reading a run does not need."""
        cfg = self.config
        if cfg.budget < 1:
            raise SpecError(f"budget must be a positive number of evaluations, got {cfg.budget}")
        self.space: SearchSpace = get_space(cfg.space)
        validate_dataset(self.space, cfg.dataset)
        if not cfg.objectives:
            raise SpecError("at least one objective is needed (e.g. accuracy:max)")
        self.objectives: tuple[Objective, ...] = tuple(parse_objective(o) for o in cfg.objectives)
        self.constraints: tuple[Constraint, ...] = tuple(
            parse_constraint(c) for c in cfg.constraints
        )
        names = [o.metric.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise SpecError(f"an objective is given twice: {', '.join(names)}")
        # canonical spellings, so a resumed run compares equal however it was typed
        cfg.objectives = [o.spec for o in self.objectives]
        cfg.constraints = [c.spec for c in self.constraints]
        if cfg.data is not None:
            from hwnas.datasets import DATASETS

            DATASETS.get(cfg.data.partition(":")[0].strip())  # unknown name -> clear error
        self.context = EvalContext(self.space, cfg.dataset, cfg.quality, cfg.data)
        self.metrics: list[Metric] = []
        for m in [o.metric for o in self.objectives] + [c.metric for c in self.constraints]:
            if m not in self.metrics:
                self.metrics.append(m)
        self.sources: dict[str, MetricSource] = {
            m.name: resolve_metric(self.context, m) for m in self.metrics
        }
        if check:
            check_requirements(self.sources)
        self.evaluator = Evaluator(self.sources, self.constraints)
        self._precheck_cache: dict[str, float] = {}
        problem = self.problem()
        # instantiating validates the strategy name and options before anything runs
        make_strategy(cfg.strategy, problem, cfg.seed, cfg.strategy_options)

    def _open_ledger(self, resume: bool) -> Ledger:
        if self.out_dir is None:
            if resume:
                raise HwnasError("resuming needs the run directory")
            ledger = Ledger(None)
        else:
            path = self.out_dir / LEDGER_FILE
            if path.exists() and not resume:
                raise HwnasError(
                    f"{self.out_dir} already holds a run; resume it (hwnas search --resume "
                    f"{self.out_dir}) or choose another directory"
                )
            if resume and not path.exists():
                raise HwnasError(f"{self.out_dir}: no run to resume (no {LEDGER_FILE})")
            self.out_dir.mkdir(parents=True, exist_ok=True)
            ledger = Ledger(path)
        stored = ledger.get_meta("config")
        if stored is not None:
            where = f"{self.out_dir}: stored configuration"
            diff = StudyConfig.from_dict(stored, where).differences(self.config)
            if diff:
                raise ConfigConflictError(
                    f"{self.out_dir} was started with a different configuration: " + "; ".join(diff)
                )
        ledger.set_meta("config", self.config.to_dict())
        if ledger.get_meta("host") is None:
            ledger.set_meta("host", host_info())
            ledger.set_meta("created", time.time())
        if self.out_dir is not None:
            self._write_config(ledger)
        return ledger

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        *,
        executor: str | Executor = DEFAULT_EXECUTOR,
        workers: int | None = None,
        _read_only: bool = False,
        **overrides: Any,
    ) -> Study:
        """Reopen a run. `overrides` may raise the budget; any other change is refused with
        the difference shown. The executor may differ from the one the run started with."""
        run_dir = Path(run_dir)
        path = run_dir / LEDGER_FILE
        if not path.exists():
            raise HwnasError(f"{run_dir}: no run to resume (no {LEDGER_FILE})")
        ledger = Ledger(path)
        stored = ledger.get_meta("config")
        ledger.close()
        if stored is None:
            raise HwnasError(f"{path}: the ledger holds no configuration")
        config = StudyConfig.from_dict(stored, f"{path}: stored configuration")
        requested = StudyConfig.from_dict({**config.to_dict(), **overrides}, "resume options")
        # compare canonical spellings of the specs
        probe = StudyConfig.from_dict(requested.to_dict())
        probe.objectives = [parse_objective(o).spec for o in probe.objectives]
        probe.constraints = [parse_constraint(c).spec for c in probe.constraints]
        diff = config.differences(probe)
        if diff:
            raise ConfigConflictError(
                f"{run_dir} was started with a different configuration: " + "; ".join(diff)
            )
        return cls(
            **requested.to_dict(),
            out_dir=run_dir,
            executor=executor,
            workers=workers,
            _resume=True,
            _read_only=_read_only,
        )

    @classmethod
    def load(cls, run_dir: str | Path) -> Study:
        """Open a finished or interrupted run for its results, without running anything."""
        if not (Path(run_dir) / LEDGER_FILE).exists():
            raise HwnasError(f"{run_dir}: no run here (no {LEDGER_FILE})")
        return cls.resume(run_dir, _read_only=True)

    # --- the loop -----------------------------------------------------------------------
    def problem(self) -> Problem:
        cheap = [c for c in self.constraints if self.sources[c.metric.name].cheap]
        return Problem(
            space=self.space,
            objectives=self.objectives,
            constraints=self.constraints,
            precheck=self._precheck if cheap else None,
        )

    def _precheck(self, arch: Architecture) -> float:
        """Violation of the cheap constraints alone (infinite if they cannot be computed)."""
        if arch.key not in self._precheck_cache:
            total = 0.0
            for c in self.constraints:
                source = self.sources[c.metric.name]
                if source.cheap:
                    try:
                        total += c.violation(source.evaluate([arch])[0].value)
                    except Exception:  # noqa: BLE001 - a failing check rejects the candidate
                        total = math.inf
            self._precheck_cache[arch.key] = total
        return self._precheck_cache[arch.key]

    def optimize(self, progress: Callable[[int, int], None] | None = None) -> Study:
        """Run (or continue) until the budget is spent or the space is exhausted."""
        check_requirements(self.sources)
        strategy: Strategy = make_strategy(
            self.config.strategy, self.problem(), self.config.seed, self.config.strategy_options
        )
        recorded = self.ledger.trials(self.space)
        self.executor.open(self._job())
        try:
            self._loop(strategy, recorded, progress)
        finally:
            self.executor.close()
        if self.out_dir is not None:
            self.write_outputs()
        return self

    def _loop(
        self,
        strategy: Strategy,
        recorded: dict[str, Trial],
        progress: Callable[[int, int], None] | None,
    ) -> None:
        """Ask a batch, dispatch what the ledger lacks, commit each result as it completes,
        tell the strategy the batch in ask order (so the evaluations do not depend on the
        executor or the number of workers)."""
        budget = self.config.budget
        done = 0
        while done < budget:
            batch = strategy.ask(min(max(strategy.batch_size, 1), budget - done))
            if not batch:
                break
            missing = [a for a in batch if a.key not in recorded]
            numbers = {a.key: done + i for i, a in enumerate(batch)}
            fresh: dict[str, Trial] = {}
            for arch, outcome in self.executor.run(missing) if missing else ():
                trial = Trial(
                    numbers[arch.key], arch, outcome.status, outcome.values, outcome.error
                )
                self.ledger.record(trial, outcome.provenance, outcome.started, outcome.finished)
                fresh[arch.key] = trial
            trials = []
            for arch in batch:
                trial = recorded.get(arch.key) or fresh[arch.key]
                if trial.number != numbers[arch.key]:
                    raise HwnasError(
                        f"the ledger does not match a replay of the run (trial {trial.number} "
                        f"{arch.key} is asked as trial {numbers[arch.key]}); was it written by "
                        "another hwnas version or strategy?"
                    )
                trials.append(trial)
            strategy.tell(trials)
            done += len(batch)
            if progress is not None:
                progress(done, budget)

    def _job(self) -> Job:
        """The study's evaluation for an executor; workers get only `setup` (plain data)."""
        from hwnas.cost import get_target
        from hwnas.quality import get_quality

        plugins: list[object] = [self.space, *self.sources.values()]
        plugins += [get_target(m.target) for m in self.metrics if m.target is not None]
        if any(m.target is None and m.base in QUALITY_METRICS for m in self.metrics):
            plugins.append(get_quality(self.config.quality))
        setup = WorkerSetup(self.config.to_dict(), plugin_modules(plugins), tuple(sys.path))
        return Job(self.space, self.evaluator, setup)

    # --- results ------------------------------------------------------------------------
    @property
    def metric_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def evaluations(self) -> pd.DataFrame:
        """Every evaluation: `arch`, `status`, one column per metric, `error`, `trial`."""
        import pandas as pd

        rows = []
        for row in self.ledger.rows():
            rec: dict[str, Any] = {"arch": row["arch"], "status": row["status"]}
            for name in self.metric_names:
                rec[name] = row["metrics"].get(name, math.nan)
            rec["error"] = row["error"]
            rec["trial"] = row["trial"]
            rows.append(rec)
        columns = ["arch", "status", *self.metric_names, "error", "trial"]
        return pd.DataFrame(rows, columns=columns)

    def _objective_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack(
            [
                frame[o.metric.name].to_numpy(dtype=np.float64)
                * (-1 if o.direction == "max" else 1)
                for o in self.objectives
            ]
        )

    def pareto_front(self) -> pd.DataFrame:
        """Feasible, successfully evaluated, non-dominated architectures, sorted by the
        first objective."""
        frame = self.evaluations()
        ok = frame[frame["status"] == OK]
        if ok.empty:
            return ok.drop(columns=["error"]).reset_index(drop=True)
        front = ok[pareto_mask(self._objective_matrix(ok))]
        first = self.objectives[0]
        front = front.sort_values(first.metric.name, ascending=first.direction == "min")
        return front.drop(columns=["error"]).reset_index(drop=True)

    def true_front(self) -> pd.DataFrame | None:
        """The exact front of the whole space when every metric comes from a complete
        table (tabular spaces); None otherwise."""
        import pandas as pd

        tables = {name: src.table() for name, src in self.sources.items()}
        if any(t is None for t in tables.values()):
            return None
        keys = next(iter(tables.values()))[0]  # type: ignore[index]
        frame = pd.DataFrame({"arch": keys})
        for name, (tkeys, values) in tables.items():  # type: ignore[misc]
            if list(tkeys) != list(keys):
                return None
            frame[name] = values
        feasible = np.ones(len(frame), dtype=bool)
        for c in self.constraints:
            col = frame[c.metric.name].to_numpy(dtype=np.float64)
            feasible &= np.array([c.satisfied(v) for v in col])
        frame = frame[feasible]
        front = frame[pareto_mask(self._objective_matrix(frame))]
        first = self.objectives[0]
        return front.sort_values(first.metric.name, ascending=first.direction == "min").reset_index(
            drop=True
        )

    def summary(self) -> dict[str, Any]:
        """Counts by status and front size; on tabular spaces also the hypervolume ratio
        of the found front to the true one (normalised over the whole table) and the
        share of the true front found."""
        from hwnas.indicators import front_share, hypervolume_ratio

        frame = self.evaluations()
        front = self.pareto_front()
        out: dict[str, Any] = {
            "evaluations": len(frame),
            **{s: int((frame["status"] == s).sum()) for s in (OK, INFEASIBLE, FAILED)},
            "front_size": len(front),
        }
        true = self.true_front()
        if true is not None and not true.empty:
            lower, upper = self._table_bounds()
            out["hv_ratio"] = hypervolume_ratio(
                self._objective_matrix(front), self._objective_matrix(true), lower, upper
            )
            out["true_front_size"] = len(true)
            out["true_front_found"] = front_share(frame["arch"], true["arch"])
        return out

    def _table_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-objective minimisation bounds over the whole table."""
        cols = []
        for o in self.objectives:
            table = self.sources[o.metric.name].table()
            assert table is not None
            values = table[1] * (-1 if o.direction == "max" else 1)
            cols.append((np.nanmin(values), np.nanmax(values)))
        return np.array([c[0] for c in cols]), np.array([c[1] for c in cols])

    def _write_config(self, ledger: Ledger) -> None:
        assert self.out_dir is not None
        data = {"config": self.config.to_dict(), "host": ledger.get_meta("host")}
        (self.out_dir / CONFIG_FILE).write_text(json.dumps(data, indent=2) + "\n")

    def write_outputs(self) -> None:
        """evaluations.csv, pareto.csv, config.json, pareto.png and report.html in the run
        directory."""
        if self.out_dir is None:
            raise HwnasError("this study has no output directory")
        self._write_config(self.ledger)
        _atomic_csv(self.evaluations(), self.out_dir / "evaluations.csv")
        _atomic_csv(self.pareto_front(), self.out_dir / "pareto.csv")
        from hwnas.report.plots import plot_front

        plot_front(self, self.out_dir / "pareto.png")
        from hwnas.report.html import write_report

        write_report([self], self.out_dir / "report.html")


def _atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
