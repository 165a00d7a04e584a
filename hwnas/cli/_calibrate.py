"""`hwnas calibrate`: your device in minutes. Choose the architectures to measure
(`--design N`), then turn their measured latencies (`--measurements M.csv`, or live through
a target with `--measure`) into a predictor file usable as `latency@P.json`."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from hwnas.cli._app import app, console, err_console, friendly
from hwnas.errors import HwnasError, SpecError
from hwnas.report.console import plural

WHY = (
    "chosen greedily, each the architecture whose latency the model pretrained on the pool "
    "is least sure of given those already chosen (maximum posterior variance, D-optimal): "
    "they cover what the known devices disagree on"
)


def read_measurements(path: Path, space: Any) -> tuple[list[Any], list[float]]:
    """(architectures, latencies in ms) of a CSV with the columns `arch` and `latency_ms`;
    each bad row is named by its line."""
    from hwnas._io import why_not_a_file

    if reason := why_not_a_file(path):
        raise HwnasError(f"measurements {path} {reason}")
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [{(k or "").strip(): v for k, v in r.items()} for r in reader]
            columns = [c.strip() for c in reader.fieldnames or []]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SpecError(f"{path}: not a CSV file with a header row ({exc})") from None
    missing = [c for c in ("arch", "latency_ms") if c not in columns]
    if missing:
        raise SpecError(
            f"{path}: missing column(s) {', '.join(missing)}; expected a header "
            f"'arch,latency_ms' (found {', '.join(c for c in columns if c) or 'none'})"
        )
    archs, values = [], []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{path} line {line}"
        try:
            arch = space.parse(row["arch"] or "")
        except HwnasError as exc:
            raise SpecError(f"{where}: {exc}") from None
        try:
            value = float(row["latency_ms"] or "nan")
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise SpecError(
                f"{where}: latency_ms {row['latency_ms']!r} is not a positive number of ms"
            )
        if arch.key in seen:
            raise SpecError(
                f"{where}: {arch.key} was measured already on line {seen[arch.key]}; give "
                "each architecture once (its median)"
            )
        seen[arch.key] = line
        archs.append(arch)
        values.append(value)
    from hwnas.cost.transfer import MIN_MEASUREMENTS

    if len(archs) < MIN_MEASUREMENTS:
        raise SpecError(
            f"{path}: {plural(len(archs), 'measurement')}, at least {MIN_MEASUREMENTS} needed "
            "(10-20 recommended: hwnas calibrate --design 20)"
        )
    return archs, values


def measure_design(space: Any, dataset: str, target: str, archs: Sequence[Any]) -> list[float]:
    """Latencies of `archs` through any target (`local-cpu`, a remote device, ...)."""
    from hwnas.evaluation import resolve_metric
    from hwnas.metrics import parse_metric
    from hwnas.sources import EvalContext, check_requirements

    name = target if target.startswith("latency@") else f"latency@{target}"
    source = resolve_metric(EvalContext(space, dataset), parse_metric(name))
    check_requirements({name: source})
    return [m.value for m in source.evaluate(list(archs))]


def _write_design(path: Path, archs: Sequence[Any], values: Sequence[float] | None) -> None:
    from hwnas._io import atomic_write

    lines = ["arch,latency_ms"]
    for i, arch in enumerate(archs):
        lines.append(f"{arch.key},{'' if values is None else repr(float(values[i]))}")
    atomic_write(path, "\n".join(lines) + "\n")


@app.command()
@friendly
def calibrate(
    space: str = typer.Option("nb201", help="Search space (nb201 and fbnet ship a pool)."),
    dataset: str | None = typer.Option(None, help="Dataset of the measured networks."),
    measurements: Path | None = typer.Option(
        None, help="CSV with the columns arch,latency_ms (the design, measured)."
    ),
    measure: str | None = typer.Option(
        None, help="Measure the design through this target instead (e.g. local-cpu)."
    ),
    design: int | None = typer.Option(
        None, help="Choose this many architectures to measure (with --measure: default 20)."
    ),
    design_out: Path | None = typer.Option(
        None, help="Write the design as a CSV to fill in (arch,latency_ms)."
    ),
    out: Path | None = typer.Option(None, help="Predictor JSON to write (latency@OUT)."),
    exclude_device: list[str] | None = typer.Option(
        None, help="Keep a shipped device (and a GPU's other batch sizes) out of the pool."
    ),
    pool: list[str] | None = typer.Option(
        None, help="Pretrain on these metrics instead (e.g. latency@profiles/cpu.json, macs)."
    ),
    n_reference: int = typer.Option(500, help="With --pool: architectures sampled for it."),
    seed: int = typer.Option(0, help="Seed of the design's candidates (and --pool sample)."),
) -> None:
    """Few-shot latency transfer: a latency predictor for a new device from 10-20 measured
    architectures, pretrained on the devices hwnas ships (or on --pool metrics)."""
    from hwnas.cost.transfer import LatencyTransfer
    from hwnas.spaces import get_space

    sp = get_space(space)
    ds = sp.check_dataset(dataset or sp.datasets[0])
    if measurements is not None and measure is not None:
        raise SpecError("give --measurements or --measure, not both")
    if (measurements or measure) and out is None:
        raise SpecError("--out P.json is needed to write the predictor")
    if not (measurements or measure or design):
        raise SpecError("nothing to do: give --design N, --measurements M.csv or --measure TARGET")
    if design_out is not None and design is None:
        raise SpecError("--design-out needs --design N")
    model = LatencyTransfer(
        sp.name, ds, pool or None, exclude_device or (), n_reference=n_reference, seed=seed
    )
    archs: list[Any] = []
    if design is not None or measure is not None:
        archs = model.design(design or 20)
        _print_design(model, archs)
        if measure is None:
            if design_out is not None:
                _write_design(design_out, archs, None)
                err_console.print(
                    f"wrote {design_out}: fill in latency_ms, then hwnas calibrate --space "
                    f"{sp.name} --measurements {design_out} --out P.json",
                    highlight=False,
                )
            if measurements is None:
                return
    if measure is not None:
        values = measure_design(sp, ds, measure, archs)
        if design_out is not None:
            _write_design(design_out, archs, values)
    else:
        assert measurements is not None
        archs, values = read_measurements(measurements, sp)
    model.fit(archs, values)
    assert out is not None
    model.save(out)
    _print_fit(model, out)


def _print_design(model: Any, archs: Sequence[Any]) -> None:
    pool = model.pool_
    err_console.print(
        f"{plural(len(archs), 'architecture')} to measure on your device, {WHY}; pool: "
        f"{plural(len(pool.names), 'metric')} ({pool.source})"
        + (f", excluded: {', '.join(pool.excluded)}" if pool.excluded else ""),
        highlight=False,
        soft_wrap=True,
    )
    stds = ", ".join(f"{s:.2g}" for s in model.design_std_)
    err_console.print(f"their prior std (log ms), in order: {stds}", highlight=False)
    for arch in archs:
        console.print(arch.key, highlight=False, soft_wrap=True)


def _print_fit(model: Any, out: Path) -> None:
    meta, loo = model.meta_, model.loo_
    console.print(
        f"{out}: {meta['space']}/{meta['dataset']}, {plural(meta['n'], 'measurement')}, pool "
        f"of {plural(len(meta['pool']['metrics']), 'metric')}"
        + (f" (excluded: {', '.join(meta['excluded'])})" if meta["excluded"] else "")
        + f"\n  leave-one-out on the measurements: Spearman {loo['spearman']:.3f}, median error "
        f"{loo['median_ape']:.1%}, within 10% {loo['within_10pct']:.0%}, within 2 std "
        f"{loo['within_2std']:.0%}\n  use it as -o latency@{out}:min",
        highlight=False,
        soft_wrap=True,
    )
