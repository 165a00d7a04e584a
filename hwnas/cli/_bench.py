"""`hwnas bench`: compare strategies and external baselines on tabular tasks."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from hwnas.cli._app import app, console, friendly, progress_bar
from hwnas.errors import SpecError
from hwnas.report.console import plural


@app.command()
@friendly
def bench(
    task: list[str] | None = typer.Option(
        None,
        "--task",
        "-t",
        help="DATASET:DEVICE, repeatable (default: cifar10 x raspi4, pixel3, eyeriss, fpga).",
    ),
    method: list[str] | None = typer.Option(
        None,
        "--method",
        "-m",
        help="Strategy (NAME or NAME:key=value,...) or baseline (pymoo-nsga2, optuna-nsga2, "
        "optuna-tpe; optuna-tpe-multivariate and botorch-qlognehvi when named), repeatable "
        "(default: every strategy and the first three baselines).",
    ),
    seeds: int = typer.Option(20, help="Seeds per method and task (0..N-1)."),
    budget: list[int] | None = typer.Option(
        None,
        "--budget",
        "-b",
        help="Evaluation budgets to report, repeatable (default 50 100 300).",
    ),
    workers: int = typer.Option(2, help="Parallel processes."),
    out: Path | None = typer.Option(
        None,
        help="Output directory (default: bench/TIME). Each finished run is appended to "
        "runs.jsonl there; rerunning with the same --out resumes, skipping finished runs.",
    ),
) -> None:
    """Mean and std of HV gap to the true front per method x task x budget, with plots."""
    from hwnas.bench import MAIN_TASKS, default_methods, parse_task, run_many, write_report
    from hwnas.bench._report import markdown_table, summary_frame
    from hwnas.bench._run import check_methods
    from hwnas.bench._store import RUNS_FILE, append_run, load_runs

    budgets = sorted(set(budget or [50, 100, 300]))
    if seeds < 1 or workers < 1 or min(budgets) < 1:
        raise SpecError("--seeds, --workers and every --budget must be positive")
    tasks = [parse_task(t) for t in (task or MAIN_TASKS)]
    methods = list(method or default_methods())
    check_methods(methods, tasks)  # before the output directory exists
    out_dir = out or Path("bench") / time.strftime("%Y%m%d-%H%M%S")
    store = out_dir / RUNS_FILE
    done = load_runs(store, budgets)
    if done:
        console.print(f"Resuming: {plural(len(done), 'finished run')} in {store}", highlight=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    with progress_bar() as bar:
        job = bar.add_task("bench runs", total=len(tasks) * len(methods) * seeds)
        results = run_many(
            methods,
            tasks,
            range(seeds),
            budgets,
            workers=workers,
            progress=lambda n, total: bar.update(job, completed=n, total=total),
            done=done,
            on_result=lambda result: append_run(store, result),
        )
    paths = write_report(results, out_dir)
    console.print(markdown_table(summary_frame(results)), highlight=False, soft_wrap=True)
    console.print(
        f"Results in {out_dir}: " + ", ".join(p.name for p in paths.values()),
        highlight=False,
    )
