"""Benchmark of issue 17 (Targets, local latency): profile this machine's CPU (ONNX Runtime,
1 thread) for the `vit` space, then measure held-out networks and compare them with the
profile's predictions, with the noise floor beside them: `hwnas profile` and
`hwnas validate-cost` (the machinery `benchmarks/hardware_cost.py` uses for mbv3).

    PYTHONPATH=. python benchmarks/vit_profile.py --out benchmarks/results/vit_profile.json

Target (mbv3's bar): >= 90% of 100 held-out networks within +-10% of their measured median,
Kendall tau >= 0.9, on a quiet machine. Each dataset's profile, validation and summary row
are written as they complete."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from hwnas._io import atomic_write
from hwnas.cost.profile import profile
from hwnas.cost.validate import validate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/vit_profile.json"))
    parser.add_argument("--datasets", nargs="+", default=["fashion-mnist"])
    parser.add_argument("--samples", type=int, default=40, help="whole networks to fit on")
    parser.add_argument("--held-out", type=int, default=100)
    parser.add_argument("--unit-repeats", type=int, default=7)
    parser.add_argument("--net-repeats", type=int, default=21)
    parser.add_argument(
        "--statistic",
        default="median",
        choices=["median", "min"],
        help="min: the fastest repeat, steadier on a shared machine",
    )
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for dataset in args.datasets:
        started, load_start = time.time(), os.getloadavg()[0]
        predictor = profile(
            "vit",
            dataset,
            "local-cpu",
            samples=args.samples,
            unit_repeats=args.unit_repeats,
            net_repeats=args.net_repeats,
            statistic=args.statistic,
        )
        profile_s = time.time() - started
        tag = f"{dataset}_{args.statistic}"
        path = args.out.with_name(f"profile_vit_{tag}.json")
        predictor.save(path)
        report = validate(path, n=args.held_out, repeats=args.net_repeats)
        atomic_write(
            args.out.with_name(f"validation_vit_{tag}.json"),
            json.dumps(report, indent=1) + "\n",
        )
        report.pop("archs")
        results[tag] = {
            "profile_seconds": profile_s,
            "lookup_entries": predictor.meta["n_units"],
            "fit_samples": args.samples,
            "repeats": {"unit": args.unit_repeats, "net": args.net_repeats},
            "load_average_at_start": load_start,
            "load_average_1min": os.getloadavg()[0],
            "training_fit": predictor.meta["training"]["fit"],
            **report,
        }
        atomic_write(args.out, json.dumps(results, indent=1, sort_keys=True) + "\n")
        r, noise, ref = results[tag], report["noise_floor"], report["referenced"]
        print(
            f"vit ({tag}): profiled {r['lookup_entries']} entries + {args.samples} nets in "
            f"{profile_s:.0f} s; held-out n={r['n']}: within 10% {r['within_10pct']:.0%}, "
            f"MAPE {r['mape']:.1%}, tau {r['kendall_tau']:.3f} | noise floor: single repeats "
            f"within 10% {noise['repeat_within_10pct']:.0%}, split halves MAPE "
            f"{noise['split_half_mape']:.1%} | drift removed: within 10% "
            f"{ref['within_10pct']:.0%}, MAPE {ref['mape']:.1%}, tau {ref['kendall_tau']:.3f}; "
            f"load {load_start:.1f} -> {os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
