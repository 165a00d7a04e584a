"""`hwnas search` and `hwnas show`."""

from __future__ import annotations

import contextlib
import json
import math
import shlex
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from hwnas.cli._app import app, console, err_console, friendly, progress_bar, stage_reporter
from hwnas.errors import SpecError
from hwnas.ledger import LEDGER_FILE
from hwnas.report.console import plural

if TYPE_CHECKING:
    from hwnas.executors import Executor
    from hwnas.results import Results


def _parse_options(items: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values are read as JSON when they parse (numbers, booleans)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(
                f"strategy option {item!r}: expected KEY=VALUE (e.g. population_size=30)"
            )
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _default_run_dir(space: str, dataset: str, strategy: str, seed: int) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{space}-{dataset}-{strategy}-seed{seed}-{stamp}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


@app.command()
@friendly
def search(
    ctx: typer.Context,
    space: str = typer.Option("nb201", help="Search space (see `hwnas spaces`)."),
    dataset: str = typer.Option("cifar10", help="Dataset of the space's accuracy/cost tables."),
    objective: list[str] | None = typer.Option(
        None,
        "--objective",
        "-o",
        help="METRIC:min|max, repeatable. Default: accuracy:max and latency@pixel3:min.",
    ),
    constraint: list[str] | None = typer.Option(
        None, "--constraint", "-c", help="METRIC<=BOUND (or >=, <, >), repeatable."
    ),
    strategy: str | None = typer.Option(
        None, help="Search strategy (see `hwnas strategies`). Default: the benchmark winner."
    ),
    option: list[str] | None = typer.Option(
        None, "--option", help="Strategy option KEY=VALUE, repeatable."
    ),
    budget: int = typer.Option(200, help="Number of evaluations."),
    seed: int = typer.Option(0, help="Seed: the same seed gives the same evaluations."),
    quality: str = typer.Option("tabular", help="Quality estimator for `accuracy`."),
    data: str | None = typer.Option(
        None,
        help="Images for data-dependent quality estimators (NAME[:PATH] of hwnas.datasets, "
        "e.g. fashion-mnist); networks built in the search get their classes; --dataset "
        "then defaults to NAME when the space knows it.",
    ),
    quant: str | None = typer.Option(
        None,
        help="Quantisation policy searched with the network (w=4,6,8;a=8;first=8;last=8): "
        "the space becomes SPACE+quant:POLICY, each block choosing its bits.",
    ),
    # lists only to refuse a repeated flag, which click would otherwise let the last win
    restrict: list[str] | None = typer.Option(
        None,
        "--restrict",
        help="Search a sub-space only: DIMENSION=V1,V2 (shell patterns allowed, e.g. "
        "width=1, 'kernel_*=3,5'), repeatable; `hwnas spaces SPACE` lists the dimensions.",
    ),
    outs: list[Path] | None = typer.Option(
        None,
        "--out",
        metavar="<Path>",
        help="Run directory (default: runs/SPACE-DATASET-STRATEGY-seedN-TIME).",
    ),
    resumes: list[Path] | None = typer.Option(
        None,
        "--resume",
        metavar="<Path>",
        help="Continue the run in this directory; only --budget may change.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the run directory."),
    executor: str = typer.Option(
        "inprocess", help="Where evaluations run: inprocess, process (local pool) or ray."
    ),
    workers: int | None = typer.Option(
        None, help="Parallel evaluations (process/ray; default: the CPUs)."
    ),
    ray_address: str | None = typer.Option(
        None, help="Ray cluster to join (e.g. auto, ray://head:10001); default: a local one."
    ),
    timeout: float | None = typer.Option(
        None, help="Seconds an evaluation may take before its worker is killed (process/ray)."
    ),
    retries: int = typer.Option(
        1, help="Retries of an evaluation whose worker died or timed out (not of errors)."
    ),
    fidelity: list[str] | None = typer.Option(
        None,
        "--fidelity",
        help="A cheaper fidelity of the quality estimator (supernet: val=N, calib=N; train: "
        "epochs=N, images=N; e.g. val=500), repeatable, cheapest first: successive halving evaluates many candidates "
        "there and promotes the best 1/eta; --budget counts full-fidelity evaluations.",
    ),
    eta: int = typer.Option(3, help="With --fidelity: promote the best 1/eta of each round."),
    promote: int = typer.Option(10, help="With --fidelity: full-fidelity evaluations per round."),
) -> None:
    """Search a space for the accuracy-versus-cost Pareto front."""
    from hwnas import multifidelity
    from hwnas.executors import make_executor
    from hwnas.spaces import parse_restrict
    from hwnas.strategies import DEFAULT_STRATEGY
    from hwnas.study import Study

    out, resume = _once("--out", outs), _once("--resume", resumes)
    if ray_address is not None and executor != "ray":
        raise SpecError("--ray-address needs --executor ray")
    options = {"address": ray_address} if ray_address is not None else {}
    staged: dict[str, Any] = {
        name: value
        for name, value in {"fidelities": fidelity, "eta": eta, "promote": promote}.items()
        if _explicit(ctx, _PARAM_OF.get(name, name))
    }

    def fresh() -> Executor:  # one executor per fidelity's study
        return make_executor(executor, workers, timeout, retries, **options)

    runner = fresh()  # a bad executor or option fails here, before anything runs

    if resume is not None:
        given: dict[str, Any] = {
            name: value
            for name, value in {
                "space": space,
                "dataset": dataset,
                "objectives": objective,
                "constraints": constraint,
                "strategy": strategy,
                "strategy_options": _parse_options(option or []) if option else None,
                "budget": budget,
                "seed": seed,
                "quality": quality,
                "data": data,
                "restrict": parse_restrict(restrict or []),
                "quant": quant,
            }.items()
            if _explicit(ctx, _PARAM_OF.get(name, name))
        }
        if out is not None:
            raise SpecError(
                "--out and --resume are exclusive: a resumed run stays in its directory"
            )
        resume = _reachable(resume, "--resume")
        if fidelity or multifidelity.settings(resume) is not None:
            _run_staged(
                resume, partial(multifidelity.resume, resume, **given, **staged), fresh, quiet
            )
            return
        study = Study.resume(resume, executor=runner, **given)
    else:
        if staged and not fidelity:
            raise SpecError("--eta and --promote need --fidelity (a multi-fidelity search)")
        strategy = strategy or DEFAULT_STRATEGY
        if data is not None and not _explicit(ctx, "dataset"):
            dataset = _dataset_of(space, data)
        run_dir = _reachable(out or _default_run_dir(space, dataset, strategy, seed), "--out")
        args: dict[str, Any] = {
            "space": space,
            "dataset": dataset,
            "objectives": objective or ["accuracy:max", "latency@pixel3:min"],
            "constraints": constraint or [],
            "strategy": strategy,
            "strategy_options": _parse_options(option or []),
            "budget": budget,
            "seed": seed,
            "quality": quality,
            "data": data,
            "restrict": parse_restrict(restrict or []),
            "quant": quant,
        }
        if fidelity:
            start = partial(multifidelity.run, fidelity, eta=eta, promote=promote, **args)
            _run_staged(run_dir, partial(start, out_dir=run_dir), fresh, quiet)
            return
        study = Study(**args, out_dir=run_dir, executor=runner)
    _run(study, quiet)


def _once(flag: str, values: list[Path] | None) -> Path | None:
    """The one value of a flag that must not be repeated."""
    if values and len(values) > 1:
        raise SpecError(
            f"{flag} is given {len(values)} times ({', '.join(map(str, values))}); give it once"
        )
    return values[0] if values else None


def _reachable(run_dir: Path, flag: str) -> Path:
    """`run_dir`, once the system can look it up: a path it refuses (a name too long, a
    directory without permission) would otherwise end in a traceback, as merely asking
    whether the run's ledger exists raises there."""
    from hwnas.ledger import LEDGER_FILE

    try:
        (run_dir / LEDGER_FILE).exists()
    except OSError as exc:
        raise SpecError(
            f"{flag} {run_dir}: cannot use it as the run directory ({exc.strerror})"
        ) from None
    return run_dir


def _dataset_of(space: str, data: str) -> str:
    """The space's dataset named like the data spec (fashion-mnist -> fashion-mnist)."""
    from hwnas.datasets import DATASETS
    from hwnas.spaces import get_space

    name = data.partition(":")[0].strip()
    DATASETS.get(name)  # a misspelt data set is named as such, with the likely one
    known = get_space(space).datasets
    if name not in known:
        raise SpecError(
            f"--data {data!r}: space {space!r} has no dataset {name!r}; give --dataset "
            f"(one of {', '.join(known)}) for the networks' input shape (their classes are "
            "the data's)"
        )
    return name


_PARAM_OF = {
    "objectives": "objective",
    "constraints": "constraint",
    "strategy_options": "option",
    "fidelities": "fidelity",
}


def _explicit(ctx: typer.Context, param: str) -> bool:
    source = ctx.get_parameter_source(param)
    # compared by name: typer may carry its own copy of click's ParameterSource enum
    return source is not None and source.name != "DEFAULT"


def _run(study: Any, quiet: bool) -> None:
    """Run the study, write its files and print its front (`_finish`)."""
    from hwnas.report import write_outputs

    cfg = study.config
    if quiet:
        with _interruptible(study):
            study.optimize(callbacks=[write_outputs])
    else:
        with _interruptible(study), progress_bar() as bar:
            task = bar.add_task(f"{cfg.strategy} on {cfg.space}/{cfg.dataset}", total=cfg.budget)
            study.optimize(
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                callbacks=[write_outputs],
                stages=stage_reporter(bar),
            )
    _finish(study.results(), study.out_dir, quiet)


def _run_staged(
    run_dir: Path, start: Callable[..., Results], fresh: Callable[[], Executor], quiet: bool
) -> None:
    """Run a multi-fidelity search (`start`, given the executor, progress and callbacks),
    its progress the full-fidelity evaluations; Ctrl-C says how to go on."""
    from hwnas.report import write_outputs

    try:
        if quiet:
            results = start(executor=fresh, callbacks=[write_outputs])
        else:
            with progress_bar() as bar:
                task = bar.add_task(f"successive halving into {run_dir}", total=None)
                results = start(
                    executor=fresh,
                    callbacks=[write_outputs],
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
    except KeyboardInterrupt:
        saved = f"every finished evaluation is saved in {run_dir} (the cheaper fidelities' in "
        raise _interrupted(f"{saved}{run_dir / 'fidelity'})", run_dir) from None
    _finish(results, run_dir, quiet)


def _finish(results: Results, run_dir: Path, quiet: bool) -> None:
    """Print the run's front (or only its directory); a run in which no evaluation
    succeeded (all failed or infeasible) ends with why, on stderr, and exit code 1."""
    from hwnas.report.console import print_results
    from hwnas.report.outputs import OUTPUT_FILES

    if quiet:
        console.print(str(run_dir))
    else:
        print_results(results, console)
        console.print(
            f"Run files in {run_dir}: ledger.sqlite, {', '.join(OUTPUT_FILES)}, config.json",
            highlight=False,
        )
    reason = _nothing_found(results)
    if reason is not None:
        err_console.print(
            Text.assemble(("error:", "bold red"), f" {reason}"), highlight=False, soft_wrap=True
        )
        raise typer.Exit(1)


def _nothing_found(results: Results) -> str | None:
    """Why the run found no front (every evaluation failed or was infeasible: the first
    error, the constraints no evaluation met), or None when it found one."""
    from hwnas.trial import FAILED, INFEASIBLE, OK

    rows = results.rows
    if not rows or any(r.status == OK for r in rows):
        return None
    failed = [r for r in rows if r.status == FAILED]
    infeasible = [r for r in rows if r.status == INFEASIBLE]
    parts = []
    if failed:
        parts.append(
            f"{len(failed)} failed, the first (trial {failed[0].trial}) with: {failed[0].error}"
        )
    if infeasible:
        unmet = [
            c.spec
            for c in results.constraints
            if not any(c.satisfied(r.metrics.get(c.metric.name, math.nan)) for r in infeasible)
        ]
        specs = ", ".join(c.spec for c in results.constraints)
        why = f"no evaluation met {', '.join(unmet)}" if unmet else f"none met all of {specs}"
        parts.append(f"{len(infeasible)} infeasible: {why}")
    return (
        f"no evaluation of the {len(rows)} succeeded, so the run has no Pareto front: "
        + "; ".join(parts)
        + f" (files in {results.path})"
    )


@contextlib.contextmanager
def _interruptible(study: Any) -> Iterator[None]:
    """Ctrl-C ends the search with exit code 130 and says what the ledger kept (every
    finished evaluation) and how to go on from there."""
    try:
        yield
    except KeyboardInterrupt:
        saved = f"{plural(len(study.ledger), 'evaluation')} saved in {study.out_dir / LEDGER_FILE}"
        raise _interrupted(saved, study.out_dir) from None


def _interrupted(saved: str, run_dir: Path) -> typer.Exit:
    """Exit code 130, saying what was kept and the command that goes on from there."""
    err_console.print(
        f"interrupted: {saved}; continue with: hwnas search --resume {shlex.quote(str(run_dir))}",
        highlight=False,
        soft_wrap=True,
    )
    return typer.Exit(130)


@app.command()
@friendly
def show(run_dir: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Print a run's front and summary again."""
    from hwnas import multifidelity
    from hwnas.report.console import print_results
    from hwnas.results import load_results

    results = load_results(run_dir)
    cfg = results.config
    console.print(
        f"{run_dir}: {cfg.space}/{cfg.dataset}, objectives {', '.join(cfg.objectives)}"
        + (f", constraints {', '.join(cfg.constraints)}" if cfg.constraints else "")
        + f", strategy {cfg.strategy}, budget {cfg.budget}, seed {cfg.seed}",
        highlight=False,
    )
    staged = multifidelity.settings(run_dir)
    if staged is not None:
        console.print(
            f"multi-fidelity: {', '.join(staged['fidelities'])} promoted to the full fidelity "
            f"(eta {staged['eta']}, {staged['promote']} per round); their evaluations are in "
            f"{run_dir / multifidelity.FIDELITY_DIR}",
            highlight=False,
            soft_wrap=True,
        )
    print_results(results, console)
