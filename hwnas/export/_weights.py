"""Where the exported weights come from: a supernet checkpoint (weights inherited, batch norm
recalibrated as the search did), and optional fine-tuning with accuracy measured on a
dataset."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnas._imports import optional_import
from hwnas.errors import HwnasError
from hwnas.results import Results
from hwnas.spaces import Architecture

if TYPE_CHECKING:
    from torch import nn

    from hwnas.training import StepCallback


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a directory's files (names and contents, sorted)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        if path.is_dir():
            digest.update(str(p.relative_to(path)).encode() + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def supernet_checkpoint(run: Results) -> Path | None:
    base, sep, spec = run.config.quality.partition(":")
    if base != "supernet":
        return None
    if not sep or not spec.strip():
        raise HwnasError(f"{run.path}: quality {run.config.quality!r} names no supernet checkpoint")
    from hwnas.quality.supernet import parse_spec

    given, _ = parse_spec(spec)
    in_run = [run.path / given] if run.path is not None else []
    for candidate in (given, *in_run):
        if candidate.exists():
            return candidate
    raise HwnasError(
        f"supernet checkpoint {spec!r} of run {run.path} not found (looked in the current "
        "directory and the run directory)"
    )


def supernet_weights(
    run: Results, arch: Architecture, checkpoint: Path, data: str | None, device: str
) -> tuple[nn.Module, dict[str, Any]]:
    """The subnet with weights inherited from the supernet (BN recalibrated)."""
    needed_by = f"exporting the supernet weights of run {run.path} (hwnas.supernet)"
    optional_import("torch", needed_by)
    subnet_from_checkpoint = optional_import("hwnas.supernet", needed_by).subnet_from_checkpoint
    from hwnas.quality.supernet import DEFAULT_CALIB_IMAGES, parse_spec

    # recalibrate as the search did, so the exported network is the one it evaluated
    _, options = parse_spec(run.config.quality.partition(":")[2])
    calib = options.get("calib", DEFAULT_CALIB_IMAGES)
    model, provenance = subnet_from_checkpoint(
        checkpoint, arch, data=data, calib_images=calib, device=device
    )
    source = {
        "kind": "supernet",
        "checkpoint": str(checkpoint),
        "sha256": file_sha256(checkpoint),
        "provenance": dict(provenance or {}),
    }
    return model, source


def finetune(
    model: nn.Module,
    data: str,
    shape: Sequence[int],
    epochs: int,
    train_config: Any,
    seed: int,
    device: str,
    on_step: StepCallback | None,
) -> tuple[dict[str, Any], nn.Module]:
    """Fine-tune (when epochs > 0) and measure validation and test accuracy. The model's
    classes are the data's: built for it, or refused with the supernet it came from."""
    from dataclasses import replace

    from hwnas.datasets import load_dataset
    from hwnas.training import TrainConfig, evaluate, fit

    ds = load_dataset(data).split(seed=seed)
    assert ds.val is not None and ds.test is not None
    result: dict[str, Any] = {
        "data": data,
        "dataset_provenance": ds.provenance,
        "sizes": {"train": len(ds.train), "val": len(ds.val), "test": len(ds.test)},
        "input_shape": list(shape),
        "val_accuracy_before": evaluate(model, ds.val, shape, device=device),
    }
    if epochs:
        base = train_config if train_config is not None else TrainConfig()
        config = replace(base, epochs=epochs, seed=seed, device=device)
        model = fit(model, ds.train, shape, config, on_step=on_step)
        result["train_config"] = config.as_dict()
    result["epochs"] = epochs
    result["val_accuracy"] = evaluate(model, ds.val, shape, device=device)
    result["test_accuracy"] = evaluate(model, ds.test, shape, device=device)
    result["unit"] = "%"
    return result, model
