"""`check_strategy`: the ask/tell contract (hwnas/strategies/_base.py), checked on an
18-point toy space it can exhaust and in a tabular NB201 study."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnas.errors import SpecError
from hwnas.metrics import parse_constraint, parse_objective
from hwnas.spaces import Architecture
from hwnas.strategies import Problem, Strategy, get_strategy, list_strategies, make_strategy
from hwnas.testing._common import TinySpace, expect, expect_raises
from hwnas.trial import FAILED, INFEASIBLE, OK, Trial


def synthetic(arch: Architecture) -> dict[str, float]:
    """Two conflicting objectives of a `TinySpace` architecture."""
    a, b, c = arch.genes
    return {"accuracy": 50 + 10 * a + 5 * b - 3 * c, "latency@x": 1 + a * a + b + 2 * c}


def tiny_problem(constraints: Sequence[str] = ()) -> Problem:
    """`accuracy:max`, `latency@x:min` on a `TinySpace`, under `constraints`."""
    return Problem(
        space=TinySpace(),
        objectives=(parse_objective("accuracy:max"), parse_objective("latency@x:min")),
        constraints=tuple(parse_constraint(c) for c in constraints),
    )


def drive(strategy: Strategy, budget: int, fail_every: int = 0) -> list[str]:
    """The ask/tell loop of a study on `synthetic`, failing every `fail_every`-th trial;
    the asked keys in order. Fails at once on an over-full batch or a repeated proposal."""
    what = f"strategy {getattr(strategy, 'name', type(strategy).__name__)!r}"
    asked: list[str] = []
    while len(asked) < budget:
        n = min(max(strategy.batch_size, 1), budget - len(asked))
        batch = strategy.ask(n)
        if not batch:
            break
        expect(len(batch) <= n, f"{what}: ask({n}) returned {len(batch)} architectures")
        trials: list[Trial] = []
        for arch in batch:
            expect(
                arch.key not in asked and arch.key not in [t.arch.key for t in trials],
                f"{what}: asked {arch.key} twice (ask #{len(asked) + 1}); ask() must return "
                "distinct architectures never asked before",
            )
            number = len(asked) + len(trials)
            if fail_every and number % fail_every == 0:
                trials.append(Trial(number, arch, FAILED, {}, "injected failure"))
                continue
            values = synthetic(arch)
            feasible = all(c.satisfied(values[c.metric.name]) for c in strategy.problem.constraints)
            trials.append(Trial(number, arch, OK if feasible else INFEASIBLE, values))
        asked += [t.arch.key for t in trials]
        strategy.tell(trials)
    return asked


def check_strategy(
    strategy: str | type[Strategy],
    options: dict[str, Any] | None = None,
    *,
    study_budget: int = 60,
) -> None:
    """Raise an `AssertionError` naming the broken rule unless the registered strategy
    (its name or class) keeps the ask/tell contract: distinct proposals never asked before,
    at most as many as asked for, a small space exhausted without a repeat, the same
    proposals for a seed, failed and infeasible results survived, nothing for `ask(0)`, the
    cheap-constraint precheck respected, options checked by name and annotation, and a
    tabular NB201 study of `study_budget` evaluations (0 skips it) distinct, repeatable
    and seed-dependent.
    `options` are passed to every instance (e.g. a smaller population)."""
    name = _registered_name(strategy)
    what = f"strategy {name!r}"
    options = dict(options or {})

    def make(problem: Problem, seed: int) -> Strategy:
        return make_strategy(name, problem, seed, options)

    first = make(tiny_problem(), 0)
    expect(
        isinstance(first.batch_size, int) and first.batch_size >= 1,
        f"{what}: batch_size is {first.batch_size!r}, not a positive integer",
    )
    batch = first.ask(3)
    expect(1 <= len(batch) <= 3, f"{what}: ask(3) returned {len(batch)} architectures")
    exhausted = make(tiny_problem(), 0)
    asked = drive(exhausted, budget=100)
    expect(
        len(asked) == 18,
        f"{what}: asked {len(asked)} of the 18 architectures of a space it could exhaust",
    )
    left = exhausted.ask(5)
    expect(left == [], f"{what}: ask(5) on an exhausted space returned {left}")
    runs = [drive(make(tiny_problem(), 7), budget=12) for _ in range(2)]
    expect(runs[0] == runs[1], f"{what}: seed 7 proposed {runs[0]}, then {runs[1]}")
    survived = drive(make(tiny_problem(["latency@x<=4"]), 1), budget=15, fail_every=3)
    expect(
        len(survived) == 15,
        f"{what}: stopped after {len(survived)} of 15 asks with failed and infeasible results",
    )
    _check_ask_zero(make, what)
    _check_precheck(name, options, what)
    _check_options(name, what)
    if study_budget:
        _check_study(name, options, study_budget, what)


def _registered_name(strategy: str | type[Strategy]) -> str:
    if isinstance(strategy, str):
        get_strategy(strategy)  # an unknown name raises, listing the valid ones
        return strategy
    name = getattr(strategy, "name", None)
    registered = isinstance(name, str) and name in list_strategies()
    expect(
        registered and get_strategy(str(name)) is strategy,
        f"{strategy.__name__} is not registered: a study builds strategies by name, so "
        "decorate it with @hwnas.register_strategy('NAME') first",
    )
    return str(name)


def _check_ask_zero(make: Any, what: str) -> None:
    """`ask(0)` proposes nothing and leaves the strategy as it was (a study asks for what
    is left of its budget, which may be nothing)."""
    strategy = make(tiny_problem(), 0)
    none = strategy.ask(0)
    expect(none == [], f"{what}: ask(0) returned {len(none)} architecture(s), not []")
    after = [a.key for a in strategy.ask(3)]
    fresh = [a.key for a in make(tiny_problem(), 0).ask(3)]
    expect(after == fresh, f"{what}: ask(0) changed what ask(3) proposes: {after} != {fresh}")


def _check_precheck(name: str, options: dict[str, Any], what: str) -> None:
    """With a cheap-constraint precheck, the first proposals avoid known-infeasible points."""
    base = tiny_problem(["latency@x<=3"])
    problem = Problem(
        base.space,
        base.objectives,
        base.constraints,
        precheck=lambda a: max(0.0, synthetic(a)["latency@x"] - 3),
    )
    first = make_strategy(name, problem, 0, options).ask(4)
    infeasible = [a.key for a in first if synthetic(a)["latency@x"] > 3]
    expect(not infeasible, f"{what}: first proposals {infeasible} fail the precheck")


def _check_options(name: str, what: str) -> None:
    """An unknown option is a `SpecError` naming it; an option annotated with a plain type
    accepts its default (and numpy scalars) and refuses a value of another kind by name."""
    with expect_raises(SpecError, f"{what}: option no_such_option=1", "no option"):
        make_strategy(name, tiny_problem(), 0, {"no_such_option": 1})
    cls = get_strategy(name)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - make_strategy does not type-check these either
        hints = {}
    for key, param in inspect.signature(cls.__init__).parameters.items():
        if key in ("self", "problem", "seed") or param.default is inspect.Parameter.empty:
            continue
        make_strategy(name, tiny_problem(), 0, {key: param.default})
        if hints.get(key) in (int, float):
            with expect_raises(SpecError, f"{what}: option {key}='abc'", f"option {key} must be"):
                make_strategy(name, tiny_problem(), 0, {key: "abc"})
            as_numpy = np.int64 if hints[key] is int else np.float64
            make_strategy(name, tiny_problem(), 0, {key: as_numpy(param.default)})


def _check_study(name: str, options: dict[str, Any], budget: int, what: str) -> None:
    from hwnas.study import Study

    def run(seed: int) -> list[str]:
        study = Study(strategy=name, strategy_options=options, budget=budget, seed=seed)
        return [str(a) for a in study.optimize().evaluations()["arch"]]

    a, b = run(0), run(0)
    expect(a == b, f"{what}: two NB201 studies with seed 0 evaluated different architectures")
    _check_resume(name, options, budget, what, a)
    expect(
        len(a) == budget and len(set(a)) == budget,
        f"{what}: an NB201 study of budget {budget} made {len(a)} evaluations, "
        f"{len(set(a))} distinct",
    )
    expect(run(1) != a, f"{what}: NB201 studies with seeds 0 and 1 evaluated the same")


def _check_resume(name: str, options: dict[str, Any], budget: int, what: str, a: list[str]) -> None:
    """A study stopped 3 trials into a batch (what a kill leaves) and resumed evaluates
    what an uninterrupted one does: through the strategy's snapshot when it is
    `restorable`, else by replaying it, which needs `ask(k)` to be a prefix of `ask(n)`."""
    import tempfile
    from pathlib import Path

    from hwnas.study import Study

    stop = budget // 2 + 3
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        Study(strategy=name, strategy_options=options, budget=stop, seed=0, out_dir=run).optimize()
        resumed = Study.resume(run, budget=budget).optimize()
        got = [str(x) for x in resumed.evaluations()["arch"]]
    expect(
        got == a,
        f"{what}: an NB201 study stopped after {stop} evaluations and resumed to {budget} "
        f"evaluated other architectures than an uninterrupted one (first difference at trial "
        f"{next((i for i, (x, y) in enumerate(zip(got, a)) if x != y), min(len(got), len(a)))})",
    )
