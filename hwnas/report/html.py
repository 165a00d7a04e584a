"""The HTML report: one self-contained file (inline CSS, SVG and a small vanilla-JS layer,
nothing loaded from the network) for one run or a comparison of several.

Safety: every text from a run (names, keys, errors, provenance, configuration) is either
HTML-escaped into the markup or embedded as JSON with `<`, `>`, `&`, U+2028 and U+2029
escaped, and the page's Content-Security-Policy lets only its own script (by hash) run."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from hwnas._io import atomic_write
from hwnas.errors import HwnasError
from hwnas.report.data import report_payload, run_name
from hwnas.results import Results, load_results


class HasResults(Protocol):
    """A live run (e.g. a `Study`): the report reads its results so far."""

    def results(self) -> Results: ...


RunLike = Results | HasResults | str | Path
REPORT_FILE = "report.html"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def script_json(data: Any) -> str:
    """JSON that is safe inside `<script>`: no `</script>`, `<!--` or line separators can
    end or confuse the element, whatever strings the data holds."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group(0)], text)


def _asset(name: str) -> str:
    return resources.files("hwnas.report").joinpath(name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.5g}"


def _results(runs: Sequence[RunLike]) -> list[Results]:
    """Each run's results: given, asked of a live run, or read from its directory."""
    out = []
    for run in runs:
        if isinstance(run, Results):
            out.append(run)
        elif isinstance(run, (str, Path)):
            out.append(load_results(run))
        else:
            out.append(run.results())
    if not out:
        raise HwnasError("a report needs at least one run directory")
    return out


