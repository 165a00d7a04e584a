"""Quantised accuracy, predicted vs deployed: for networks at uniform 8 bits, the accuracy
hwnas predicts (PyTorch fake quantisation, `hwnas.models.quant`: what `--quality
supernet:CKPT` reports for a `+quant` architecture) against the accuracy of the QDQ int8
ONNX graph `hwnas export` writes (`hwnas.models.qdq`), run by ONNX Runtime, on the same
validation images with the same calibration images. Target: within 0.5 points.

    PYTHONPATH=. python benchmarks/quant_agreement.py --checkpoint tiny.safetensors \
        --space mbv3-tiny --networks 10 --threads 1 \
        --out benchmarks/results/quant_agreement_supernet

The networks are the N with the fewest MACs among 40 seeded samples of `--space`: subnets
of the `--checkpoint` supernet (batch norms recalibrated, as a search evaluates them;
validated on its 6,000 Fashion-MNIST images), or without one, networks trained here with
`hwnas.training.fit` on scikit-learn's digits (1,797 real 8x8 images resized to 28x28, no
download; 179 validation images). Results go to OUT/results.json after every network (a
rerun skips what is done)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def trained(arch: Any, args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """(network trained on --data, calibration images, validation images, labels)."""
    from hwnas.datasets import load_dataset
    from hwnas.spaces import get_space
    from hwnas.training import TrainConfig, fit, image_tensors

    base = get_space(args.space)
    ds = load_dataset(args.data).split(seed=args.seed)
    shape = base.arch_input_shape(arch, "fashion-mnist")
    import torch

    torch.manual_seed(args.seed)
    net = base.build(arch, "fashion-mnist", classes=10)
    config = TrainConfig(epochs=args.epochs, batch_size=64, seed=args.seed, device="cpu")
    net = fit(net, ds.train, shape, config).cpu().eval()
    order = np.random.default_rng(args.seed).permutation(len(ds.train))
    chosen = np.sort(order[: args.calib_images])
    calib, _ = image_tensors(ds.train.take(chosen), shape)
    val_x, val_y = image_tensors(ds.val, shape)
    return net, calib, val_x, val_y


def supernet_subnet(arch: Any, args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """As `trained`, from the --checkpoint supernet (as a search evaluates a subnet)."""
    from hwnas.spaces import get_space
    from hwnas.supernet import calibration_images, evaluation_part, subnet_from_checkpoint
    from hwnas.training import image_tensors

    ckpt, n = args.checkpoint, args.calib_images
    net, _ = subnet_from_checkpoint(ckpt, arch, calib_images=n, device="cpu")
    images, _ = calibration_images(ckpt, arch, None, n)
    part, _ = evaluation_part(ckpt, None, "val", None)
    shape = get_space(args.space).arch_input_shape(arch, "fashion-mnist")
    val_x, val_y = image_tensors(part, shape)
    return net, images, val_x, val_y


def agreement(space: Any, arch: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Float, fake-quantised and ONNX Runtime QDQ accuracy of one architecture (%)."""
    import torch

    from hwnas.models.onnx import to_onnx
    from hwnas.models.qdq import SETTINGS, ort_accuracy, quantise_onnx
    from hwnas.models.quant import fake_quantise

    t = time.perf_counter()
    base, bits = space.base_arch(arch), space.policy(arch)
    make = supernet_subnet if args.checkpoint else trained
    net, calib, val_x, val_y = make(base, args)
    labels = val_y.numpy()

    def top1(model: Any) -> float:
        with torch.no_grad():
            return 100.0 * float((model(val_x).argmax(1).numpy() == labels).mean())

    fp32, predicted = top1(net), top1(fake_quantise(net, bits, calib))
    shape = tuple(val_x.shape[1:])
    qdq = quantise_onnx(to_onnx(net, shape), bits, calib.numpy())
    deployed = ort_accuracy(qdq, val_x.numpy(), labels)
    return {
        "fp32": fp32,
        "predicted_fake_quant": predicted,
        "onnxruntime_qdq": deployed,
        "gap_points": abs(predicted - deployed),
        "validation_images": len(labels),
        "calibration_images": len(calib),
        "seconds": time.perf_counter() - t,
        "quantisation": {**SETTINGS, "bits": "w8a8 in every block"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--space", default="mbv3", help="the networks' space (the checkpoint's)")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--networks", type=int, default=5)
    parser.add_argument("--calib-images", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from hwnas._io import atomic_write
    from hwnas.cost.targets import analytic_counts
    from hwnas.spaces import get_space

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    space = get_space(f"{args.space}+quant:w=8;a=8")
    base = get_space(args.space)
    rng = np.random.default_rng(args.seed)
    pool = [base.sample(rng) for _ in range(40)]
    pool.sort(key=lambda a: analytic_counts(base, a, "fashion-mnist").macs)
    archs = [space.parse(a.key) for a in pool[: args.networks]]

    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results.setdefault("networks", {})
    results["settings"] = {
        "networks": "supernet subnets" if args.checkpoint else "trained here with fit",
        "checkpoint": str(args.checkpoint),
        **({} if args.checkpoint else {"data": args.data, "epochs": args.epochs}),
        "calib_images": args.calib_images, "space": space.name, "seed": args.seed,
        "threads": args.threads,
    }  # fmt: skip
    for arch in archs:
        if arch.key in results["networks"]:
            continue
        row = agreement(space, arch, args)
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
