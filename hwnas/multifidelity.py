"""Multi-fidelity search: successive halving over the cheaper fidelities a quality
estimator offers (a supernet's `val=500` subset, fewer calibration images), in rounds as
Hyperband's rungs. The cheapest fidelity is a study of its own driven by the strategy; each
round, the best 1/eta of its new candidates (non-dominated sorting, then crowding, on that
fidelity's objectives; only feasible, successful ones) go up to the next fidelity, and the
best of those to the full one, through `Study.evaluate`. The full fidelity's study is the
run: its ledger in `DIR` holds only full-fidelity values, so the report, `hwnas show` and
`hwnas export` read it as any search's, and each of its quality values' provenance names
the lower-fidelity record it was promoted from (`promoted_from`). The other fidelities'
ledgers are in `DIR/fidelity/OPTION/`.

The budget counts full-fidelity evaluations: `budget / promote` rounds promote `promote`
each (fewer when a round has fewer feasible candidates). A round's choice depends only on
the ledgers, so running the same command again (or `hwnas search --resume DIR`) redoes
nothing and continues where a kill stopped it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.config import DEFAULT_STRATEGY, StudyConfig
from hwnas.errors import ConfigConflictError, HwnasError, SpecError
from hwnas.evaluation import resolve
from hwnas.executors import DEFAULT_EXECUTOR, Executor, Job, make_executor
from hwnas.ledger import LEDGER_FILE, Ledger
from hwnas.metrics import Objective
from hwnas.pareto import crowding_distance, fronts
from hwnas.quality import get_quality
from hwnas.results import Evaluation, Results
from hwnas.sources import QUALITY_METRICS, EvalContext
from hwnas.spaces import Architecture
from hwnas.strategies import Problem, make_strategy
from hwnas.study import Callback, Study
from hwnas.trial import OK, Outcome

#: the folder of a run directory holding the lower fidelities' ledgers
FIDELITY_DIR = "fidelity"
#: the full-fidelity ledger's meta key of the multi-fidelity settings
SETTINGS_KEY = "multifidelity"
DEFAULT_ETA = 3
DEFAULT_PROMOTE = 10
#: a name (with `workers`), or a function making a fresh executor: one per fidelity
ExecutorSpec = str | Callable[[], Executor]

__all__ = ["DEFAULT_ETA", "DEFAULT_PROMOTE", "FIDELITY_DIR", "resume", "run", "settings"]


@dataclass(frozen=True)
class _Rung:
    option: str  # '' for the full fidelity
    quality: str
    out_dir: Path


def run(
    fidelities: Sequence[str],
    *,
    out_dir: str | Path,
    eta: int = DEFAULT_ETA,
    promote: int = DEFAULT_PROMOTE,
    executor: ExecutorSpec = DEFAULT_EXECUTOR,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    callbacks: Sequence[Callback] = (),
    **study: Any,
) -> Results:
    """Search with `study`'s arguments (`Study`'s: space, objectives, quality, budget...)
    through `fidelities` (cheapest first, e.g. `["val=500"]`), promoting the best 1/`eta`
    of each fidelity's new candidates per round, `promote` full-fidelity evaluations a
    round; the full-fidelity run's `Results`. A directory that holds this run continues it;
    `progress(done, budget)` follows the full-fidelity evaluations."""
    out = Path(out_dir)
    unknown = sorted(set(study) - set(StudyConfig.__dataclass_fields__))
    if unknown:
        raise SpecError(f"unknown study argument(s) {', '.join(unknown)}")
    config = StudyConfig(**{**study, "strategy": study.get("strategy") or DEFAULT_STRATEGY})
    chosen = _settings(fidelities, eta, promote)
    resolved = resolve(config)
    rungs = _rungs(config, resolved.context, chosen["fidelities"], out)
    batch = make_strategy(
        config.strategy,
        Problem(resolved.space, resolved.objectives, resolved.constraints),
        config.seed,
        config.strategy_options,
    ).batch_size
    schedule = list(_schedule(config.budget, promote, eta, len(rungs) - 1, batch))
    make = _factory(executor, workers)
    full = _open_full(config, out, chosen, make)
    try:
        _search(config, rungs, full, schedule, make, progress)
        results = full.results()
    finally:
        _release(full)
    for callback in callbacks:
        callback(results)
    return results


def resume(
    run_dir: str | Path,
    *,
    executor: ExecutorSpec = DEFAULT_EXECUTOR,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    callbacks: Sequence[Callback] = (),
    **overrides: Any,
) -> Results:
    """Continue the multi-fidelity run in `run_dir`. `overrides` may raise the budget; any
    other change (of the study or of `fidelities`, `eta`, `promote`) is refused."""
    stored = settings(run_dir)
    if stored is None:
        raise HwnasError(
            f"{run_dir}: not a multi-fidelity run; --fidelity cannot be added to a run "
            "(start a new one)"
        )
    staged = {k: overrides.pop(k, stored[k]) for k in ("fidelities", "eta", "promote")}
    config = Study.load(run_dir).config.to_dict()
    return run(
        staged.pop("fidelities"), out_dir=run_dir, executor=executor, workers=workers,
        progress=progress, callbacks=callbacks, **staged, **{**config, **overrides},
    )  # fmt: skip


def settings(run_dir: str | Path) -> dict[str, Any] | None:
    """The multi-fidelity settings of the run in `run_dir`; None for any other run (or
    none), read without writing a byte."""
    path = Path(run_dir) / LEDGER_FILE
    if not path.is_file():
        return None
    ledger = Ledger(path, read_only=True)
    try:
        stored = ledger.get_meta(SETTINGS_KEY)
    finally:
        ledger.close()
    return stored if isinstance(stored, dict) else None


# --- setting up ---------------------------------------------------------------------------
def _settings(fidelities: Sequence[str], eta: int, promote: int) -> dict[str, Any]:
    if isinstance(fidelities, str):
        fidelities = [fidelities]
    # one name per fidelity: `calib=500,val=500` is `val=500,calib=500` (its folder too)
    options = [",".join(sorted("".join(f.split()).split(","))) for f in fidelities]
    if not options or not all(options):
        raise SpecError("multi-fidelity search needs a cheaper fidelity, e.g. val=500")
    if len(set(options)) < len(options):
        raise SpecError(f"fidelities {', '.join(options)}: each may be given once")
    for name, value, low in (("eta", eta, 2), ("promote", promote, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SpecError(f"{name} must be an integer of at least {low}, got {value!r}")
    return {"fidelities": options, "eta": eta, "promote": promote}


def _rungs(config: StudyConfig, ctx: EvalContext, options: list[str], out: Path) -> list[_Rung]:
    """The fidelities cheapest first, then the full one; refused unless each is cheaper
    than the next (and the estimator offers them)."""
    estimator = get_quality(config.quality)
    specs = [estimator.fidelity(option, ctx) for option in options]
    for i in range(len(options) - 1):
        try:
            above = get_quality(specs[i + 1]).fidelity(options[i], ctx)
        except SpecError as exc:
            above = str(exc)
        if above != specs[i]:
            raise SpecError(
                f"fidelity {options[i]!r} is not cheaper than {options[i + 1]!r} in every "
                "respect; list the fidelities cheapest first"
            )
    rungs = [_Rung(o, s, out / FIDELITY_DIR / o) for o, s in zip(options, specs)]
    return [*rungs, _Rung("", config.quality, out)]


def _factory(executor: ExecutorSpec, workers: int | None) -> Callable[[], Executor]:
    if callable(executor):
        return executor
    make_executor(executor, workers)  # a bad name or option fails before anything runs
    return lambda: make_executor(executor, workers)


def _holds_run(run_dir: Path) -> bool:
    path = run_dir / LEDGER_FILE
    return path.exists() and Ledger.holds_run(path)


def _recorded(run_dir: Path) -> int:
    """How many evaluations the run in `run_dir` holds (0 for none)."""
    if not _holds_run(run_dir):
        return 0
    ledger = Ledger(run_dir / LEDGER_FILE, read_only=True)
    try:
        return len(ledger)
    finally:
        ledger.close()


def _open(config: StudyConfig, rung: _Rung, budget: int, executor: Executor) -> Study:
    """A fidelity's study with `budget`, continued where its directory holds it."""
    args = {**replace(config, quality=rung.quality).to_dict(), "budget": budget}
    if _holds_run(rung.out_dir):
        return Study.resume(rung.out_dir, executor=executor, **args)
    return Study(**args, out_dir=rung.out_dir, executor=executor)


