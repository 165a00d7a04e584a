"""Benchmark of issue 15, item 3: does `latency@local-cpu` measure what a deployment sees?

    PYTHONPATH=. python benchmarks/measure_protocol.py --out benchmarks/results/measure_protocol.json

For N mbv3 networks (random, seeded; cifar10, 32 px) one ONNX Runtime session each (1 thread,
the graph `hwnas export` ships) is timed three ways, in R alternating rounds:
  * back-to-back: the network alone, warm-up then `--b2b-runs` consecutive calls, median
    (what a deployed model that runs repeatedly sees; no other network in between);
  * protocol: hwnas's protocol (`hwnas.cost.protocol`, the defaults of `latency@local-cpu`):
    warm blocks interleaved across the networks;
  * single-interleaved: the old protocol's worst case, one call per network per round.
The noise floor is back-to-back against itself across rounds. Target: protocol/back-to-back
within the noise floor. Results are written after every round (rerun to extend nothing: the
benchmark is short, ~2-4 minutes on 2 cores)."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from hwnas._io import atomic_write
from hwnas.cost.measure import MeasureConfig
from hwnas.cost.protocol import Protocol, host_facts, ort_runner, time_runners
from hwnas.models.onnx import to_onnx
from hwnas.spaces import get_space


def back_to_back(run, warmup: int, runs: int) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/measure_protocol.json")
    )
    parser.add_argument("--networks", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--b2b-runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    space = get_space("mbv3")
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.networks)]
    runners = [
        ort_runner(to_onnx(space.build(a, "cifar10"), space.arch_input_shape(a, "cifar10")))
        for a in archs
    ]
    protocol = MeasureConfig().protocol()
    single = Protocol(warmup=5, blocks=7, block_warmup=0, min_block_runs=1, min_block_s=0.0)
    rounds: list[dict[str, list[float]]] = []
    loads: list[float] = []
    started = time.time()
    for r in range(args.rounds):
        b2b = [back_to_back(run, 5, args.b2b_runs) for run in runners]
        prot = [t.median_ms for t in time_runners(runners, protocol)]
        cold = [t.median_ms for t in time_runners(runners, single)]
        rounds.append({"back_to_back": b2b, "protocol": prot, "single_interleaved": cold})
        loads.append(os.getloadavg()[0])
        atomic_write(args.out, json.dumps(_summary(args, archs, rounds, loads, started), indent=1))
        print(f"round {r + 1}/{args.rounds} done, load {loads[-1]:.1f}", flush=True)
    print(json.dumps(_summary(args, archs, rounds, loads, started)["summary"], indent=1))


def _summary(args, archs, rounds, loads, started) -> dict:
    def med(method: str) -> np.ndarray:
        return np.median([r[method] for r in rounds], axis=0)

    b2b = med("back_to_back")
    out: dict = {"summary": {}}
    for method in ("protocol", "single_interleaved"):
        ratio = med(method) / b2b
        out["summary"][f"{method}_over_back_to_back"] = {
            "median": float(np.median(ratio)),
            "q1": float(np.percentile(ratio, 25)),
            "q3": float(np.percentile(ratio, 75)),
            "within_10pct": float(np.mean(np.abs(ratio - 1) <= 0.10)),
        }
    if len(rounds) > 1:  # back-to-back against itself: round k over the median of rounds
        self_ratio = np.array([r["back_to_back"] for r in rounds]) / b2b
        out["summary"]["noise_floor_back_to_back"] = {
            "median_abs_dev": float(np.median(np.abs(self_ratio - 1))),
            "q3_abs_dev": float(np.percentile(np.abs(self_ratio - 1), 75)),
        }
    out["summary"].update(
        {
            "networks": len(archs),
            "rounds": len(rounds),
            "median_back_to_back_ms": float(np.median(b2b)),
            "load_1min_per_round": loads,
            "seconds": round(time.time() - started, 1),
        }
    )
    out["host"] = host_facts()
    out["archs"] = [a.key for a in archs]
    out["rounds"] = rounds
    return out


if __name__ == "__main__":
    main()