def report_data(
    runs: Sequence[RunLike], names: Sequence[str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The data of a report on results, live studies or run directories, and its
    architecture pictures; `names` label the runs (default: their directory names)."""
    results = _results(runs)
    labels = [str(n) for n in names] if names is not None else [run_name(r) for r in results]
    if len(labels) != len(results):
        raise HwnasError(f"{len(labels)} names given for {len(results)} runs")
    return report_payload(results, labels)


def render_report(runs: Sequence[RunLike], names: Sequence[str] | None = None) -> str:
    """The report's HTML for one run or a comparison of several."""
    return _render(*report_data(runs, names))


def write_report(
    runs: Sequence[RunLike],
    out: str | Path,
    names: Sequence[str] | None = None,
    static: str | Path | None = None,
) -> Path:
    """Write the report to `out` (atomically: a reader never sees half a file) and, with
    `static`, its figures as PNG and SVG into that directory."""
    out = Path(out)
    data, pictures = report_data(runs, names)
    atomic_write(out, _render(data, pictures))
    if static is not None:
        from hwnas.report.plots import write_static

        write_static(data, static)
    return out


def _render(data: dict[str, Any], pictures: list[str]) -> str:
    runs = data["runs"]
    js = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    if len(runs) == 1:
        run = runs[0]
        heading = f"hwnas report: {run['name']}"
        lede = _describe(run)
    else:
        heading = f"hwnas comparison of {len(runs)} runs"
        lede = "; ".join(f"{r['name']}: {_describe(r)}" for r in runs)
    values = {
        "title": _e(heading),
        "heading": _e(heading),
        "lede": _e(lede),
        "version": _e(data["generated"]["hwnas"]),
        "generated": _e(data["generated"]["time"]),
        "css": _asset("report.css"),
        "script_hash": f"sha256-{digest}",
        "front_table": _front_table(runs, pictures),
        "runs_heading": "Run" if len(runs) == 1 else "Runs",
        "runs": _runs_section(runs),
        "pictures": "\n".join(
            f'<template id="pic-{i}">{svg}</template>' for i, svg in enumerate(pictures)
        ),
        "data": script_json(data),
        "js": js,
    }
    # one pass: text substituted in is never scanned for placeholders again
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _asset("template.html"))


def _describe(run: dict[str, Any]) -> str:
    cfg = run["config"]
    parts = [
        f"{cfg['space']} / {cfg['dataset']}",
        "objectives " + ", ".join(cfg["objectives"]),
    ]
    if cfg["constraints"]:
        parts.append("constraints " + ", ".join(cfg["constraints"]))
    parts.append(f"{cfg['strategy']}, {len(run['points'])} evaluations, seed {cfg['seed']}")
    return " · ".join(parts)


def _front_table(runs: list[dict[str, Any]], pictures: list[str]) -> str:
    """The found fronts as one sortable table (a `run` column when comparing)."""
    several = len(runs) > 1
    metrics: list[str] = []
    for run in runs:
        metrics += [m for m in run["metrics"] if m not in metrics]
    head = ['<th data-type="text">run</th>'] if several else []
    head += ['<th data-type="number">#</th>', '<th data-type="text">architecture</th>']
    for m in metrics:
        direction = next(
            (o["direction"] for r in runs for o in r["objectives"] if o["metric"] == m), None
        )
        unit = next((r["units"][m] for r in runs if m in r["units"]), "")
        arrow = " \u2191" if direction == "max" else " \u2193" if direction == "min" else ""
        title = f"{m} ({unit})" if unit else m
        head.append(f'<th data-type="number" title="{_e(title)}">{_e(title)}{arrow}</th>')
    head.append('<th data-type="number">evaluation</th>')
    rows = []
    for r, run in enumerate(runs):
        front = [(i, p) for i, p in enumerate(run["points"]) if p["f"]]
        first = run["objectives"][0]
        front.sort(
            key=lambda ip: (
                ip[1]["m"].get(first["metric"]) is None,
                (-1 if first["direction"] == "max" else 1)
                * (ip[1]["m"].get(first["metric"]) or 0.0),
            )
        )
        for n, (i, p) in enumerate(front):
            cells = (
                [f'<td data-value="{_e(run["name"])}">{_e(run["name"])}</td>'] if several else []
            )
            cells.append(f'<td class="num" data-value="{n}">{n}</td>')
            pic = pictures[p["pic"]] if p["pic"] is not None else ""
            cells.append(
                f'<td class="arch" data-value="{_e(p["k"])}">{pic}'
                f'<div class="key">{_e(p["k"])}</div></td>'
            )
            for m in metrics:
                v = p["m"].get(m)
                raw = "" if v is None else repr(float(v))
                cells.append(f'<td class="num" data-value="{raw}">{_fmt(v)}</td>')
            cells.append(f'<td class="num" data-value="{p["t"]}">{p["t"]}</td>')
            rows.append(f'<tr data-run="{r}" data-idx="{i}">{"".join(cells)}</tr>')
    if not rows:
        return '<p class="note">No feasible architecture was evaluated: the front is empty.</p>'
    return (
        f'<table class="front" id="front-table"><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _kv_table(caption: str, items: list[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in items)
    return f"<table><caption>{_e(caption)}</caption>{rows}</table>"


def _runs_section(runs: list[dict[str, Any]]) -> str:
    out = []
    for run in runs:
        cfg, summary = dict(run["config"]), run["summary"]
        config_items = [
            ("space", cfg.pop("space")),
            ("dataset", cfg.pop("dataset")),
            ("objectives", ", ".join(cfg.pop("objectives"))),
            ("constraints", ", ".join(cfg.pop("constraints")) or "none"),
            ("strategy", cfg.pop("strategy")),
            ("strategy options", json.dumps(cfg.pop("strategy_options"), sort_keys=True)),
        ] + [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in cfg.items()]
        host = run["host"] if isinstance(run["host"], dict) else {"host": run["host"]}
        host_items = [(k, v) for k, v in host.items()]
        if run["created"]:
            host_items.append(("started", run["created"]))
        if run["dir"]:
            host_items.append(("directory", run["dir"]))
        summary_items: list[tuple[str, Any]] = [
            ("evaluations", summary.get("evaluations")),
            (
                "ok / infeasible / failed",
                f"{summary.get('ok')} / {summary.get('infeasible')} / {summary.get('failed')}",
            ),
            ("found front", f"{summary.get('front_size')} architectures"),
        ]
        if summary.get("hv_ratio") is not None:
            summary_items.append(
                ("hypervolume", f"{100 * summary['hv_ratio']:.2f}% of the true front's")
            )
            if summary.get("hv_method", "exact") != "exact":
                summary_items.append(("hypervolume method", summary["hv_method"]))
        if summary.get("true_front_size") is not None:
            found = summary.get("true_front_found")
            share = "n/a" if found is None else f"{100 * found:.0f}%"
            summary_items.append(
                ("true front", f"{summary['true_front_size']} architectures, {share} evaluated")
            )
        out.append(
            f'<article class="run"><h3>{_e(run["name"])}</h3>'
            + _kv_table("summary", summary_items)
            + _kv_table("configuration", config_items)
            + _kv_table("host and versions", host_items)
            + "</article>"
        )
    return f'<div class="runs">{"".join(out)}</div>'
