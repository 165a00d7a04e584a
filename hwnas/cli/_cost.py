"""`hwnas measure`, `hwnas profile` and `hwnas validate-cost`: hardware cost of one network,
profiling a device into a latency predictor, and checking that predictor on held-out
networks."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from hwnas.cli._app import app, console, err_console, friendly, progress_bar, stage_reporter
from hwnas.errors import HwnasError
from hwnas.report.console import plural


def _dataset(space: Any, dataset: str | None) -> str:
    return str(space.check_dataset(dataset or space.datasets[0]))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def measure_arch(
    space_name: str,
    arch_text: str,
    dataset: str | None,
    target: str,
    backend: str | None = None,
    threads: int | None = None,
    repeats: int | None = None,
    quant: str | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """Metrics of one architecture on a target; `analytic` gives the counts (and the
    roofline on every shipped device spec). `quant` (a policy) quantises the space: the
    counts at the architecture's bits, and local-cpu int8 with fp32 beside it. `data` (a
    dataset spec) gives the network the data's classes, as `hwnas search --data` does."""
    from hwnas.cli._search import _dataset_of
    from hwnas.config import quant_space_name
    from hwnas.cost import get_target
    from hwnas.cost.targets import MeasuredTarget, analytic_counts, buildable
    from hwnas.datasets import data_classes
    from hwnas.metrics import Metric
    from hwnas.sources import EvalContext, MetricSource
    from hwnas.spaces import get_space

    space = get_space(quant_space_name(space_name, quant))
    ds = _dataset(space, dataset or (_dataset_of(space.name, data) if data else None))
    classes = data_classes(data)
    arch = space.parse(arch_text)
    out: dict[str, Any] = {"space": space.name, "dataset": ds, "arch": arch.key, "target": target}
    if data is not None:
        out["data"] = data
    if target == "analytic":
        from hwnas.cost.roofline import builtin_specs, load_spec, misfit, roofline_seconds

        if not buildable(space):
            raise HwnasError(f"space {space.name!r} cannot build networks to count")
        counts = analytic_counts(space, arch, ds, classes)
        out.update(counts.summary())
        if counts.bits is not None:  # a quantised architecture: its bits, not int8
            from hwnas.cost import bits
            from hwnas.cost.roofline import BITS_RULE

            out.update(bits.summary(counts))
            out["roofline_precision"] = BITS_RULE
        for name in builtin_specs():
            spec = load_spec(name)
            # a network that does not fit the device's memories has no latency there
            reason = misfit(counts, spec)
            out[f"roofline_{name}_ms"] = None if reason else roofline_seconds(counts, spec) * 1e3
            if reason:
                out[f"roofline_{name}_misfit"] = reason
        out["provenance"] = {"kind": "analytic", "method": counts.method}
        return out
    resolved = get_target(target)
    ctx = EvalContext(space, ds, data=data)
    if isinstance(resolved, MeasuredTarget) and (backend or threads or repeats):
        from dataclasses import replace

        from hwnas.cost.targets import MeasuredSource

        cfg = resolved.config()
        cfg = replace(
            cfg,
            backend=backend or cfg.backend,
            threads=threads or cfg.threads,
            repeats=repeats or cfg.repeats,
        )
        sources: dict[str, MetricSource] = {
            "latency": MeasuredSource(ctx, f"latency@{target}", cfg, target)
        }
    else:
        sources = {base: resolved.resolve(ctx, Metric(base, target)) for base in resolved.metrics}
    provenance = {}
    for base, source in sources.items():
        result = source.evaluate([arch])[0]
        unit = result.provenance.get("unit")
        out[f"{base}_{unit}" if unit else base] = result.value
        if "fp32_ms" in result.provenance:  # int8, timed beside its float graph
            out[f"{base}_fp32_ms"] = result.provenance["fp32_ms"]
            out["int8_speedup"] = result.provenance["int8_speedup"]
        provenance[base] = result.provenance
    out["provenance"] = provenance
    return out


