"""Rich rendering of a run's front and summary."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from hwnas.results import Results


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 architecture`, `2 architectures`: every count printed for people."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def front_table(run: Results, limit: int | None = None, width: int | None = None) -> Table:
    """The front as a table; within `width` columns the metrics keep their width and a
    long key (fbnet's 22 ops) is cut instead."""
    front = run.pareto_front()
    title = f"Pareto front: {plural(len(front), 'architecture')}"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    # one line per architecture: a key cut with an ellipsis on a narrow terminal reads
    # better than one folded over four lines
    metric_widths = [max(9, min(len(n), 16)) for n in run.metric_names]
    room = None if width is None else width - 16 - sum(w + 3 for w in metric_widths)
    table.add_column(
        "arch", no_wrap=True, overflow="ellipsis", max_width=None if room is None else max(room, 16)
    )
    for name, min_width in zip(run.metric_names, metric_widths):
        direction = next((o.direction for o in run.objectives if o.metric.name == name), None)
        table.add_column(
            f"{name}" + (f" ({direction})" if direction else ""),
            justify="right",
            min_width=min_width,
        )
    rows = front if limit is None else front.head(limit)
    for i, row in enumerate(rows.itertuples(index=False)):
        values = dict(zip(front.columns, row))
        table.add_row(str(i), values["arch"], *[_fmt(values[n]) for n in run.metric_names])
    return table


def print_results(run: Results, console: Console | None = None) -> None:
    console = console or Console(markup=False)
    console.print(front_table(run, width=console.width))
    s = run.summary()
    parts = [
        (
            f"{plural(s['evaluations'], 'evaluation')} ({s['ok']} ok, {s['infeasible']} infeasible, "
            f"{s['failed']} failed)"
        )
    ]
    if "hv_ratio" in s:
        estimated = s.get("hv_method", "exact") != "exact"
        parts.append(
            f"hypervolume {100 * s['hv_ratio']:.2f}% of the true front "
            f"({plural(s['true_front_size'], 'architecture')}, {100 * s['true_front_found']:.0f}% of them found"
            + (f"; estimated, {s['hv_method']})" if estimated else ")")
        )
    console.print("; ".join(parts))
