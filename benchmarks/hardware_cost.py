"""Benchmark of issue 4: profile this machine's CPU (ONNX Runtime, 1 thread) for mbv3 at 32
and 224 input, then measure held-out architectures and compare them with the predictor.

    PYTHONPATH=. python benchmarks/hardware_cost.py --out benchmarks/results/hardware_cost.json

Targets: >= 90% of 100 held-out architectures within +-10% of their measured median,
Kendall tau >= 0.9, profiling <= 10 minutes; the noise floor (single repeats against their
own median) is reported beside them."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from hwnas.cost.profile import profile
from hwnas.cost.validate import validate

#: dataset -> input side; the resolution gene is pinned to 1 so inputs are exactly 32 / 224
SETTINGS = {"cifar10": 32, "imagenet": 224}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/hardware_cost.json"))
    parser.add_argument("--datasets", nargs="+", default=list(SETTINGS))
    parser.add_argument("--samples", type=int, default=40, help="whole networks to fit on")
    parser.add_argument("--held-out", type=int, default=100)
    parser.add_argument("--unit-repeats", type=int, default=7)
    parser.add_argument("--net-repeats", type=int, default=21)
    parser.add_argument(
        "--validate-repeats", type=int, help="repeats per held-out network (default: --net-repeats)"
    )
    parser.add_argument("--statistic", default="median", choices=["median", "min"])
    parser.add_argument(
        "--no-reference", action="store_true", help="profile without the reference network"
    )
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = {}
    for dataset in args.datasets:
        started, load_start = time.time(), os.getloadavg()[0]
        predictor = profile(
            "mbv3",
            dataset,
            "local-cpu",
            samples=args.samples,
            unit_repeats=args.unit_repeats,
            net_repeats=args.net_repeats,
            restrict={"resolution": [1.0]},
            statistic=args.statistic,
            reference=not args.no_reference,
        )
        profile_s = time.time() - started
        path = args.out.with_name(f"profile_mbv3_{dataset}_{args.statistic}.json")
        predictor.save(path)
        report = validate(path, n=args.held_out, repeats=args.validate_repeats or args.net_repeats)
        args.out.with_name(f"validation_mbv3_{dataset}_{args.statistic}.json").write_text(
            json.dumps(report, indent=1) + "\n"
        )
        report.pop("archs")
        results[dataset] = {
            "input_side": SETTINGS[dataset],
            "profile_seconds": profile_s,
            "lookup_entries": predictor.meta["n_units"],
            "fit_samples": args.samples,
            "repeats": {
                "unit": args.unit_repeats,
                "net": args.net_repeats,
                "validate": args.validate_repeats or args.net_repeats,
            },
            "load_average_1min": os.getloadavg()[0],
            "load_average_at_start": load_start,
            "training_fit": predictor.meta["training"]["fit"],
            **report,
        }
        r, noise, ref = results[dataset], report["noise_floor"], report["referenced"]
        print(
            f"mbv3@{SETTINGS[dataset]} ({dataset}): profiled {r['lookup_entries']} entries + "
            f"{args.samples} nets in {profile_s:.0f} s; held-out n={r['n']}: within 10% "
            f"{r['within_10pct']:.0%}, within 5% {r['within_5pct']:.0%}, MAPE {r['mape']:.1%}, "
            f"tau {r['kendall_tau']:.3f}, RMSE {r['rmse_ms']:.3f} ms | noise floor: single "
            f"repeats within 10% {noise['repeat_within_10pct']:.0%}, MAPE "
            f"{noise['repeat_mape']:.1%}, IQR/median {noise['repeat_rel_iqr_median']:.1%}; "
            f"split halves within 10% {noise['split_half_within_10pct']:.0%}, MAPE "
            f"{noise['split_half_mape']:.1%} (medians off by ~{noise['median_mape_est']:.1%}); "
            f"bias {r['bias']:+.1%}, drift "
            f"x{r['drift']['now_over_profiled']:.2f} | drift removed: within 10% "
            f"{ref['within_10pct']:.0%}, within 5% {ref['within_5pct']:.0%}, MAPE "
            f"{ref['mape']:.1%}, tau {ref['kendall_tau']:.3f}, noise floor split halves MAPE "
            f"{ref['noise_floor']['split_half_mape']:.1%} (medians off by "
            f"~{ref['noise_floor']['median_mape_est']:.1%}), single repeats MAPE "
            f"{ref['noise_floor']['repeat_mape']:.1%}; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
