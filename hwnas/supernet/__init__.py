"""Weight-sharing supernets for the `mbv3`, `mbv3-tiny` and `vit` spaces (the `torch` extra):
train one once (BigNAS-style sandwich rule with in-place distillation; a `restrict`ed
sub-space where the whole space is too large for the machine), then take any architecture
out of it as a static network with inherited weights and recalibrated batch norms.

>>> from hwnas.supernet import SupernetConfig, train_supernet, subnet_from_checkpoint
>>> train_supernet(SupernetConfig(epochs=3), "fmnist.safetensors")
>>> net, provenance = subnet_from_checkpoint("fmnist.safetensors", "mobilenetv3-large")

Importing this package imports torch; `import hwnas` never does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnas.errors import HwnasError
from hwnas.spaces._base import Architecture
from hwnas.spaces._restrict import restrict_flags
from hwnas.supernet._checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    read_meta,
    save_checkpoint,
    trained_classes,
    trained_restriction,
)
from hwnas.supernet._elastic import (
    SUPERNET_SPACES,
    MBV3Supernet,
    largest_arch,
    make_supernet,
    smallest_arch,
    supernet_space,
)
from hwnas.supernet._extract import extract_subnet, recalibrate_bn
from hwnas.supernet._train import (
    SupernetConfig,
    check_data,
    dataset_split,
    train_supernet,
    training_subset,
)

#: spaces whose networks have no batch norms (nothing to recalibrate: `calib=` costs nothing)
BATCH_NORM_FREE: tuple[str, ...] = ("vit",)
#: batch size of batch-norm recalibration
CALIB_BATCH = 256
#: calibration images of quantisation ranges when batch norms keep the shared statistics
DEFAULT_QUANT_CALIB = 512


def _arch(space: Any, arch: Architecture | str) -> Architecture:
    """`arch` as a point of the supernet's `space`; one outside the sub-space it was trained
    on is refused with the flags that search inside it."""
    from hwnas.spaces import get_space

    whole = get_space(space.name)  # a restricted space would refuse to parse it at all
    if isinstance(arch, Architecture):
        made = whole.make(arch.genes)
        if made.key != arch.key:
            raise HwnasError(f"architecture {arch.key!r} is not a point of space {space.name!r}")
    else:
        made = whole.parse(arch)
    if not space.is_valid(made.genes):
        raise HwnasError(
            f"architecture {made.key!r} is outside the sub-space the supernet was trained on "
            f"({restrict_flags(getattr(space, 'restriction', None))})"
        )
    return made


def _space(ckpt: Checkpoint) -> Any:
    if ckpt.space not in SUPERNET_SPACES:
        raise CheckpointError(
            f"{ckpt.path}: supernet of space {ckpt.space!r}; supernets exist for "
            f"{', '.join(SUPERNET_SPACES)}"
        )
    return supernet_space(ckpt.space, ckpt.restriction)


def _split(ckpt: Checkpoint, data: str | None) -> tuple[str, Any]:
    cfg = SupernetConfig.from_dict(ckpt.config)
    spec = data or cfg.data
    return spec, dataset_split(spec, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)


def _stratified(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` indices drawn class by class in proportion to the class counts, sorted."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.floor(counts / counts.sum() * n).astype(int)
    quota[np.argsort(-counts)[: n - quota.sum()]] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(picked))


def check_evaluable(checkpoint: str | Path, data: str | None = None) -> None:
    """Raise what evaluating any subnet of `checkpoint` on `data` (default: its training
    data) would: weights that do not fit the supernet, data that is missing or has other
    classes. The supernet and the split are cached, so evaluations reuse them."""
    ckpt = load_checkpoint(checkpoint)
    _space(ckpt)
    ckpt.supernet()
    spec, ds = _split(ckpt, data)
    check_data(spec, ds, ckpt.path, ckpt.classes)


def calibration_images(
    checkpoint: str | Path, arch: Architecture | str, data: str | None, n: int
) -> tuple[torch.Tensor, np.ndarray]:
    """The `n` training images (and their indices) that calibrate `arch`'s subnet: batch
    norms, and quantisation ranges of a quantised architecture; drawn with the split seed,
    so every evaluation and the export use the same ones."""
    from hwnas.training import image_tensors

    ckpt = load_checkpoint(checkpoint)
    space = _space(ckpt)
    arch = _arch(space, arch)
    cfg = SupernetConfig.from_dict(ckpt.config)
    _, ds = _split(ckpt, data)
    order = np.random.default_rng(cfg.split_seed).permutation(len(ds.train))
    chosen = np.sort(order[: min(n, len(ds.train))])
    images, _ = image_tensors(ds.train.take(chosen), space.arch_input_shape(arch, ckpt.dataset))
    return images, chosen


def subnet_from_checkpoint(
    checkpoint: str | Path,
    arch: Architecture | str,
    *,
    data: str | None = None,
    calib_images: int = 2000,
    device: str = "auto",
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The static network of `arch` exactly as the space's `build(arch, dataset, classes)`
    builds it for the checkpoint's dataset and class count (so it exports to ONNX like any
    built network), with the supernet's weights copied in
    and batch-norm statistics recalibrated on `calib_images` training images of `data`
    (default: the data the supernet was trained on). Returns it on the CPU in eval mode,
    with a provenance dict (checkpoint path and sha256, step, data, calibration).
    `calib_images=0` keeps the supernet's shared statistics."""
    ckpt = load_checkpoint(checkpoint)
    space = _space(ckpt)
    arch = _arch(space, arch)
    net = extract_subnet(ckpt.supernet(), arch)
    cfg = SupernetConfig.from_dict(ckpt.config)
    spec, ds = _split(ckpt, data)
    check_data(spec, ds, ckpt.path, ckpt.classes)
    calibration: dict[str, Any] = {"images": 0, "note": "supernet's shared statistics"}
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules()):
        calibration = {"images": 0, "note": "no batch norms (layer norms need no statistics)"}
    elif calib_images > 0:
        images, chosen = calibration_images(checkpoint, arch, data, calib_images)
        recalibrate_bn(net, images, CALIB_BATCH, device)
        net.cpu()
        calibration = {
            "images": len(chosen),
            "from": "training split",
            "seed": cfg.split_seed,
            "batch_size": CALIB_BATCH,
            "statistics": "exact average over the images (momentum None)",
        }
    provenance = {
        "kind": "supernet",
        "checkpoint": str(ckpt.path),
        "sha256": ckpt.sha256,
        "step": int(ckpt.meta["step"]),
        "epoch": ckpt.meta.get("epoch"),
        "space": ckpt.space,
        "restrict": ckpt.restriction,
        "dataset": ckpt.dataset,
        "classes": ckpt.classes,
        "arch": arch.key,
        "data": spec,
        "split": {
            "seed": cfg.split_seed,
            "val_fraction": cfg.val_fraction,
            "test_fraction": cfg.test_fraction,
        },
        "calibration": calibration,
    }
    return net.eval(), provenance


