"""Wall time of 300 evaluations of each strategy on a tabular task, through the same
`Study` loop as `hwnas search` (in-memory ledger, no output files): the strategy's own
overhead, since table lookups cost microseconds. Target for the default: <= 30 s wall.
CPU time is printed too: on a shared machine it is the figure that does not depend on
the other processes.

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
    print("| strategy | task | evaluations | wall (s) | CPU (s) |")
    print("|---|---|---:|---:|---:|")
    for name in names:
        for device in ("raspi4", "fpga"):
            start, cpu = time.perf_counter(), time.process_time()
            study = Study(
                objectives=["accuracy:max", f"latency@{device}:min"],
                strategy=name,
                budget=300,
                seed=0,
            )
            study.optimize()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            evaluations = len(study.evaluations())
            print(f"| {name} | cifar10:{device} | {evaluations} | {wall:.1f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
