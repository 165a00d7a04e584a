"""Exporting a quantised architecture (`NAME+quant`, or a float run's with `--quant`): the
float graph, checked as any export, quantised to the static QDQ int8 model ONNX Runtime
runs (`hwnas.models.qdq`), its ranges calibrated on training images; the card records the
policy, the calibration images, and the accuracy of the written file under ONNX Runtime
beside the one PyTorch's fake quantisation predicts (`hwnas.models.quant`). Optional
quantisation-aware fine-tuning (`hwnas.models.qat`) runs between the two: the exported
weights are then the fine-tuned ones, and the card holds the accuracy before and after."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas.errors import HwnasError, SpecError
from hwnas.spaces import Architecture, SearchSpace, get_space
from hwnas.spaces.quant import QuantSpace

if TYPE_CHECKING:
    from torch import nn

    from hwnas.models.qat import QatConfig

#: training images that calibrate a quantised export without a supernet's own count
DEFAULT_CALIB_IMAGES = 512


def quantised_arch(
    space: SearchSpace, arch: Architecture, quant: str | None
) -> tuple[SearchSpace, Architecture]:
    """The space and architecture to export: the run's, or the float run's architecture in
    `SPACE+quant:POLICY` with every block at the widest bits the policy allows."""
    if quant is None:
        return space, arch
    if isinstance(space, QuantSpace):
        raise SpecError(
            f"the run searched space {space.name!r}, whose architectures carry their bits; "
            "--quant is for a float run"
        )
    from hwnas.config import quant_space_name

    quantised = get_space(quant_space_name(space.name, quant))
    return quantised, quantised.parse(arch.key)


def calibration(
    checkpoint: Path | None,
    quality_spec: str,
    arch: Architecture,
    shape: tuple[int, ...],
    data: str | None,
    seed: int,
) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(calibration images, validation images, labels, provenance): the supernet's own
    calibration and validation images, as the search evaluated them, else `data`'s."""
    if checkpoint is not None:
        from hwnas.quality.supernet import DEFAULT_CALIB_IMAGES as SUPERNET_CALIB
        from hwnas.quality.supernet import parse_spec
        from hwnas.supernet import calibration_images, evaluation_part, read_meta
        from hwnas.training import image_tensors

        _, options = parse_spec(quality_spec.partition(":")[2])
        n = options.get("calib") or SUPERNET_CALIB
        images, _ = calibration_images(checkpoint, arch, data, n)
        part, subset = evaluation_part(checkpoint, data, "val", options.get("val"))
        val_x, val_y = image_tensors(part, shape)
        meta = read_meta(checkpoint)
        prov = {
            "data": data or (meta.get("config") or {}).get("data") or meta["dataset"],
            "images": len(images),
            "from": "training split of the supernet's data",
            "seed": "the supernet's split seed (as the search calibrated)",
            "validation_images": len(part),
            "validation_subset": subset,
        }
        return images, val_x, val_y, prov
    if not data:
        raise HwnasError(
            "exporting a quantised network needs calibration images: give --data (e.g. "
            "--data fashion-mnist), or export a run whose quality was supernet:CKPT"
        )
    from hwnas.datasets import load_dataset
    from hwnas.training import image_tensors

    ds = load_dataset(data).split(seed=seed)
    assert ds.val is not None
    order = np.random.default_rng(seed).permutation(len(ds.train))
    chosen = np.sort(order[: min(DEFAULT_CALIB_IMAGES, len(ds.train))])
    images, _ = image_tensors(ds.train.take(chosen), shape)
    val_x, val_y = image_tensors(ds.val, shape)
    prov = {
        "data": data,
        "images": len(chosen),
        "from": "training split",
        "seed": seed,
        "validation_images": len(ds.val),
    }
    return images, val_x, val_y, prov