def evaluation_part(
    checkpoint: str | Path, data: str | None, split: str, eval_images: int | None
) -> tuple[Any, bool]:
    """The images a subnet is evaluated on: the `val` or `test` split, or a fixed
    class-stratified subset of `eval_images` of it (and whether it is a subset)."""
    ckpt = load_checkpoint(checkpoint)
    _, ds = _split(ckpt, data)
    part = ds.val if split == "val" else ds.test
    if eval_images is None or eval_images >= len(part):
        return part, False
    seed = SupernetConfig.from_dict(ckpt.config).split_seed
    return part.take(_stratified(part.y, eval_images, seed)), True


def evaluate_subnet(
    checkpoint: str | Path,
    arch: Architecture | str,
    *,
    split: str = "val",
    data: str | None = None,
    calib_images: int = 2000,
    eval_images: int | None = None,
    device: str = "auto",
    bits: Sequence[Any] | None = None,
) -> tuple[float, dict[str, Any]]:
    """Top-1 accuracy (%) on the `val` (or `test`) split of the extracted, recalibrated
    subnet, and its provenance. `eval_images` evaluates a fixed class-stratified subset of
    the split instead (the same images for every architecture). `bits` (a quantised
    architecture's `policy`) fake-quantises the subnet after recalibration, its ranges
    observed on the same calibration images: the accuracy after quantisation."""
    from hwnas.training import evaluate

    if split not in ("val", "test"):
        raise HwnasError(f"split must be val or test, got {split!r}")
    net, prov = subnet_from_checkpoint(
        checkpoint, arch, data=data, calib_images=calib_images, device=device
    )
    ckpt = load_checkpoint(checkpoint)
    part, subset = evaluation_part(checkpoint, data, split, eval_images)
    space = _space(ckpt)
    shape = space.arch_input_shape(space.parse(prov["arch"]), ckpt.dataset)
    if bits is not None:
        from hwnas.models.quant import fake_quantise

        n = calib_images or DEFAULT_QUANT_CALIB
        images, _ = calibration_images(checkpoint, prov["arch"], data, n)
        net = fake_quantise(net, bits, images)
        prov["quantisation"] = {
            "bits": [f"{b.block}:w{b.w}a{b.a}" for b in bits],
            "method": "post-training fake quantisation in PyTorch (hwnas.models.quant): batch "
            "norms folded, weights per channel symmetric, biases int32, every tensor ONNX "
            "Runtime's static quantiser quantises per tensor over the range observed on "
            "the float network",
            "calibration": {
                "images": len(images),
                "from": "training split",
                "seed": prov["split"]["seed"],
            },
        }
    acc = evaluate(net, part, shape, device=device)
    net.cpu()
    return acc, {
        **prov,
        "split_evaluated": split,
        "images_evaluated": len(part),
        "subset": "class-stratified, drawn with the split seed" if subset else "whole split",
        "metric": "top-1 %",
        "unit": "%",  # what the report's and pareto.png's accuracy axis reads as its unit
    }


__all__ = [
    "BATCH_NORM_FREE",
    "SUPERNET_SPACES",
    "Checkpoint",
    "CheckpointError",
    "MBV3Supernet",
    "SupernetConfig",
    "calibration_images",
    "check_evaluable",
    "evaluate_subnet",
    "evaluation_part",
    "extract_subnet",
    "largest_arch",
    "load_checkpoint",
    "make_supernet",
    "read_meta",
    "recalibrate_bn",
    "save_checkpoint",
    "smallest_arch",
    "subnet_from_checkpoint",
    "supernet_space",
    "train_supernet",
    "trained_classes",
    "trained_restriction",
    "training_subset",
]
