"""Latency control of differentiable search (FBNet and ProxylessNAS's central claim): for 5
target latencies spanning the FBNet space's range on each of HW-NAS-Bench's four devices
(raspi4, pixel3, eyeriss, fpga), each method searches once per target and the derived
architecture's table latency is compared with the target (within +-10 %?), for both
derivations: `argmax` (each layer's most probable block, as the papers) and `budget` (the
most probable network within the target, hwnas.dnas._derive).

Targets: the cheapest and dearest latencies L, H of the device's table; targets at
L + (H - L) * (0.1, 0.25, 0.4, 0.55, 0.7). Search data: scikit-learn's 8x8 digits (the
search proxy; the latency table is the CIFAR-100 network's either way), supernet width 0.25,
batch 32, seed 0, other settings `hwnas dnas`'s defaults except those given below.

Each (method, device) is one `hwnas dnas` run directory under --work; a killed benchmark
resumes from the finished goals. The summary goes to
benchmarks/results/dnas_latency_control_METHODS.json after every run (one file per
`--methods`, so methods can run side by side).

    PYTHONPATH=. python benchmarks/dnas_latency_control.py [--methods proxyless,fbnet]
        [--devices raspi4,pixel3,eyeriss,fpga] [--epochs 8] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from hwnas._io import atomic_write
from hwnas.dnas import SearchSettings, parse_goals, run_dnas
from hwnas.tabular.fbnet import layer_table

RESULTS = Path(__file__).parent / "results"
FRACTIONS = (0.1, 0.25, 0.4, 0.55, 0.7)


def targets(device: str) -> list[float]:
    base, delta = layer_table(device)
    low, high = base + delta.min(axis=1).sum(), base + delta.max(axis=1).sum()
    return [round(float(low + (high - low) * f), 3) for f in FRACTIONS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="proxyless,fbnet")
    parser.add_argument("--devices", default="raspi4,pixel3,eyeriss,fpga")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--arch-lr", type=float, default=0.05)
    parser.add_argument(
        "--entropy", type=float, default=0.0, help="entropy weight (0: the papers' search)"
    )
    parser.add_argument("--work", default=os.environ.get("TMPDIR", "/tmp") + "/hwnas-dnas-bench")
    args = parser.parse_args()
    tag = args.methods.replace(",", "_") + (f"_entropy{args.entropy:g}" if args.entropy else "")
    out_file = RESULTS / f"dnas_latency_control_{tag}.json"
    torch.set_num_threads(1)
    summary: dict = {
        "command": "PYTHONPATH=. python benchmarks/dnas_latency_control.py "
        f"--methods {args.methods} --devices {args.devices} --epochs {args.epochs} "
        f"--arch-lr {args.arch_lr} --entropy {args.entropy:g}",
        "host": platform.node(),
        "threads": 1,
        "data": "digits (8x8, scikit-learn), all 1,437 training images after the split",
        "runs": [],
    }
    if out_file.exists():
        summary["runs"] = [r for r in json.loads(out_file.read_text()).get("runs", [])]
    for method in args.methods.split(","):
        for device in args.devices.split(","):
            settings = SearchSettings(
                method=method, epochs=args.epochs, width=0.25, batch_size=32,
                arch_lr=args.arch_lr, seed=0, entropy=args.entropy,
            )  # fmt: skip
            ts = targets(device)
            out = (
                Path(args.work) / f"{method}-{device}"
                if not args.entropy
                else (Path(args.work) / f"{method}-{device}-entropy{args.entropy:g}")
            )
            started = time.time()
            run_dnas(
                method, parse_goals([f"latency@{device}=" + ",".join(map(str, ts))], []),
                dataset="digits", settings=settings, out_dir=out,
            )  # fmt: skip
            goals = []
            for i, _ in enumerate(ts):
                found = json.loads((out / "dnas" / f"goal-{i}.json").read_text())
                target = found["goal"]["target"]
                row = {"target": target, "expected": found["expected_cost"]}
                for how, cost in found["cost"].items():
                    row[how] = cost
                    row[f"{how}_ratio"] = None if cost is None else cost / target
                    row[f"{how}_within_10pct"] = cost is not None and abs(cost / target - 1) <= 0.1
                row["seconds"] = found["seconds"]
                row["steps"] = found["steps"]
                row["load_at_end"] = os.getloadavg()[0]
                goals.append(row)
            summary["runs"] = [
                r for r in summary["runs"] if (r["method"], r["device"]) != (method, device)
            ] + [{"method": method, "device": device, "goals": goals,
                  "wall_s": round(time.time() - started, 1)}]  # fmt: skip
            for how in ("argmax", "budget"):
                rows = [g for r in summary["runs"] if r["method"] == method for g in r["goals"]]
                summary[f"{method}_{how}_within_10pct"] = (
                    f"{sum(g[f'{how}_within_10pct'] for g in rows)}/{len(rows)}"
                )
            atomic_write(out_file, json.dumps(summary, indent=1) + "\n")
            print(
                method,
                device,
                [(g["target"], round(g["argmax"], 3), g["budget"]) for g in goals],
                flush=True,
            )


if __name__ == "__main__":
    main()
