"""Benchmark of issue 15, item 3: does the warm-block protocol make worse profiles than the
earlier one (single interleaved repeats) at the same load?

    PYTHONPATH=. python benchmarks/measure_protocol_profile.py \
        --out benchmarks/results/measure_protocol_profile.json

Alternates, R rounds, a profile of mbv3/cifar10 restricted to width 1 and full resolution
(306 lookup entries + 30 networks) with each protocol, then `validate` on 20 held-out
networks with the same protocol. The earlier protocol is the warm-block one with no untimed
call per block and one call minimum (blocks of >= 5 ms of consecutive calls). Each row is
written as it completes."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from hwnas._io import atomic_write
from hwnas.cost.measure import MeasureConfig
from hwnas.cost.profile import profile
from hwnas.cost.sampling import parse_restrict
from hwnas.cost.validate import validate

PROTOCOLS = {
    "warm blocks (default)": MeasureConfig(),
    "earlier (no block warm-up)": replace(MeasureConfig(), block_warmup=0, min_block_runs=1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/measure_protocol_profile.json")
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--held-out", type=int, default=20)
    args = parser.parse_args()
    restrict = parse_restrict(["width=1", "resolution=1"])
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for name, cfg in PROTOCOLS.items():
                started, load = time.time(), os.getloadavg()[0]
                predictor = profile("mbv3", "cifar10", restrict=restrict, config=cfg)
                path = Path(tmp) / f"profile-{rnd}-{len(rows)}.json"
                predictor.save(path)
                report = validate(path, n=args.held_out, config=cfg)
                keys = ("mape", "within_10pct", "kendall_tau")
                rows.append(
                    {
                        "protocol": name,
                        "round": rnd,
                        "seconds": round(time.time() - started),
                        "load_1min": [load, os.getloadavg()[0]],
                        "training_fit": predictor.meta["training"]["fit"],
                        "held_out_raw": {k: report.get(k) for k in keys},
                        "held_out_drift_removed": {
                            k: (report.get("referenced") or {}).get(k) for k in keys
                        },
                        "noise_floor": report.get("noise_floor"),
                    }
                )
                atomic_write(args.out, json.dumps(rows, indent=1))
                print(json.dumps(rows[-1]["held_out_raw"] | {"protocol": name}), flush=True)


if __name__ == "__main__":
    main()