def _open_full(
    config: StudyConfig,
    out: Path,
    chosen: dict[str, Any],
    make: Callable[[], Executor],
) -> Study:
    """The run's own study (the full fidelity), its settings stored before any
    evaluation; a directory holding another run is refused, with the difference."""
    rung = _Rung("", config.quality, out)
    study = _open(config, rung, config.budget, _Linking(make()))
    stored = study.ledger.get_meta(SETTINGS_KEY)
    if stored is None and len(study.ledger):
        _release(study)
        raise HwnasError(f"{out} holds a single-fidelity run; choose another directory")
    if stored is not None and stored != chosen:
        diff = [f"{k}: {stored.get(k)!r} -> {v!r}" for k, v in chosen.items() if stored.get(k) != v]
        _release(study)
        raise ConfigConflictError(
            f"{out} was started with other multi-fidelity settings: " + "; ".join(diff)
        )
    study.ledger.set_meta(SETTINGS_KEY, chosen)
    return study


# --- the rounds ---------------------------------------------------------------------------
def _search(
    config: StudyConfig,
    rungs: list[_Rung],
    full: Study,
    schedule: list[list[int]],
    make: Callable[[], Executor],
    progress: Callable[[int, int], None] | None,
) -> None:
    """Every round in order; a round the ledgers already hold evaluates nothing again."""
    recorded = _recorded(rungs[0].out_dir)
    low = _open(config, rungs[0], max(schedule[0][0], recorded), make())
    above = [
        _open(config, rung, sum(counts[i] for counts in schedule), _Linking(make()))
        for i, rung in enumerate(rungs[1:-1], start=1)
    ]
    studies = [low, *above, full]
    start = 0
    try:
        for number, counts in enumerate(schedule):
            if len(studies[0].ledger) < start + counts[0]:
                _release(studies[0])
                studies[0] = _open(config, rungs[0], start + counts[0], make())
                studies[0].optimize()
            pool = [e for e in studies[0].results().rows if start <= e.trial < start + counts[0]]
            start += counts[0]
            for i in range(1, len(rungs)):
                pool = _promote(studies[i], pool, counts[i], rungs[i - 1], number)
            if progress is not None:
                progress(len(full.ledger), config.budget)
    finally:
        for study in studies[:-1]:
            _release(study)