@app.command()
@friendly
def measure(
    space: str = typer.Option(..., help="Search space (see `hwnas spaces`)."),
    arch: str = typer.Option(..., help="Architecture key or preset (e.g. mobilenetv3-large)."),
    dataset: str | None = typer.Option(
        None, help="Dataset (input size; classes unless --data); default: the data's name."
    ),
    data: str | None = typer.Option(
        None,
        help="Your data (NAME[:PATH] of hwnas.datasets): the network gets its classes, as "
        "`hwnas search --data` builds it.",
    ),
    target: str = typer.Option(
        "analytic",
        help="analytic | local-cpu | local-cpu-torch | local-cuda | roofline:SPEC | "
        "FILE.json | a table device (raspi4, ...).",
    ),
    backend: str | None = typer.Option(
        None, help="Override the local target's runtime: onnxruntime | torch."
    ),
    threads: int | None = typer.Option(None, help="Override the thread count (default 1)."),
    repeats: int | None = typer.Option(
        None, help="Override the number of timed warm blocks per network (default 7)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    quant: str | None = typer.Option(
        None,
        help="Quantisation policy (w=4,6,8;a=8;first=8): counts at the architecture's bits; "
        "local-cpu times int8 and fp32 side by side.",
    ),
) -> None:
    """Cost of one architecture on a target: counts, a measurement or a prediction."""
    result = measure_arch(space, arch, dataset, target, backend, threads, repeats, quant, data)
    if as_json:
        print(json.dumps(_json_safe(result), indent=1, sort_keys=True))
        return
    from rich.table import Table

    table = Table(title=f"{result['space']}/{result['dataset']} on {target}", show_header=False)
    for key, value in result.items():
        if key != "provenance":
            text = "-" if value is None else str(value)  # None: e.g. does not fit (a row below)
            table.add_row(key, f"{value:.6g}" if isinstance(value, float) else text)
    timed = {
        metric: prov
        for metric, prov in (result.get("provenance") or {}).items()
        if isinstance(prov, dict) and "rel_iqr" in prov
    }
    for metric, prov in timed.items():
        table.add_row(f"{metric} spread", _spread(prov))
    console.print(table)
    speedup = result.get("int8_speedup")
    if isinstance(speedup, float) and speedup < 1:
        err_console.print(
            f"note: int8 is slower than fp32 on this CPU ({1 / speedup:.2f}x the fp32 time)",
            highlight=False,
        )
    for metric, prov in timed.items():
        if why := _busy_or_noisy(prov):
            err_console.print(f"warning: {metric}: {why}", highlight=False)


def _spread(prov: dict[str, Any]) -> str:
    """`IQR 1.12 ms (78% of the median), noisy; drift 12%; load 5.2 on 2 cores`."""
    text = f"IQR {prov['iqr_ms']:.3g} ms ({prov['rel_iqr']:.0%} of the median)"
    text += ", noisy" if prov.get("noisy") else ""
    if prov.get("drift") is not None:
        text += f"; drift {prov['drift']:.0%} across {prov.get('blocks', '?')} blocks"
    if prov.get("load_1min") is not None:
        text += f"; load {prov['load_1min']:.1f} on {prov.get('cpus') or '?'} cores"
    return text


def _busy_or_noisy(prov: dict[str, Any]) -> str:
    """Why a measured figure should not be trusted as it is, or "" when it may."""
    reasons = []
    if prov.get("noisy"):
        reasons.append(f"noisy (IQR {prov['rel_iqr']:.0%} of the median)")
    load, cpus = prov.get("load_1min"), prov.get("cpus")
    if load is not None and cpus and load > cpus:
        reasons.append(f"the machine was busier than its cores (load {load:.1f} on {cpus})")
    if not reasons:
        return ""
    # a remote device's blocks come from its devices-file entry, not from --repeats
    more = "more blocks in its devices-file `protocol`" if prov.get("url") else "more --repeats"
    return " and ".join(reasons) + f"; measure again on a quieter machine or with {more}"


