"""Listing and one-off commands: spaces, targets, strategies, metrics, evaluate."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.table import Table

from hwnas.cli._app import app, console, err_console, friendly


@app.command()
@friendly
def spaces(
    space: str | None = typer.Argument(
        None, help="A space whose dimensions and choices to list (what --restrict takes)."
    ),
) -> None:
    """List the search spaces, or one space's dimensions."""
    from hwnas.spaces import SPACES, get_space

    if space is not None:
        dims = Table("dimension", "choices")
        for dim in get_space(space).dimensions:
            dims.add_row(dim.name, ", ".join(str(c) for c in dim.choices))
        console.print(f"{space}: {get_space(space).description}", highlight=False)
        console.print(dims)
        return
    table = Table("space", "dimensions", "size", "datasets", "description")
    for name in SPACES.names():
        sp = get_space(name)
        table.add_row(
            name, str(len(sp.dimensions)), f"{sp.size():,}", ", ".join(sp.datasets), sp.description
        )
    console.print(table)
    err_console.print(
        "note: a space that builds networks also searches its quantisation as NAME+quant "
        "(or --quant POLICY): see README, Quantisation co-search",
        highlight=False,
    )


@app.command()
@friendly
def targets(
    space: str | None = typer.Option(None, help="Only targets usable on this space."),
) -> None:
    """List hardware targets (the TARGET of latency@TARGET) with their source: the named
    devices, a roofline per shipped device spec, and the forms that take a file."""
    from hwnas.cost import TARGETS, get_target
    from hwnas.cost.roofline import builtin_specs
    from hwnas.sources import EvalContext
    from hwnas.spaces import get_space

    named = list(TARGETS.items())
    rooflines = [(f"roofline:{s}", get_target(f"roofline:{s}")) for s in builtin_specs()]
    named += rooflines
    table = Table()
    # names whole on any terminal: the description and source columns wrap instead
    for column in ("target", "kind", "metrics"):
        table.add_column(column, no_wrap=True)
    table.add_column("description")
    table.add_column("source")
    sp = get_space(space) if space is not None else None
    ctx = EvalContext(sp, sp.datasets[0] if sp.datasets else "") if sp is not None else None
    for name, target in named:
        if ctx is not None and not target.serves(ctx):
            continue
        table.add_row(
            name, target.kind, ", ".join(target.metrics), target.description, target.source_ref
        )
    console.print(table)
    roofline = ctx is None or any(t.serves(ctx) for _, t in rooflines)
    console.print(_file_forms(space, roofline), highlight=False, soft_wrap=True)


def _file_forms(space: str | None, roofline: bool) -> str:
    """The target forms that take a file, as far as they apply to `space`: a roofline
    needs networks it can count, a profile a space that splits into layers; a transfer
    predictor from `hwnas calibrate` serves any space."""
    from hwnas.cost.profile import profilable_spaces

    layered = profilable_spaces()
    forms = ["roofline:SPEC.json (your device spec)"] if roofline else []
    if roofline:  # both need networks built: a board times their ONNX graphs
        forms.append("remote:NAME (a board running `hwnas device serve`; see `hwnas device list`)")
        forms.append(
            "zigzag:ACCEL[@NMHZ] (ZigZag's accelerator model: tpu_like, eyeriss_like, ... "
            'or your ACCEL.yaml; latency and energy; pip install "hwnas[zigzag]")'
        )
    if space is None or space in layered:
        forms.append(
            "PROFILE.json (a per-layer latency table from `hwnas profile`, which profiles "
            f"{', '.join(layered)})"
        )
    forms.append(
        "PREDICTOR.json (a few-shot latency predictor for your device from `hwnas calibrate`)"
    )
    listed = ", ".join(forms[:-1]) + " and " + forms[-1] if len(forms) > 1 else forms[0]
    return f"Also: {listed}."


@app.command()
@friendly
def strategies() -> None:
    """List the search strategies and their options."""
    import inspect

    from hwnas.strategies import DEFAULT_STRATEGY, STRATEGIES

    table = Table()
    table.add_column("strategy", no_wrap=True)
    table.add_column("options")
    table.add_column("description")
    for name, cls in STRATEGIES.items():
        params = inspect.signature(cls.__init__).parameters
        opts = ", ".join(
            f"{p}={params[p].default!r}" for p in params if p not in ("self", "problem", "seed")
        )
        table.add_row(
            name + (" (default)" if name == DEFAULT_STRATEGY else ""), opts, cls.description
        )
    console.print(table)


