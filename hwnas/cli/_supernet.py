"""`hwnas supernet train` and `hwnas supernet eval`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hwnas.cli._app import app, console, friendly, progress_bar
from hwnas.errors import SpecError

supernet_app = typer.Typer(
    help="Weight-sharing supernet (mbv3, mbv3-tiny, vit): train it once, evaluate any subnet "
    "from it.",
    no_args_is_help=True,
)
app.add_typer(supernet_app, name="supernet")


@supernet_app.command()
@friendly
def train(
    space: str = typer.Option(
        "mbv3",
        help="Search space: mbv3, mbv3-tiny (its 28-32 px layout, which trains on a CPU) or "
        "vit (with --restrict to a CPU-sized sub-space).",
    ),
    restrict: list[str] = typer.Option(
        [],
        "--restrict",
        help="Train only a sub-space: DIM=V1,V2 (shell patterns over "
        "dimension names, e.g. 'heads_*=1,2'; `hwnas spaces SPACE` lists them). Repeatable; "
        "a search on the supernet passes the same flags.",
    ),
    data: str = typer.Option(
        "fashion-mnist", help="Training images: NAME[:PATH] of hwnas.datasets."
    ),
    dataset: str | None = typer.Option(
        None,
        help="The space's dataset (input shape; the classes are the data's); default: the "
        "data's name.",
    ),
    epochs: int = typer.Option(5, help="Epochs over the training images."),
    out: Path = typer.Option(..., "--out", help="Checkpoint file (.safetensors)."),
    resume: bool = typer.Option(
        False, help="Continue the checkpoint at --out (same settings); start it if absent."
    ),
    batch_size: int = typer.Option(128, help="Images per step."),
    optimizer: str | None = typer.Option(
        None, help="sgd (Nesterov) or adamw; default adamw for vit, sgd otherwise."
    ),
    lr: float | None = typer.Option(
        None, help="Peak learning rate (cosine); default 0.05 for sgd, 0.001 for adamw."
    ),
    weight_decay: float | None = typer.Option(
        None, help="Weight decay; default 4e-5 for sgd, 0.05 for adamw."
    ),
    augment: bool | None = typer.Option(
        None,
        "--augment/--no-augment",
        help="Random flips and shifts; default on, off for vit (they slow a ViT's short "
        "schedules).",
    ),
    seed: int = typer.Option(0, help="Seed of the weights, subnets, batches and augmentation."),
    n_random: int = typer.Option(2, help="Random subnets per step besides largest and smallest."),
    distill: bool = typer.Option(
        True, help="Smaller subnets learn the largest's soft labels (--no-distill: the labels)."
    ),
    train_images: int | None = typer.Option(
        None, help="Train on a seeded subset of this many training images (default: all)."
    ),
    split_seed: int = typer.Option(0, help="Seed of the train/validation/test split."),
    checkpoint_every: int | None = typer.Option(
        None, help="Also checkpoint every N steps (default: each epoch)."
    ),
    device: str = typer.Option("auto", help="auto (GPU when present), cpu or cuda[:N]."),
    threads: int | None = typer.Option(None, help="Torch CPU threads (default: torch's)."),
) -> None:
    """Train a supernet (sandwich rule, in-place distillation); checkpoints each epoch."""
    import torch

    from hwnas.cli._search import _dataset_of
    from hwnas.spaces._restrict import parse_restrict
    from hwnas.supernet import SupernetConfig, train_supernet
    from hwnas.training import OPTIMIZERS

    if threads is not None:
        torch.set_num_threads(threads)
    if optimizer is not None and optimizer not in OPTIMIZERS:
        raise SpecError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    config = SupernetConfig.for_space(
        space, dataset=dataset or _dataset_of(space, data), data=data, epochs=epochs,
        batch_size=batch_size, optimizer=optimizer, lr=lr, weight_decay=weight_decay,
        augment=augment, seed=seed,
        n_random=n_random, distill=distill, train_images=train_images, split_seed=split_seed,
        checkpoint_every=checkpoint_every, restrict=parse_restrict(restrict) or None,
    )  # fmt: skip
    with progress_bar() as bar:
        name = f"supernet {space}/{config.dataset}"
        task = bar.add_task(name, total=None)

        def on_step(done: int, total: int, loss: float) -> None:
            bar.update(task, completed=done, total=total, description=f"{name}, loss {loss:.3f}")

        meta = train_supernet(config, out, resume=resume, device=device, on_step=on_step)
    last = meta["history"][-1] if meta["history"] else {}
    console.print(
        f"{out}: step {meta['step']}/{meta['total_steps']}, {meta['train_images']} training "
        f"images, {meta['elapsed_s']:.0f} s" + (f", last loss {last['loss']:.3f}" if last else ""),
        highlight=False,
    )


@supernet_app.command("eval")
@friendly
def eval_(
    checkpoint: Path = typer.Argument(..., help="Supernet checkpoint (.safetensors)."),
    arch: list[str] = typer.Option(
        ..., "--arch", "-a", help="Architecture key or preset, repeatable."
    ),
    split: str = typer.Option("val", help="val or test."),
    data: str | None = typer.Option(None, help="Images (default: the training data)."),
    calib_images: int = typer.Option(2000, help="Training images for batch-norm recalibration."),
    device: str = typer.Option("auto", help="auto, cpu or cuda[:N]."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines with provenance."),
) -> None:
    """Top-1 accuracy of subnets taken out of a supernet (batch norms recalibrated)."""
    from hwnas.supernet import evaluate_subnet

    if split not in ("val", "test"):
        raise SpecError(f"--split must be val or test, got {split!r}")
    with progress_bar() as bar:
        task = bar.add_task(f"evaluating subnets of {checkpoint.name}", total=len(arch))
        for done, a in enumerate(arch, start=1):
            acc, prov = evaluate_subnet(
                checkpoint, a, split=split, data=data, calib_images=calib_images, device=device
            )
            if as_json:
                console.print(json.dumps({"arch": prov["arch"], "accuracy": acc, "provenance": prov}),
                              highlight=False, soft_wrap=True)  # fmt: skip
            else:
                console.print(f"{acc:.2f}%  {prov['arch']}  ({split}, {prov['images_evaluated']} images)",
                              highlight=False, soft_wrap=True)  # fmt: skip
            bar.update(task, completed=done)
