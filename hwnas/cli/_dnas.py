"""`hwnas dnas`: differentiable hardware-aware search (FBNet DNAS, ProxylessNAS)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hwnas._imports import optional_import
from hwnas.cli._app import app, console, friendly, progress_bar


@app.command()
@friendly
def dnas(
    method: str = typer.Option(
        "fbnet", help="fbnet (Gumbel-softmax DNAS) or proxyless on fbnet; pc-darts on nb201."
    ),
    space: str = typer.Option("fbnet", help="Search space with a supernet: fbnet or nb201."),
    data: str = typer.Option(
        "fashion-mnist", help="Training images: NAME[:PATH] of hwnas.datasets."
    ),
    dataset: str | None = typer.Option(
        None, help="The space's dataset (input shape); default: the data's name."
    ),
    target_latency: list[str] = typer.Option(
        [],
        "--target-latency",
        help="METRIC=V1,V2,...: one search per value driving METRIC's expected value there "
        "(e.g. latency@pixel3=4,6,8; any cheap per-layer metric: a table, latency@PROFILE.json, "
        "macs). Repeatable. pc-darts without one searches for accuracy alone.",
    ),
    tradeoff: list[str] = typer.Option(
        [],
        "--tradeoff",
        help="METRIC=V1,V2,...: one search per value of the paper's loss instead (fbnet: "
        "beta of CE*0.2*log(cost)^beta; proxyless: lambda of CE+lambda*cost/base).",
    ),
    derive: str = typer.Option(
        "both",
        help="argmax (each layer's most probable block, as the papers), budget (the most "
        "probable network within the target) or both.",
    ),
    objective: list[str] = typer.Option(
        [],
        "--objective",
        help="Metrics the derived networks are evaluated on (default: each goal metric :min, "
        "and accuracy:max with --quality).",
    ),
    constraint: list[str] = typer.Option([], "--constraint", help="As hwnas search."),
    quality: str | None = typer.Option(
        None, help="Accuracy of the derived networks, e.g. train:epochs=3 (none by default)."
    ),
    epochs: int = typer.Option(10, help="Epochs over the search's training images."),
    images: int | None = typer.Option(
        None, help="Search on a seeded subset of this many training images (default: all)."
    ),
    width: float = typer.Option(
        1.0, help="Supernet channel multiplier (0.25-0.5: a cheaper proxy on a CPU)."
    ),
    batch_size: int = typer.Option(64, help="Images per step."),
    cells: int = typer.Option(5, help="pc-darts: cells per stage of the search network."),
    partial: int = typer.Option(4, help="pc-darts: 1/K of the channels go through the ops."),
    arch_lr: float = typer.Option(
        0.05,
        help="Adam learning rate of the architecture logits (the papers: 0.01 or less, over "
        "far more steps).",
    ),
    penalty: float = typer.Option(2.0, help="Weight of |log(expected cost / target)|."),
    entropy: float = typer.Option(
        0.0,
        help="Weight of the layers' mean entropy, ramped up over the search: the "
        "distribution commits, so the derived network costs what the expected cost says "
        "(0: off, as the papers; 4 was measured, see docs/benchmarks/dnas.md).",
    ),
    seed: int = typer.Option(0, help="Seed of the weights, split, batches and sampling."),
    device: str = typer.Option("auto", help="auto (GPU when present), cpu or cuda[:N]."),
    threads: int | None = typer.Option(None, help="Torch CPU threads (default: torch's)."),
    out: Path = typer.Option(
        ..., "--out", help="Run directory; the same command again continues it."
    ),
) -> None:
    """Differentiable search: train a supernet per latency goal, derive networks, evaluate
    them into a run directory (ledger, evaluations.csv, pareto.csv, report)."""
    from hwnas.cli._search import _dataset_of
    from hwnas.dnas import SearchSettings, parse_goals, run_dnas
    from hwnas.report import write_outputs
    from hwnas.report.console import print_results

    goals = parse_goals(target_latency, tradeoff)
    if threads is not None:  # after the goals: bad input is refused the same without torch
        optional_import("torch", "hwnas dnas").set_num_threads(threads)
    settings = SearchSettings(
        method=method, epochs=epochs, batch_size=batch_size, arch_lr=arch_lr, penalty=penalty,
        width=width, seed=seed, device=device, cells=cells, partial=partial, entropy=entropy,
    )  # fmt: skip
    with progress_bar() as bar:
        task = bar.add_task(f"{method} on {space}", total=None)

        def on_step(label: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{method}, {label}")

        results = run_dnas(
            method, goals, space=space, dataset=dataset or _dataset_of(space, data), data=data,
            objectives=objective or None, constraints=constraint, quality=quality,
            derive=derive, images=images, settings=settings, out_dir=out, progress=on_step,
            callbacks=[write_outputs],
        )  # fmt: skip
    for path in sorted((out / "dnas").glob("goal-*.json")):
        found = json.loads(path.read_text())
        probs = found["probabilities"]
        mode = f"mean top probability {sum(max(p) for p in probs) / len(probs):.2f}"
        if found["expected_cost"] is None:  # a search for accuracy alone
            summary = mode
        else:
            costs = ", ".join(
                f"{how} {cost:.4g}" if cost is not None else f"{how} none within the target"
                for how, cost in found["cost"].items()
            )
            summary = f"expected {found['expected_cost']:.4g}, derived {costs}; {mode}"
        console.print(
            f"{found['label']}: {summary} ({found['steps']} steps, {found['seconds']:.0f} s)",
            highlight=False,
        )
    print_results(results, console)
    console.print(f"Run files in {out}", highlight=False)
