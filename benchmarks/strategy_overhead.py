"""Wall time of 300 evaluations of each strategy on a tabular task, through the same
`Study` loop as `hwnas search` (in-memory ledger, no output files): the strategy's own
overhead, since table lookups cost microseconds. Target for the default: <= 30 s.

    PYTHONPATH=. python benchmarks/strategy_overhead.py [STRATEGY ...]
"""

from __future__ import annotations

import sys
import time

from hwnas.strategies import DEFAULT_STRATEGY, list_strategies
from hwnas.study import Study


def main() -> None:
    names = sys.argv[1:] or [DEFAULT_STRATEGY] + [
        s for s in list_strategies() if s != DEFAULT_STRATEGY
    ]
    print("| strategy | task | evaluations | wall (s) |")
    print("|---|---|---:|---:|")
    for name in names:
        for device in ("raspi4", "fpga"):
            start = time.perf_counter()
            study = Study(
                objectives=["accuracy:max", f"latency@{device}:min"],
                strategy=name,
                budget=300,
                seed=0,
            )
            study.optimize()
            wall = time.perf_counter() - start
            print(f"| {name} | cifar10:{device} | {len(study.evaluations())} | {wall:.1f} |")


if __name__ == "__main__":
    main()
