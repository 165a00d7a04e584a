"""`hwnas export`: one evaluated architecture of a run as ONNX, safetensors and a model card."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from hwnas.cli._app import app, console, friendly, progress_bar
from hwnas.models.qat import DEFAULT_BATCH, DEFAULT_LR
from hwnas.report.console import plural


@app.command("export")
@friendly
def export_command(
    ctx: typer.Context,
    run_dir: Path = typer.Argument(..., help="A run directory (from `hwnas search`)."),
    pick: str = typer.Option(
        ...,
        help="Which evaluation: best:METRIC, a condition such as 'latency@local-cpu<=5' (the "
        "best in the first objective meeting it; several joined by ','), index:N (row of "
        "pareto.csv) or arch:KEY.",
    ),
    out: Path | None = typer.Option(
        None, help="Output directory (default: RUN_DIR/export-trialN)."
    ),
    finetune_epochs: int = typer.Option(
        0, help="Fine-tune for this many epochs on --data before exporting."
    ),
    data: str | None = typer.Option(
        None,
        help="Dataset spec (e.g. digits, fashion-mnist, cifar10:DIR): fine-tuning data; "
        "alone, it measures the exported weights' validation and test accuracy.",
    ),
    batch_size: int = typer.Option(128, help="Fine-tuning batch size."),
    lr: float = typer.Option(0.05, help="Fine-tuning peak learning rate (cosine schedule)."),
    opset: int = typer.Option(17, help="ONNX opset."),
    device: str = typer.Option("auto", help="Fine-tuning device: auto, cpu or cuda[:N]."),
    seed: int = typer.Option(0, help="Seed of the initialisation, data split and fine-tuning."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing export in --out."),
    quant: str | None = typer.Option(
        None,
        help="Quantise a float run's architecture with this policy (w=8;a=8: every block at "
        "the widest bits): model.onnx becomes the QDQ int8 graph (needs --data or a supernet).",
    ),
    qat_steps: int = typer.Option(
        0,
        help="Quantisation-aware fine-tuning of a quantised architecture for this many steps "
        f"on --data's training images (Adam, batch {DEFAULT_BATCH}, seeded with --seed) before "
        "the int8 export; 0: post-training quantisation only.",
    ),
    qat_lr: float = typer.Option(DEFAULT_LR, help="Quantisation-aware fine-tuning learning rate."),
) -> None:
    """Export one evaluated architecture of a run: model.onnx, weights.safetensors and a
    model card with every metric's provenance."""
    from hwnas.export import export_run
    from hwnas.training import TrainConfig

    command = _command_line(ctx)
    train_config = TrainConfig(batch_size=batch_size, lr=lr) if finetune_epochs else None
    if finetune_epochs and data:
        with progress_bar() as bar:
            task = bar.add_task(f"fine-tuning on {data}", total=None)
            result = export_run(
                run_dir, pick, out, finetune_epochs=finetune_epochs, data=data,
                train_config=train_config, opset=opset, device=device, seed=seed,
                overwrite=force, command=command, quant=quant, qat_steps=qat_steps,
                qat_lr=qat_lr,
                on_step=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
    else:
        result = export_run(
            run_dir, pick, out, finetune_epochs=finetune_epochs, data=data, opset=opset,
            device=device, seed=seed, overwrite=force, command=command, quant=quant,
            qat_steps=qat_steps, qat_lr=qat_lr,
        )  # fmt: skip
    card = result.card
    console.print(
        f"exported trial {card['pick']['trial']} {card['architecture']['key']} "
        f"({card['parameters']:,} parameters, weights: {card['weights']['kind']}"
        + (
            ", fine-tuned"
            if card["weights"]["kind"] == "supernet" and "finetuned" in card["weights"]
            else ""
        )
        + ")",
        highlight=False,
        soft_wrap=True,
    )
    for name, metric in card["metrics"].items():
        console.print(f"  {name} = {metric['value']}", highlight=False)
    acc = card["accuracy_after_export"]
    if acc is not None:
        console.print(
            f"  on {acc['data']}: validation {acc['val_accuracy']:.2f}%, "
            f"test {acc['test_accuracy']:.2f}% "
            + (f"after {plural(acc['epochs'], 'epoch')}" if acc["epochs"] else "(not fine-tuned)"),
            highlight=False,
            soft_wrap=True,
        )
    quantised = card.get("quantisation")
    if quantised is not None and "qat" in quantised:
        qat = quantised["qat"]
        console.print(
            f"  quantisation-aware fine-tuning, {plural(qat['steps'], 'step')} "
            f"({qat['seconds']:.1f} s): PyTorch fake quantisation "
            f"{qat['accuracy_pytorch_fake_quant_before']:.2f}% -> "
            f"{quantised['accuracy_pytorch_fake_quant']:.2f}%",
            highlight=False,
            soft_wrap=True,
        )
    if quantised is not None:
        console.print(
            f"  int8 QDQ ({quantised['policy']}): ONNX Runtime "
            f"{quantised['accuracy_onnxruntime']:.2f}% vs PyTorch fake quantisation "
            f"{quantised['accuracy_pytorch_fake_quant']:.2f}% on "
            f"{quantised['calibration']['validation_images']} validation images",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"files in {result.out_dir}: " + ", ".join(p.name for p in result.files.values()),
        highlight=False,
        soft_wrap=True,
    )


def _command_line(ctx: typer.Context) -> str:
    """The command as typed, rebuilt from the parsed options (sys.argv is not the command
    when the app is invoked from Python): the run, then every option given explicitly."""
    words = ["hwnas", "export", str(ctx.params["run_dir"])]
    for param in ctx.command.params:
        name = param.name or ""
        source = ctx.get_parameter_source(name)
        if name == "run_dir" or source is None or source.name == "DEFAULT":
            continue
        flag = max(param.opts, key=len)
        value = ctx.params[name]
        words += [flag] if isinstance(value, bool) else [flag, str(value)]
    return shlex.join(words)
