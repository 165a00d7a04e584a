"""Bench outputs: per-run indicators (CSV), mean and std per method x task x budget (CSV
and a markdown table of HV gap in %), and HV gap versus evaluations (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hwnas._io import atomic_write
from hwnas.bench._run import RunResult

if TYPE_CHECKING:
    import pandas as pd


def runs_frame(results: Sequence[RunResult]) -> pd.DataFrame:
    """One row per run and budget."""
    import pandas as pd

    rows = [
        {
            "method": r.method,
            "task": r.task,
            "seed": r.seed,
            "budget": b,
            **values,
            "evaluations": min(r.evaluations, b),
            "wall_s": r.wall_s,
        }
        for r in results
        for b, values in r.at.items()
    ]
    return pd.DataFrame(rows)


def summary_frame(results: Sequence[RunResult]) -> pd.DataFrame:
    """Mean and std over seeds of every indicator, per method x task x budget (sample std,
    ddof=1; `seeds` says how many runs each cell averages)."""
    runs = runs_frame(results)
    keys = ["method", "task", "budget"]
    grouped = runs.groupby(keys, sort=False)
    out = grouped[["hv_gap", "igd", "front_share", "wall_s"]].agg(["mean", "std"])
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    out["seeds"] = grouped.size()
    return out.reset_index()


def markdown_table(summary: pd.DataFrame) -> str:
    """HV gap in %, `mean ± std`, one row per task x method, one column per budget."""
    budgets = sorted(summary["budget"].unique())
    lines = [
        "| task | method | " + " | ".join(f"HV gap % @{b}" for b in budgets) + " |",
        "|---|---|" + "---:|" * len(budgets),
    ]
    for task in summary["task"].unique():
        part = summary[summary["task"] == task]
        for method in part["method"].unique():
            cells = []
            for b in budgets:
                row = part[(part["method"] == method) & (part["budget"] == b)].iloc[0]
                cells.append(f"{100 * row['hv_gap_mean']:.3f} ± {100 * row['hv_gap_std']:.3f}")
            lines.append(f"| {task} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(results: Sequence[RunResult], path: str | Path) -> Path:
    """Mean HV gap versus evaluations, one panel per task, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    tasks = list(dict.fromkeys(r.task for r in results))
    methods = list(dict.fromkeys(r.method for r in results))
    cols = min(len(tasks), 2)
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4 * rows), dpi=110, squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        for method in methods:
            curves = [r.curve for r in results if r.task == task and r.method == method]
            if not curves or not curves[0]:
                continue
            n = min(len(c) for c in curves)
            x = [e for e, _ in curves[0][:n]]
            y = np.mean([[g for _, g in c[:n]] for c in curves], axis=0) * 100
            ax.plot(x, np.maximum(y, 1e-4), label=method)
        ax.set_yscale("log")
        ax.set_title(task)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("mean HV gap (%)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(results: Sequence[RunResult], out_dir: str | Path) -> dict[str, Path]:
    """runs.csv, summary.csv, summary.md and hv_gap.png in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_frame(results)
    paths = {
        "runs": out / "runs.csv",
        "summary": out / "summary.csv",
        "markdown": out / "summary.md",
        "plot": out / "hv_gap.png",
    }
    atomic_write(paths["runs"], runs_frame(results).to_csv(index=False))
    atomic_write(paths["summary"], summary.to_csv(index=False))
    atomic_write(paths["markdown"], markdown_table(summary))
    plot_curves(results, paths["plot"])
    return paths
