"""Quantised accuracy, predicted vs deployed: for 5 subnets of a trained `mbv3` supernet at
uniform 8 bits, the accuracy hwnas predicts (PyTorch fake quantisation, what
`--quality supernet:CKPT` reports for an `mbv3+quant` architecture) against the accuracy
of the QDQ int8 ONNX file `hwnas export` writes, run by ONNX Runtime, on the same
validation images with the same calibration images. Target: within 0.5 points on each.

    PYTHONPATH=. python benchmarks/quant_agreement.py --out benchmarks/results/quant_agreement

Sized for a 2-core CPU: the supernet is trained on scikit-learn's digits (1,797 real 8x8
images, resized to Fashion-MNIST's 28x28 input; no download) unless `--checkpoint` names
one. Results go to OUT/results.json after every network (a rerun skips what is done), the
supernet to OUT/supernet.safetensors (reused when present)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def train(out: Path, args: argparse.Namespace) -> Path:
    from hwnas.supernet import SupernetConfig, train_supernet

    path = out / "supernet.safetensors"
    if path.exists():
        return path
    config = SupernetConfig(
        data=args.data, dataset="fashion-mnist", epochs=args.epochs, batch_size=32,
        lr=0.05, n_random=1, train_images=None, seed=0,
    )  # fmt: skip
    log(f"training the supernet on {args.data}, {args.epochs} epochs")
    t = time.perf_counter()
    train_supernet(config, path, device="cpu")
    log(f"trained in {time.perf_counter() - t:.0f} s")
    return path


def agreement(checkpoint: Path, space: Any, arch: Any, calib: int) -> dict[str, Any]:
    """Float, fake-quantised and ONNX Runtime QDQ accuracy of one architecture (%)."""
    from hwnas.models.onnx import to_onnx
    from hwnas.models.qdq import ort_accuracy, quantise_onnx
    from hwnas.supernet import (
        calibration_images,
        evaluate_subnet,
        evaluation_part,
        subnet_from_checkpoint,
    )
    from hwnas.training import image_tensors

    base, bits = space.base_arch(arch), space.policy(arch)
    t = time.perf_counter()
    fp32, _ = evaluate_subnet(checkpoint, base, calib_images=calib, device="cpu")
    predicted, prov = evaluate_subnet(checkpoint, base, calib_images=calib, device="cpu", bits=bits)
    net, _ = subnet_from_checkpoint(checkpoint, base, calib_images=calib, device="cpu")
    shape = space.arch_input_shape(arch, "fashion-mnist")
    images, _ = calibration_images(checkpoint, base, None, calib)
    qdq = quantise_onnx(to_onnx(net, shape), bits, images.numpy())
    part, _ = evaluation_part(checkpoint, None, "val", None)
    x, y = image_tensors(part, shape)
    deployed = ort_accuracy(qdq, x.numpy(), y.numpy())
    return {
        "fp32": fp32,
        "predicted_fake_quant": predicted,
        "onnxruntime_qdq": deployed,
        "gap_points": abs(predicted - deployed),
        "validation_images": len(part),
        "calibration_images": len(images),
        "seconds": time.perf_counter() - t,
        "provenance": prov["quantisation"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--networks", type=int, default=5)
    parser.add_argument("--calib-images", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from hwnas._io import atomic_write
    from hwnas.spaces import get_space
    from hwnas.supernet import largest_arch, smallest_arch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = args.checkpoint or train(args.out, args)
    space = get_space("mbv3+quant:w=8;a=8")
    base = get_space("mbv3")
    rng = np.random.default_rng(args.seed)
    picks = [smallest_arch(base), largest_arch(base)]
    picks += [base.sample(rng) for _ in range(args.networks - 2)]
    archs = [space.parse(a.key) for a in picks]

    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results.setdefault("networks", {})
    results["settings"] = {
        "checkpoint": str(checkpoint), "data": args.data, "epochs": args.epochs,
        "calib_images": args.calib_images, "space": space.name, "seed": args.seed,
        "threads": args.threads,
    }  # fmt: skip
    for arch in archs:
        if arch.key in results["networks"]:
            continue
        row = agreement(checkpoint, space, arch, args.calib_images)
        results["networks"][arch.key] = row
        log(
            f"{arch.key[:60]}: fp32 {row['fp32']:.2f}%, fake-quant "
            f"{row['predicted_fake_quant']:.2f}%, ORT QDQ {row['onnxruntime_qdq']:.2f}% "
            f"(gap {row['gap_points']:.2f} points, {row['seconds']:.0f} s)"
        )
        atomic_write(results_path, (json.dumps(results, indent=2) + "\n").encode())
    gaps = [r["gap_points"] for r in results["networks"].values()]
    results["summary"] = {
        "networks": len(gaps),
        "max_gap_points": max(gaps),
        "mean_gap_points": float(np.mean(gaps)),
        "target_points": 0.5,
        "met": max(gaps) <= 0.5,
    }
    atomic_write(results_path, (json.dumps(results, indent=2) + "\n").encode())
    log(f"summary: {results['summary']}")


if __name__ == "__main__":
    main()