def _release(study: Study) -> None:
    """Stop a study's workers and close its ledger."""
    study.close()
    study.ledger.close()


def _promote(
    study: Study, pool: list[Evaluation], n: int, below: _Rung, number: int
) -> list[Evaluation]:
    """Evaluate the best `n` of `pool` (a lower fidelity's records) in `study`, linked to
    them; those it holds already are not evaluated again, and new ones stop at its budget
    (a budget raised on resume may change a finished round's choice)."""
    picked = best(pool, study.objectives, n)
    held = [e for e in picked if study.lookup(e.arch) is not None]
    room = study.config.budget - len(study.ledger)
    picked = held + [e for e in picked if study.lookup(e.arch) is None][: max(room, 0)]
    executor = study.executor
    assert isinstance(executor, _Linking)
    executor.links = {e.arch: _link(e, below, number) for e in picked}
    return study.evaluate([e.arch for e in picked])


def _schedule(budget: int, promote: int, eta: int, lower: int, batch: int) -> Iterator[list[int]]:
    """Each round's candidates per fidelity, cheapest first: `promote` at the full one
    (the rest of the budget in the last round), `eta` times more at each below; the
    cheapest rounded up to whole strategy batches, so a round ends on a batch (a replay
    of the strategy asks the same batches)."""
    batch = max(batch, 1)
    for done in range(0, budget, promote):
        k = min(promote, budget - done)
        counts = [k * eta ** (lower - i) for i in range(lower + 1)]
        counts[0] = math.ceil(counts[0] / batch) * batch
        yield counts


def best(rows: Sequence[Evaluation], objectives: Sequence[Objective], n: int) -> list[Evaluation]:
    """The `n` best feasible, successful evaluations: by front rank, then by crowding
    distance within a front (NSGA-II's survival), then by trial number."""
    ok = [e for e in rows if e.status == OK]
    F = np.array([[e.value(o.metric.name) * o.sign for o in objectives] for e in ok])
    F = F.reshape(len(ok), len(objectives))
    order: list[int] = []
    for members in fronts(F):
        crowding = crowding_distance(F[members])
        ranked = sorted(range(len(members)), key=lambda j: (-crowding[j], ok[members[j]].trial))
        order += [int(members[j]) for j in ranked]
    return [ok[i] for i in order[:n]]


def _link(record: Evaluation, rung: _Rung, number: int) -> dict[str, Any]:
    """Where a promoted architecture's lower-fidelity values are recorded."""
    return {
        "fidelity": rung.option,
        "quality": rung.quality,
        "values": {m: record.value(m) for m in record.metrics if _quality(m)},
        "run": str(Path(FIDELITY_DIR) / rung.option),
        "trial": record.trial,
        "round": number,
    }


def _quality(name: str) -> bool:
    return "@" not in name and name in QUALITY_METRICS


class _Linking(Executor):
    """A fidelity's executor that adds, to each promoted architecture's quality
    provenance, the lower-fidelity record it was promoted from (`promoted_from`)."""

    name = "linking"

    def __init__(self, inner: Executor) -> None:
        super().__init__()
        self.inner = inner
        self.links: dict[str, dict[str, Any]] = {}

    def open(self, job: Job) -> None:
        self.inner.open(job)

    def run(self, archs: Sequence[Architecture]) -> Iterator[tuple[Architecture, Outcome]]:
        for arch, outcome in self.inner.run(archs):
            link = self.links.get(arch.key)
            if link is not None:
                prov = dict(outcome.provenance)
                for name in link["values"]:
                    prov[name] = {**prov.get(name, {}), "promoted_from": link}
                outcome = replace(outcome, provenance=prov)
            yield arch, outcome

    def close(self) -> None:
        self.inner.close()
