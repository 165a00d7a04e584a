"""Benchmark of issue 18 (BitFusion target): are APQ's published whole-network figures
sums of its BitFusion table, in ms and mJ?

    PYTHONPATH=. python benchmarks/bitfusion_apq.py --out benchmarks/results/bitfusion_apq.json

APQ's README lists four models (latency, energy, BitOps, top-1); their architectures and
bit policies are on Google Drive only, not in the repository, so they cannot be summed
here. Instead this samples networks of APQ's space (`mbv2`, layout pl, width 1, 224 px)
with random per-block bits (APQ's policy: one W/A pair for a block's 1x1 layers and one for
its depthwise layer, no 4-bit activations on 7x7 depthwise layers), sums latency and energy
from the table with `bitfusion_cost`, counts BitOps (MACs x W bits x A bits), and reports,
for each published model, the table's latency and energy of the sampled networks whose
BitOps lie within 5% of the model's. Results are written as they come."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hwnas._io import atomic_write
from hwnas.cost.bitfusion import bitfusion_cost
from hwnas.spaces import get_space
from hwnas.spaces._mobile import ConvShape

#: APQ README, "Models" (mit-han-lab/apq @ 428190a): latency ms, energy mJ, GBitOps, top-1 %
PUBLISHED = [(6.11, 9.14, 12.7, 72.8), (8.45, 11.81, 14.6, 73.8), (8.40, 12.18, 16.5, 74.1)]
PUBLISHED += [(12.17, 14.14, 23.6, 75.1)]


def macs(layer: ConvShape) -> int:
    side = (layer.side - 1) // layer.stride + 1
    return layer.cout * side * side * (layer.cin // layer.groups) * layer.kernel**2


def sample(space: object, rng: np.random.Generator) -> dict[str, float]:
    """One network of APQ's space with a random APQ-style bit policy."""
    arch = space.parse(  # type: ignore[attr-defined]
        "pl|w1|r1|"
        + "|".join(
            ",".join(
                f"k{rng.choice([3, 5, 7])}e{rng.choice([4, 5, 6])}"
                for _ in range(1 if s == 5 else int(rng.integers(2, 5)))
            )
            for s in range(6)
        )
    )
    layers = space.conv_layers(arch, "imagenet")  # type: ignore[attr-defined]
    policy: dict[int, tuple[tuple[int, int], tuple[int, int]]] = {}
    bits = []
    for layer in layers:
        if layer.part != "block" or layer.block == 0:
            bits.append((8, 8))
            continue
        if layer.block not in policy:
            pw = (int(rng.choice([4, 6, 8])), int(rng.choice([4, 6, 8])))
            dw = (int(rng.choice([4, 6, 8])), int(rng.choice([4, 6, 8])))
            policy[layer.block] = (pw, dw)
        pw, dw = policy[layer.block]
        if layer.groups > 1:
            bits.append((dw[0], 8) if layer.kernel == 7 and dw[1] == 4 else dw)
        else:
            bits.append(pw)
    return {
        "arch": arch.key,
        "gbitops": sum(macs(x) * w * a for x, (w, a) in zip(layers, bits)) / 1e9,
        "latency_ms": bitfusion_cost(layers, bits, "latency"),
        "energy_mJ": bitfusion_cost(layers, bits, "energy"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bitfusion_apq.json"))
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    space = get_space("mbv2")
    rng = np.random.default_rng(args.seed)
    rows = [sample(space, rng) for _ in range(args.samples)]
    ops = np.array([r["gbitops"] for r in rows])
    lat = np.array([r["latency_ms"] for r in rows])
    energy = np.array([r["energy_mJ"] for r in rows])
    result: dict[str, object] = {
        "samples": args.samples,
        "seed": args.seed,
        "range": {
            "gbitops": [float(ops.min()), float(ops.max())],
            "latency_ms": [float(lat.min()), float(lat.max())],
            "energy_mJ": [float(energy.min()), float(energy.max())],
        },
        "published": [],
    }
    for p_lat, p_energy, p_ops, top1 in PUBLISHED:
        near = np.abs(ops / p_ops - 1) <= 0.05
        entry = {"latency_ms": p_lat, "energy_mJ": p_energy, "gbitops": p_ops, "top1": top1}
        entry["near"] = int(near.sum())
        for name, values, published in (
            ("latency_ms", lat, p_lat),
            ("energy_mJ", energy, p_energy),
        ):
            v = values[near]
            q = np.percentile(v, [0, 5, 50, 95, 100]).tolist() if len(v) else []
            entry[f"table_{name}_min_p5_median_p95_max"] = q
            entry[f"{name}_within_table_range"] = bool(len(v) and q[0] <= published <= q[-1])
            entry[f"{name}_vs_median"] = published / q[2] if len(v) else None
        result["published"].append(entry)  # type: ignore[attr-defined]
        atomic_write(args.out, json.dumps(result, indent=1))
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
