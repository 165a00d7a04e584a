"""A study: objectives, constraints, a budget and a seed over a space, run by a strategy,
with every evaluation in an append-only ledger. The loop: the strategy asks, cheap metrics
are computed, cheap constraints reject, expensive metrics are computed, the ledger records,
the strategy is told. Resuming restores the strategy from its snapshot after the last full
batch (or, for strategies without one, replays it against the ledger), so a killed run
continues exactly where it stopped and re-evaluates nothing. A study runs a search and
nothing else: its results are a read-only `Results`, and output files are written by
whoever asks (the CLI, or a callback given to `optimize`)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnas._io import atomic_write
from hwnas._version import __version__
from hwnas.config import DEFAULT_STRATEGY, StudyConfig, host_info
from hwnas.errors import ConfigConflictError, HwnasError, SetupError
from hwnas.evaluation import Evaluator, resolve
from hwnas.executors import (
    DEFAULT_EXECUTOR,
    Executor,
    Job,
    WorkerSetup,
    make_executor,
    plugin_modules,
)
from hwnas.ledger import LEDGER_FILE, Ledger, disk_full
from hwnas.metrics import Constraint, Metric, Objective, parse_constraint, parse_objective
from hwnas.results import Evaluation, Results, load_results, read_ledger, start_time
from hwnas.sources import EvalContext, MetricSource, StageProgress, check_requirements
from hwnas.spaces import Architecture, SearchSpace
from hwnas.strategies import Problem, Strategy, make_strategy
from hwnas.trial import Outcome, Trial

if TYPE_CHECKING:
    import pandas as pd

CONFIG_FILE = "config.json"
#: the ledger meta key of the strategy's state after its last full batch
SNAPSHOT_KEY = "strategy_snapshot"
#: the ledger meta key set once `Study.evaluate` recorded an architecture the caller chose
CALLER_KEY = "caller_chosen"
#: called once when `optimize` ends, with the run's results (e.g. `hwnas.report.write_outputs`)
Callback = Callable[[Results], None]


class Study:
    """A multi-objective architecture search.

    >>> study = Study(objectives=["accuracy:max", "latency@pixel3:min"], budget=100, seed=0)
    >>> front = study.optimize().pareto_front()   # a DataFrame, one row per front point

    `out_dir=None` keeps the ledger in memory; with a directory, the ledger and
    `config.json` live there (`optimize(callbacks=[hwnas.report.write_outputs])` adds the
    CSV, PNG and HTML files), and `Study.resume(out_dir)` continues a run. What the run
    recorded is `study.results()`, read-only.

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
        restrict: dict[str, list[str]] | None = None,
        quant: str | None = None,
        *,
        executor: str | Executor = DEFAULT_EXECUTOR,
        workers: int | None = None,
        _resume: bool = False,
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
            restrict={k: [str(v) for v in vs] for k, vs in (restrict or {}).items()},
            quant=quant,
        )
        self._setup()
        self.executor: Executor = (
            executor if isinstance(executor, Executor) else make_executor(executor, workers)
        )
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.ledger = self._open_ledger(_resume)
        self._evaluating = False  # whether `evaluate` holds the executor open
        self._known: dict[str, Evaluation] | None = None  # the ledger's trials, for `evaluate`

    # --- construction -------------------------------------------------------------------
    def _setup(self) -> None:
        """Resolve the configuration, refusing metrics that could not be evaluated here (a
        missing dependency or file) and an unknown strategy or option."""
        resolved = resolve(self.config)
        self.space: SearchSpace = resolved.space
        self.objectives: tuple[Objective, ...] = resolved.objectives
        self.constraints: tuple[Constraint, ...] = resolved.constraints
        self.context: EvalContext = resolved.context
        self.metrics: list[Metric] = resolved.metrics
        self.sources: dict[str, MetricSource] = resolved.sources
        self.evaluator: Evaluator = resolved.evaluator
        self._plugins = resolved.plugins()
        self._precheck_cache: dict[str, float] = {}
        # instantiating validates the strategy name and options before anything runs
        make_strategy(
            self.config.strategy, self.problem(), self.config.seed, self.config.strategy_options
        )

    def _open_ledger(self, resume: bool) -> Ledger:
        start = {"config": self.config.to_dict(), "host": host_info(), "created": time.time()}
        if self.out_dir is None:
            if resume:
                raise HwnasError("resuming needs the run directory")
            ledger = Ledger(None, meta=start)
        else:
            path = self.out_dir / LEDGER_FILE
            exists = _exists(path)
            # a ledger killed before its run started (no configuration, no evaluation) is
            # taken over: the run never began
            if exists and not resume and Ledger.holds_run(path):
                raise HwnasError(
                    f"{self.out_dir} already holds a run; resume it (hwnas search --resume "
                    f"{self.out_dir}) or choose another directory"
                )
            if resume and not exists:
                raise HwnasError(f"{self.out_dir}: no run to resume (no {LEDGER_FILE})")
            try:
                self.out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, a read-only or virtual filesystem
                reason = (
                    "a file is in the way" if isinstance(exc, FileExistsError) else exc.strerror
                )
                raise HwnasError(
                    f"{self.out_dir}: cannot create the run directory ({reason})"
                ) from None
            if not os.access(self.out_dir, os.W_OK):
                raise HwnasError(
                    f"{self.out_dir}: cannot write the run there (a read-only file system or "
                    "no permission)"
                )
            ledger = Ledger(path, meta=start)
        stored = ledger.get_meta("config")
        if stored is not None:
            where = f"{self.out_dir}: stored configuration"
            diff = StudyConfig.from_dict(stored, where).differences(self.config)
            if diff:
                ledger.close()
                raise ConfigConflictError(
                    f"{self.out_dir} was started with a different configuration: " + "; ".join(diff)
                )
        recorded = len(ledger)
        if self.config.budget < recorded:
            ledger.close()
            raise HwnasError(
                f"{self.out_dir}: the run has {recorded} evaluations recorded; a budget of "
                f"{self.config.budget} is below that (give a budget of at least {recorded})"
            )
        ledger.set_meta("config", self.config.to_dict())
        if ledger.get_meta("host") is None:
            ledger.set_meta("host", start["host"])
            ledger.set_meta("created", start["created"])
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
        **overrides: Any,
    ) -> Study:
        """Reopen a run. `overrides` may raise the budget; any other change is refused with
        the difference shown. The executor may differ from the one the run started with."""
        run_dir = Path(run_dir)
        path = run_dir / LEDGER_FILE
        if not _exists(path):
            raise HwnasError(f"{run_dir}: no run to resume (no {LEDGER_FILE})")
        ledger = Ledger(path)
        stored = ledger.get_meta("config")
        ledger.close()
        if stored is None:
            raise HwnasError(
                f"{run_dir}: the run was stopped before it started (its ledger holds no "
                f"configuration); start it again: hwnas search --out {run_dir} with its options"
            )
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
        )

    @staticmethod
    def load(run_dir: str | Path) -> Results:
        """A finished or interrupted run's results, read-only (`hwnas.load_results`)."""
        return load_results(run_dir)

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

    def _new_strategy(self) -> Strategy:
        return make_strategy(
            self.config.strategy, self.problem(), self.config.seed, self.config.strategy_options
        )

    def optimize(
        self,
        progress: Callable[[int, int], None] | None = None,
        callbacks: Sequence[Callback] = (),
        stages: StageProgress | None = None,
    ) -> Study:
        """Run (or continue) until the budget is spent or the space is exhausted, then call
        each of `callbacks` with the results (`hwnas.report.write_outputs` writes the run
        directory's CSV, PNG and HTML files). `progress(done, budget)` follows the
        evaluations; `stages(stage, done, total)` the long work inside one evaluated in this
        process (an accuracy predictor's training set: minutes before the first result)."""
        if self.ledger.get_meta(CALLER_KEY):
            raise HwnasError(
                f"{self.out_dir or 'this study'}: its architectures were chosen by the caller "
                "(Study.evaluate, hwnas.gym), which no strategy can replay; continue it with "
                "Study.evaluate or hwnas.gym.HwnasEnv"
            )
        self.close()
        check_requirements(self.sources)
        strategy = self._new_strategy()
        recorded = self.ledger.trials(self.space)
        strategy, start = self._restored(strategy, recorded)
        for source in self.sources.values():
            source.progress = stages
        self.executor.open(self._job())
        try:
            self._loop(strategy, recorded, progress, start)
        finally:
            self.executor.close()
            for source in self.sources.values():
                source.progress = None
        if callbacks:
            results = self.results()
            for callback in callbacks:
                callback(results)
        return self

    def _restored(self, strategy: Strategy, recorded: dict[str, Trial]) -> tuple[Strategy, int]:
        """The strategy brought to the ledger's last snapshot and the number of trials it
        has been told there; (strategy, 0) to replay from the start when there is no
        usable snapshot (none taken, another strategy or hwnas version, trials missing)."""
        saved = self.ledger.get_meta(SNAPSHOT_KEY) if strategy.restorable and recorded else None
        if not isinstance(saved, dict) or saved.get("hwnas") != __version__:
            return strategy, 0
        told = saved.get("told")
        trials = sorted(recorded.values(), key=lambda t: t.number)
        if (
            saved.get("strategy") != self.config.strategy
            or type(told) is not int
            or not 0 < told <= len(trials)
            or trials[told - 1].number != told - 1  # numbers are distinct: 0..told-1 all held
        ):
            return strategy, 0
        try:
            strategy.restore(saved["state"], trials[:told])
        except Exception:  # noqa: BLE001 - a snapshot that does not restore is replayed
            return self._new_strategy(), 0
        return strategy, told

    def _snapshot(self, strategy: Strategy, told: int) -> None:
        """Store where the strategy stands after a full batch: a resume continues from
        there (a replay would reach the same state: its asks are the same full batches)."""
        state = {"strategy": self.config.strategy, "hwnas": __version__, "told": told}
        self.ledger.set_meta(SNAPSHOT_KEY, {**state, "state": strategy.snapshot()})

    def _loop(
        self,
        strategy: Strategy,
        recorded: dict[str, Trial],
        progress: Callable[[int, int], None] | None,
        start: int = 0,
    ) -> None:
        """Ask a batch, dispatch what the ledger lacks, commit each result as it completes,
        tell the strategy the batch in ask order (so the evaluations do not depend on the
        executor or the number of workers). `start`: trials the strategy was restored to."""
        budget = self.config.budget
        done = start
        while done < budget:
            batch = strategy.ask(min(max(strategy.batch_size, 1), budget - done))
            if not batch:
                break
            missing = [a for a in batch if a.key not in recorded]
            numbers = {a.key: done + i for i, a in enumerate(batch)}
            fresh = self._record(missing, numbers)
            trials = []
            for arch in batch:
                trial = recorded.get(arch.key) or fresh[arch.key][0]
                if trial.number != numbers[arch.key]:
                    raise HwnasError(
                        f"the ledger does not match a replay of the run (trial {trial.number} "
                        f"{arch.key} is asked as trial {numbers[arch.key]}); was it written by "
                        "another hwnas version or strategy?"
                    )
                trials.append(trial)
            strategy.tell(trials)
            done += len(batch)
            if strategy.restorable and len(batch) == max(strategy.batch_size, 1):
                self._snapshot(strategy, done)
            if progress is not None:
                progress(done, budget)

    def _record(
        self, archs: Sequence[Architecture], numbers: dict[str, int]
    ) -> dict[str, tuple[Trial, Outcome]]:
        """Evaluate `archs` on the executor, committing each result as trial `numbers[key]`
        the moment it completes: the one evaluation path of `optimize` and `evaluate`."""
        fresh: dict[str, tuple[Trial, Outcome]] = {}
        for arch, outcome in self.executor.run(archs) if archs else ():
            if outcome.stop:
                raise self._stopped(arch, outcome.error)
            trial = Trial(numbers[arch.key], arch, outcome.status, outcome.values, outcome.error)
            self.ledger.record(trial, outcome.provenance, outcome.started, outcome.finished)
            fresh[arch.key] = (trial, outcome)
        return fresh

    # --- caller-chosen evaluations ------------------------------------------------------
    def evaluate(self, archs: Sequence[Architecture | str]) -> list[Evaluation]:
        """Evaluate architectures the caller chose (an agent, `hwnas.gym`) as `optimize`
        evaluates the strategy's: on the executor, each new one recorded in the ledger as
        the next trial; one already recorded is answered from the ledger. Returns the
        ledger's records (`Results` reads the same). Such a run is continued by more
        `evaluate` calls, not by `optimize`: no strategy could replay it. New architectures
        beyond the budget are refused."""
        wanted = [self.space.parse(a) if isinstance(a, str) else a for a in archs]
        recorded = self._recorded()
        missing = list({a.key: a for a in wanted if a.key not in recorded}.values())
        if len(recorded) + len(missing) > self.config.budget:
            raise HwnasError(
                f"evaluating {len(missing)} new architecture(s) would exceed the budget of "
                f"{self.config.budget} ({len(recorded)} recorded); raise it with Study.resume"
                "(run_dir, budget=N)"
            )
        if missing:
            if not self._evaluating:
                check_requirements(self.sources)
                self.executor.open(self._job())
                self._evaluating = True
            self.ledger.set_meta(CALLER_KEY, True)
            first = max((e.trial for e in recorded.values()), default=-1) + 1  # kills leave gaps
            numbers = {a.key: first + i for i, a in enumerate(missing)}
            for key, (t, out) in self._record(missing, numbers).items():
                recorded[key] = Evaluation(
                    t.number, key, t.arch.genes, t.status, dict(t.values), out.provenance,
                    t.error, out.started, out.finished,
                )  # fmt: skip
        return [recorded[a.key] for a in wanted]

    def lookup(self, arch: Architecture | str) -> Evaluation | None:
        """The ledger's record of `arch`, or None when it has not been evaluated."""
        key = self.space.parse(arch).key if isinstance(arch, str) else arch.key
        return self._recorded().get(key)

    def _recorded(self) -> dict[str, Evaluation]:
        """The ledger's records by key, read once (then kept up to date by `evaluate`)."""
        if self._known is None:
            rows = read_ledger(self.ledger, str(self.ledger.path or ":memory:"))[1]
            self._known = {r.arch: r for r in rows}
        return self._known

    def close(self) -> None:
        """Stop the executor's workers that `evaluate` started (idempotent)."""
        if self._evaluating:
            self.executor.close()
            self._evaluating = False

    def _stopped(self, arch: Architecture, error: str | None) -> SetupError:
        """The study's end at a failure of its configuration: recording it would fail
        every evaluation alike, and poison a resume once the cause is fixed."""
        where = f"hwnas search --resume {self.out_dir}" if self.out_dir else "run it again"
        return SetupError(
            f"stopped: evaluating {arch.key} failed for a reason every evaluation shares "
            f"({error}); nothing was recorded for it: fix that and resume ({where})"
        )

    def _job(self) -> Job:
        """The study's evaluation for an executor; workers get only `setup` (plain data)."""
        setup = WorkerSetup(self.config.to_dict(), plugin_modules(self._plugins), tuple(sys.path))
        return Job(self.space, self.evaluator, setup)

    # --- results ------------------------------------------------------------------------
    def results(self) -> Results:
        """What the run has recorded so far, read-only."""
        config, rows = read_ledger(self.ledger, str(self.ledger.path or ":memory:"))
        created = self.ledger.get_meta("created")
        return Results(
            config,
            rows,
            path=self.out_dir,
            host=self.ledger.get_meta("host"),
            created=start_time(created),
            sources=self.sources,
        )

    @property
    def metric_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def evaluations(self) -> pd.DataFrame:
        """Every evaluation: `arch`, `status`, one column per metric, `error`, `trial`."""
        return self.results().evaluations()

    def pareto_front(self) -> pd.DataFrame:
        """Feasible, successfully evaluated, non-dominated architectures, sorted by the
        first objective."""
        return self.results().pareto_front()

    def true_front(self) -> pd.DataFrame | None:
        """The exact front of the whole space when every metric comes from a complete
        table (tabular spaces); None otherwise."""
        return self.results().true_front()

    def summary(self) -> dict[str, Any]:
        """`Results.summary` of the run so far."""
        return self.results().summary()

    def _write_config(self, ledger: Ledger) -> None:
        assert self.out_dir is not None
        data = {"config": self.config.to_dict(), "host": ledger.get_meta("host")}
        try:
            atomic_write(self.out_dir / CONFIG_FILE, json.dumps(data, indent=2) + "\n")
        except OSError as exc:
            ledger.close()
            if disk_full(exc):
                raise ledger.full_disk_error(exc) from None
            raise HwnasError(f"{self.out_dir / CONFIG_FILE}: cannot write it ({exc})") from None


def _exists(path: Path) -> bool:
    """Whether `path` exists; a path the system refuses to look up (a name too long, a
    directory without permission) is an `HwnasError` naming it, not a raw OSError."""
    try:
        return path.exists()
    except OSError as exc:
        raise HwnasError(
            f"{path.parent}: cannot use it as the run directory ({exc.strerror})"
        ) from None
