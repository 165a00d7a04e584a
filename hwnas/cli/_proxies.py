"""`hwnas proxies`: zero-cost proxy scores of sampled or given architectures, as CSV."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hwnas._io import atomic_path, atomic_write
from hwnas.cli._app import app, console, friendly, progress_bar
from hwnas.report.console import plural


@app.command()
@friendly
def proxies(
    space: str = typer.Option("nb201", help="Search space whose networks are built."),
    dataset: str = typer.Option(
        "cifar10",
        help="Dataset the networks are built for (input shape; classes too, unless --data "
        "names the images).",
    ),
    proxy: list[str] = typer.Option(
        ["all"], "--proxy", "-p", help="Proxy name, repeatable, or `all`."
    ),
    sample: int = typer.Option(10, help="Number of distinct random architectures."),
    arch: list[str] | None = typer.Option(
        None, "--arch", "-a", help="Score these architectures instead of a sample (repeatable)."
    ),
    seed: int = typer.Option(0, help="Seed of the sample, the weights and the image batch."),
    data: str | None = typer.Option(
        None,
        help="Images for data-dependent proxies (NAME[:PATH], see hwnas.datasets), whose "
        "classes the networks get; default fashion-mnist if installed, else digits.",
    ),
    batch_size: int = typer.Option(64, help="Images per batch."),
    threads: int = typer.Option(1, help="Torch threads."),
    out: Path = typer.Option(..., "--out", help="CSV file to write (arch + one column per proxy)."),
) -> None:
    """Zero-cost proxies of built networks (synflow, nwot, jacov, snip, grad_norm, fisher, ...).

    Which images the data-dependent proxies saw goes to OUT plus `.json` (e.g. zc.csv.json).
    """
    import numpy as np
    import pandas as pd

    from hwnas.quality.proxies import resolve_names, score_archs
    from hwnas.spaces import get_space

    sp = get_space(space)
    names = resolve_names(proxy)
    if arch:
        archs = [sp.parse(a) for a in arch]
    else:
        if sample < 1:
            raise typer.BadParameter("--sample must be at least 1")
        rng = np.random.default_rng(seed)
        chosen: dict[str, object] = {}
        for _ in range(sample * 100):
            a = sp.sample(rng)
            chosen.setdefault(a.key, a)
            if len(chosen) == sample:
                break
        archs = list(chosen.values())  # type: ignore[arg-type]
    with progress_bar() as bar:
        task = bar.add_task("proxies", total=len(archs))
        rows, provenance = score_archs(
            sp, archs, dataset, names, data, batch_size, seed,
            threads, lambda done: bar.update(task, completed=done),
        )  # fmt: skip
    frame = pd.DataFrame(rows, columns=names)
    frame.insert(0, "arch", [a.key for a in archs])
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False)
    meta = out.with_name(out.name + ".json")
    atomic_write(meta, json.dumps({"schema_version": 1, "csv": out.name, **provenance}, indent=2))
    data_note = provenance["data"]["dataset"] if provenance["data"] else "none (data-free)"
    console.print(
        f"{plural(len(frame), 'architecture')} x {plural(len(names), 'proxy', 'proxies')} -> {out} "
        f"(images: {data_note}; provenance in {meta.name})",
        highlight=False, soft_wrap=True,
    )  # fmt: skip
