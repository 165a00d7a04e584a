"""The files a run directory holds beside its ledger, written from its results: the
evaluations and the front as CSV, `pareto.png` and `report.html`. `hwnas search` writes
them when a search ends; from Python, pass `write_outputs` to `Study.optimize`."""

from __future__ import annotations

from pathlib import Path

from hwnas._io import atomic_write
from hwnas.errors import HwnasError
from hwnas.results import Results

#: the output files, in the order they are written
OUTPUT_FILES = ("evaluations.csv", "pareto.csv", "pareto.png", "report.html")


def write_outputs(results: Results, out_dir: str | Path | None = None) -> list[Path]:
    """Write the run's output files into `out_dir` (default: the run's own directory)."""
    from hwnas.report.html import write_report
    from hwnas.report.plots import plot_front

    directory = Path(out_dir) if out_dir is not None else results.path
    if directory is None:
        raise HwnasError("an in-memory run has no directory: give out_dir")
    csvs = {"evaluations.csv": results.evaluations(), "pareto.csv": results.pareto_front()}
    for name, frame in csvs.items():
        atomic_write(directory / name, frame.to_csv(index=False))
    plot_front(results, directory / "pareto.png")
    write_report([results], directory / "report.html")
    return [directory / name for name in OUTPUT_FILES]