@app.command()
@friendly
def metrics(
    space: str = typer.Option("nb201", help="Search space."),
    dataset: str = typer.Option("cifar10", help="Dataset."),
    quality: str = typer.Option("tabular", help="Quality estimator."),
) -> None:
    """List the metric names usable in -o/-c for a space and dataset."""
    from hwnas.evaluation import available_metrics
    from hwnas.sources import QUALITY_METRICS, EvalContext
    from hwnas.spaces import get_space

    sp = get_space(space)
    sp.check_dataset(dataset)
    names = available_metrics(EvalContext(sp, dataset, quality))
    for name in names:
        console.print(name, highlight=False)
    if not set(QUALITY_METRICS) & set(names):
        from hwnas.quality import list_quality

        others = [q for q in list_quality() if q != quality.partition(":")[0]]
        err_console.print(
            f"note: no accuracy under --quality {quality}; other estimators: {', '.join(others)}",
            highlight=False,
        )


@app.command()
@friendly
def evaluate(
    arch: str = typer.Argument(..., help="Architecture key (nb201: string or index 0..15624)."),
    space: str = typer.Option("nb201", help="Search space."),
    dataset: str = typer.Option("cifar10", help="Dataset."),
    metric: list[str] | None = typer.Option(
        None,
        "--metric",
        "-m",
        help="Metric to evaluate, repeatable (default: accuracy and the device-free counts).",
    ),
    quality: str = typer.Option("tabular", help="Quality estimator."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON with provenance."),
    quant: str | None = typer.Option(
        None, help="Quantisation policy (w=4,6,8;a=8): evaluate in SPACE+quant:POLICY."
    ),
) -> None:
    """Evaluate one architecture's metrics, each with its provenance."""
    from hwnas.config import quant_space_name
    from hwnas.errors import missing_dependency
    from hwnas.evaluation import available_metrics, resolve_metric
    from hwnas.metrics import parse_metric
    from hwnas.sources import EvalContext, check_requirements, missing_modules
    from hwnas.spaces import get_space

    sp = get_space(quant_space_name(space, quant))
    sp.check_dataset(dataset)
    ctx = EvalContext(sp, dataset, quality)
    a = sp.parse(arch)
    names = metric or [n for n in available_metrics(ctx) if "@" not in n]
    sources = {m.name: resolve_metric(ctx, m) for m in map(parse_metric, names)}
    if metric:
        check_requirements(sources)
    else:  # every device-free metric (quality and counts) whose dependencies are installed
        missing = {n: missing_modules(s) for n, s in sources.items()}
        skipped = [n for n, modules in missing.items() if modules]
        if skipped:
            reason = missing_dependency(missing[skipped[0]][0], "each")
            err_console.print(f"note: not evaluated: {', '.join(skipped)} ({reason})")
        sources = {n: s for n, s in sources.items() if n not in skipped}
    result: dict[str, Any] = {"space": sp.name, "dataset": dataset, "arch": a.key, "metrics": {}}
    for name, source in sources.items():
        measurement = source.evaluate([a])[0]
        result["metrics"][name] = {
            "value": measurement.value,
            "provenance": measurement.provenance,
        }
    # the counts under the names `measure --target analytic --json` gives them (millions)
    for count_name, key in (("params", "params_M"), ("macs", "macs_M")):
        rec = result["metrics"].get(count_name)
        if rec is not None and rec["provenance"].get("kind") == "analytic":
            result[key] = rec["value"]
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    console.print(a.key, highlight=False)
    table = Table("metric", "value", "unit", "source")
    for name, rec in result["metrics"].items():
        p = rec["provenance"]
        table.add_row(
            name,
            f"{rec['value']:.6g}",
            str(p.get("unit", "")),
            _source_text(p),
        )
    console.print(table)


def _source_text(prov: dict[str, Any]) -> str:
    """Where a value came from, from the provenance parts it has: `TABLE [COLUMN] SOURCE`
    for a table, `KIND (RUNTIME)` otherwise; never an empty `[]`."""
    parts = [str(prov["table"])] if prov.get("table") else []
    parts += [f"[{prov['column']}]"] if prov.get("column") else []
    parts += [str(prov["source"])] if prov.get("source") else []
    if not parts:
        parts = [str(prov.get("kind", ""))] + (
            [f"({prov['runtime']})"] if prov.get("runtime") else []
        )
    return " ".join(p for p in parts if p)