def qat_training_images(
    checkpoint: Path | None, data: str, shape: tuple[int, ...], n: int, seed: int
) -> tuple[Any, Any, dict[str, Any]]:
    """(images, labels, provenance): `n` images (at most; drawn with `seed`) of the training
    split that keeps the validation images out: the supernet's split of `data` for a
    supernet run, else `data` split with the export's seed (as `calibration` splits it)."""
    from hwnas.datasets import load_dataset
    from hwnas.training import image_tensors

    loaded = load_dataset(data)
    if checkpoint is not None:
        from hwnas.supernet import SupernetConfig, read_meta

        cfg = SupernetConfig.from_dict(read_meta(checkpoint)["config"])
        train = loaded.split(cfg.val_fraction, cfg.test_fraction, cfg.split_seed).train
        prov = {"from": "training split of the supernet's split", "split_seed": cfg.split_seed}
    else:
        train = loaded.split(seed=seed).train
        prov = {"from": "training split", "split_seed": seed}
    order = np.random.default_rng(seed).permutation(len(train))
    chosen = np.sort(order[: min(n, len(train))])
    images, labels = image_tensors(train.take(chosen), shape)
    return images, labels, {"data": data, **prov, "draw_seed": seed}


def qat_export(
    model: nn.Module,
    space: QuantSpace,
    arch: Architecture,
    images: Any,
    val_x: Any,
    val_y: Any,
    train: tuple[Any, Any, dict[str, Any]],
    config: QatConfig,
) -> tuple[nn.Module, dict[str, Any]]:
    """The network after quantisation-aware fine-tuning on `train` (images, labels,
    provenance), and the card's `quantisation.qat` (settings, loss, and the fake-quantised
    validation accuracy before it; the section's PyTorch figure is the one after)."""
    from hwnas.models.qat import quantisation_aware

    bits = space.policy(arch)
    before = fake_quant_accuracy(model, bits, images, val_x, val_y)
    x, y, prov = train
    tuned, record = quantisation_aware(model, bits, images, x, y, config)
    return tuned, {
        **record,
        "training_images": prov,
        "accuracy_pytorch_fake_quant_before": before,
        "note": "the exported weights are the fine-tuned ones, on their grids; "
        "accuracy_after_export (if any) is of the float weights before QAT",
    }


def fake_quant_accuracy(
    model: nn.Module, bits: Sequence[Any], images: Any, val_x: Any, val_y: Any
) -> float:
    """Validation accuracy (%) of `model` fake-quantised at `bits`, ranges from `images`."""
    import torch

    from hwnas.models.quant import fake_quantise

    fake = fake_quantise(model, bits, images)
    with torch.no_grad():
        predicted = torch.cat([fake(val_x[i : i + 256]) for i in range(0, len(val_x), 256)])
    return 100.0 * float((predicted.argmax(1).numpy() == val_y.numpy()).mean())


def quantise_export(
    model: nn.Module,
    onnx_bytes: bytes,
    space: QuantSpace,
    arch: Architecture,
    images: Any,
    val_x: Any,
    val_y: Any,
    calib_prov: dict[str, Any],
) -> tuple[bytes, dict[str, Any]]:
    """The QDQ int8 model and the card's `quantisation` section."""
    from hwnas.models.qdq import SETTINGS, ort_accuracy, quantise_onnx

    bits = space.policy(arch)
    qdq = quantise_onnx(onnx_bytes, bits, images.numpy())
    ort_acc = ort_accuracy(qdq, val_x.numpy(), val_y.numpy())
    torch_acc = fake_quant_accuracy(model, bits, images, val_x, val_y)
    return qdq, {
        "policy": space.spec.text(),
        "space": space.name,
        "bits": [f"{b.block}:w{b.w}a{b.a}" for b in bits],
        **SETTINGS,
        "calibration": calib_prov,
        "accuracy_onnxruntime": ort_acc,
        "accuracy_pytorch_fake_quant": torch_acc,
        "agreement_points": abs(ort_acc - torch_acc),
        "unit": "%",
        "note": "model.onnx is the int8 QDQ graph; weights.safetensors holds the float "
        "weights it was quantised from",
    }
