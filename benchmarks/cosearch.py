"""Does co-searching the network and the accelerator pay? (issue 19). One command,
resumable (each finished run is kept in --out; the ZigZag layer cache in --out/cache spares
every layer already priced).

On `nb201+accel` (CIFAR-10 accuracy from the NB201 table; energy and latency from ZigZag
on the accelerator of the genes), at equal evaluation budgets and the same seeds:

* joint: the whole joint space;
* fixed accelerator: networks only, on the template accelerator (14x12, w32, a1024, ws, b8);
* fixed network: accelerators only, for NB201's ResNet cell.

Hypervolume of each run's front (accuracy max, energy min, latency min), objectives
min-max normalised over every evaluation of every run, reference point (1, 1, 1).

    PYTHONPATH=. python benchmarks/cosearch.py --out /tmp/cosearch --seeds 5 --budget 60

The summary pairs the seeds: the joint run's HV minus each baseline's, how many seeds the
joint run is ahead on, and the paired t-test's and Wilcoxon signed-rank test's p-values.
Each run's wall time is kept (`seconds`): with an empty cache it is the cost of a
co-search on this machine (`--variants joint --budget 300`).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

OBJECTIVES = ["accuracy:max", "energy@zigzag:searched:min", "latency@zigzag:searched:min"]
RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
VARIANTS = ("joint", "fixed-accelerator", "fixed-network")
TEMPLATE = {
    "pe_array": ["14x12"],
    "weight_buffer_kb": [32],
    "act_buffer_kb": [1024],
    "dataflow": ["ws"],
    "bits": [8],
}


def restriction(variant: str) -> dict[str, list[Any]] | None:
    import hwnas

    if variant == "joint":
        return None
    if variant == "fixed-accelerator":
        return dict(TEMPLATE)
    space = hwnas.get_space("nb201")
    arch = space.parse(RESNET_CELL)
    return {d.name: [d.choices[g]] for d, g in zip(space.dimensions, arch.genes)}


def run(variant: str, seed: int, budget: int, strategy: str) -> tuple[list[list[float]], float]:
    import hwnas

    start = time.perf_counter()
    results = (
        hwnas.Study(
            space="nb201+accel",
            dataset="cifar10",
            objectives=OBJECTIVES,
            strategy=strategy,
            budget=budget,
            seed=seed,
            out_dir=None,
            restrict=restriction(variant),
        )
        .optimize()
        .results()
    )
    frame = results.evaluations()
    frame = frame[frame["status"] == "ok"]
    names = [o.rpartition(":")[0] for o in OBJECTIVES]
    rows = frame[names].to_numpy(dtype=float).tolist()
    seconds = time.perf_counter() - start
    print(f"{variant} seed {seed}: {len(rows)} ok in {seconds:.0f}s", flush=True)
    return rows, seconds


def summarise(runs: dict[str, dict[str, list[list[float]]]]) -> dict[str, Any]:
    from hwnas.pareto import hypervolume, pareto_mask

    signs = np.array([-1.0, 1.0, 1.0])  # accuracy is maximised
    every = np.array([r for v in runs.values() for rows in v.values() for r in rows]) * signs
    lower, upper = every.min(axis=0), every.max(axis=0)
    out: dict[str, Any] = {"bounds": {"lower": lower.tolist(), "upper": upper.tolist()}}
    for variant, seeds in runs.items():
        hvs = []
        for rows in seeds.values():
            F = (np.array(rows) * signs - lower) / np.where(upper > lower, upper - lower, 1)
            hvs.append(hypervolume(F[pareto_mask(F)], np.ones(3)))
        out[variant] = {
            "seeds": len(hvs),
            "hv_mean": float(np.mean(hvs)),
            "hv_std": float(np.std(hvs)),
            "hv": hvs,
        }
    for baseline in ("fixed-accelerator", "fixed-network"):
        out[f"joint_minus_{baseline}"] = _paired(runs, out, baseline)
    return out


def _paired(runs: dict[str, Any], out: dict[str, Any], baseline: str) -> dict[str, Any] | None:
    """The joint run's HV minus the baseline's, seed by seed."""
    from scipy.stats import ttest_rel, wilcoxon

    seeds = [s for s in runs.get("joint", {}) if s in runs.get(baseline, {})]
    if "joint" not in out or baseline not in out or len(seeds) < 2:
        return None
    joint_hv = dict(zip(runs["joint"], out["joint"]["hv"]))
    other_hv = dict(zip(runs[baseline], out[baseline]["hv"]))
    joint, other = (np.array([hv[s] for s in seeds]) for hv in (joint_hv, other_hv))
    diff = joint - other
    return {
        "seeds": len(seeds),
        "mean": float(diff.mean()),
        "std": float(diff.std()),
        "joint_ahead": int((diff > 0).sum()),
        "t_test_p": float(ttest_rel(joint, other).pvalue),
        "wilcoxon_p": float(wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--strategy", default="linas")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated, of " + ", ".join(VARIANTS)
    )
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    if not set(variants) <= set(VARIANTS):
        parser.error(f"--variants: choose from {', '.join(VARIANTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HWNAS_CACHE_DIR", str(args.out / "cache"))
    path = args.out / "results.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data.update(budget=args.budget, strategy=args.strategy, objectives=OBJECTIVES)
    runs = data.setdefault("runs", {})
    times = data.setdefault("seconds", {})
    for seed in range(args.seeds):
        for variant in variants:
            done = runs.setdefault(variant, {})
            if str(seed) in done:
                continue
            done[str(seed)], times.setdefault(variant, {})[str(seed)] = run(
                variant, seed, args.budget, args.strategy
            )
            data["load_average"] = os.getloadavg()
            data["summary"] = summarise(runs)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1))
            tmp.replace(path)
    print(json.dumps(data["summary"], indent=1))


if __name__ == "__main__":
    main()
