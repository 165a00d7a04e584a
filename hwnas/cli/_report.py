"""`hwnas report`: the HTML report of one run, or a comparison of several."""

from __future__ import annotations

from pathlib import Path

import typer

from hwnas.cli._app import app, console, friendly
from hwnas.errors import SpecError
from hwnas.report.console import plural


@app.command()
@friendly
def report(
    run_dirs: list[Path] = typer.Argument(..., help="One run directory, or several to compare."),
    out: Path | None = typer.Option(
        None,
        help="The HTML file (default: RUN_DIR/report.html for one run, comparison.html here "
        "for several).",
    ),
    static: Path | None = typer.Option(
        None, help="Also write the figures as PNG and SVG into this directory."
    ),
    name: list[str] | None = typer.Option(
        None, "--name", help="Label of each run, repeatable, in order (default: directory names)."
    ),
) -> None:
    """Write a self-contained HTML report: the interactive front, hypervolume versus
    evaluations, the front's architectures, configuration and host."""
    from hwnas.report.html import REPORT_FILE, write_report

    if name and len(name) != len(run_dirs):
        raise SpecError(
            f"--name given {plural(len(name), 'time')} for "
            f"{plural(len(run_dirs), 'run directory', 'run directories')}"
        )
    target = out or (run_dirs[0] / REPORT_FILE if len(run_dirs) == 1 else Path("comparison.html"))
    path = write_report(run_dirs, target, names=name, static=static)
    console.print(str(path), highlight=False, soft_wrap=True)
    if static is not None:
        console.print(f"figures in {static}", highlight=False, soft_wrap=True)