@app.command()
@friendly
def profile(
    space: str = typer.Option(
        "mbv3",
        help="Search space to profile (one that splits into layers: fbnet, mbv2, mbv3, "
        "mbv3-tiny, vit, bert).",
    ),
    dataset: str | None = typer.Option(
        None,
        help="The space's dataset (input shape; classes unless --data); default: the data's "
        "name, else the space's first.",
    ),
    data: str | None = typer.Option(
        None,
        help="The search's data (NAME[:PATH] of hwnas.datasets, e.g. folder:DIR, as hwnas "
        "search --data): the networks' head gets its classes; the profile records them.",
    ),
    target: str = typer.Option(
        "local-cpu", help="Local target to measure on: local-cpu | local-cpu-torch | local-cuda."
    ),
    out: Path = typer.Option(..., help="Profile JSON to write (then use latency@FILE.json)."),
    samples: int = typer.Option(30, help="Whole networks measured to fit the correction."),
    seed: int = typer.Option(0, help="Seed of the sampled networks."),
    unit_repeats: int = typer.Option(7, help="Timed warm blocks per lookup-table entry."),
    net_repeats: int = typer.Option(11, help="Timed warm blocks per whole network."),
    restrict: list[str] | None = typer.Option(
        None,
        help="Profile a sub-space only: DIMENSION=V1,V2 (shell patterns allowed, e.g. "
        "width=1, 'kernel_*=3,5'), repeatable.",
    ),
    statistic: str = typer.Option(
        "median", help="median | min (the fastest repeat: steadier on a shared machine)."
    ),
    reference: bool = typer.Option(
        True,
        help="Time a reference network beside every chunk and put all figures on its scale "
        "(cancels the drift of a shared machine).",
    ),
) -> None:
    """Profile this device into a lookup table plus a fitted latency predictor."""
    from hwnas.cli._search import _dataset_of
    from hwnas.cost.profile import profile as run_profile
    from hwnas.cost.sampling import parse_restrict
    from hwnas.spaces import get_space

    ds = _dataset_of(space, data) if data is not None and dataset is None else dataset
    ds = _dataset(get_space(space), ds)
    with progress_bar() as bar:
        predictor = run_profile(
            space,
            ds,
            target,
            samples,
            seed,
            unit_repeats,
            net_repeats,
            restrict=parse_restrict(restrict or []) or None,
            statistic=statistic,
            progress=stage_reporter(bar),
            reference=reference,
            data=data,
        )
    predictor.save(out)
    meta = predictor.meta
    fit = meta["training"]["fit"]
    console.print(
        f"{out}: {plural(meta['n_units'], 'lookup entry', 'lookup entries')} "
        f"({meta['classes']}-class head), "
        f"{plural(len(meta['training']['archs']), 'network')}, "
        f"{meta['seconds']['total']:.0f} s; training fit MAPE {fit['mape']:.1%}, "
        f"within 10% {fit['within_10pct']:.0%}. Use it as -o latency@{out}:min",
        highlight=False,
    )


@app.command("validate-cost")
@friendly
def validate_cost(
    target: Path = typer.Option(..., help="Profile JSON made by `hwnas profile`."),
    samples: int = typer.Option(30, help="Held-out networks to measure."),
    seed: int = typer.Option(12345, help="Seed of the held-out sample."),
    repeats: int = typer.Option(11, help="Timed warm blocks per network."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Measure held-out networks and compare them with the profile's predictions."""
    from hwnas.cost.validate import validate

    with progress_bar() as bar:
        report = validate(target, samples, seed, repeats, progress=stage_reporter(bar))
    if as_json:
        print(json.dumps(_json_safe(report), indent=1, sort_keys=True))
        return
    noise = report["noise_floor"]
    console.print(
        f"{report['space']}/{report['dataset']}, {plural(report['n'], 'held-out network')} on "
        f"{report['measurement'].get('host')} ({report['measurement'].get('runtime')}, "
        f"{plural(report['measurement'].get('threads'), 'thread')}, statistic {report['statistic']})\n"
        f"  predictor:   RMSE {report['rmse_ms']:.3f} ms, MAPE {report['mape']:.1%}, "
        f"within 5% {report['within_5pct']:.0%}, within 10% {report['within_10pct']:.0%}, "
        f"Kendall tau {report['kendall_tau']:.3f}\n"
        f"  noise floor: single blocks vs their median: MAPE {noise['repeat_mape']:.1%}, "
        f"within 5% {noise['repeat_within_5pct']:.0%}, within 10% "
        f"{noise['repeat_within_10pct']:.0%}; median IQR/median {noise['repeat_rel_iqr_median']:.1%}"
        f"\n               split halves of the repeats: MAPE {noise['split_half_mape']:.1%}, "
        f"within 5% {noise['split_half_within_5pct']:.0%}, within 10% "
        f"{noise['split_half_within_10pct']:.0%}; so the medians themselves are off by "
        f"~{noise['median_mape_est']:.1%}; {plural(report['noisy_measurements'], 'measurement')} "
        "flagged noisy\n"
        f"  mean signed error {report['bias']:+.1%}",
        highlight=False,
    )
    ref, drift = report["referenced"], report["drift"]
    if ref:
        console.print(
            f"  drift: the reference network now takes {drift['now_over_profiled']:.2f}x its "
            "profiled time\n"
            f"  drift removed (ratio to the reference x its profiled time): MAPE "
            f"{ref['mape']:.1%}, within 5% {ref['within_5pct']:.0%}, within 10% "
            f"{ref['within_10pct']:.0%}, Kendall tau {ref['kendall_tau']:.3f}; its noise "
            f"floor: split halves MAPE {ref['noise_floor']['split_half_mape']:.1%}, medians off "
            f"by ~{ref['noise_floor']['median_mape_est']:.1%}",
            highlight=False,
        )
