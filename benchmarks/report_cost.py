"""What report.html adds to a run: the time to write it and its size, for the default
search (NB201, CIFAR-10, accuracy vs Pixel 3 latency) at a few budgets.

    PYTHONPATH=. python benchmarks/report_cost.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from hwnas.report.html import write_report
from hwnas.study import Study


def main() -> None:
    print("| budget | report.html (KB) | write time (s, best of 3) |")
    print("|---:|---:|---:|")
    for budget in (200, 1000, 3000):
        with tempfile.TemporaryDirectory() as tmp:
            study = Study(budget=budget, seed=0, constraints=["latency@pixel3<=8"])
            study.optimize()
            study.true_front()  # tables loaded, as in a finished search
            out = Path(tmp) / "report.html"
            times = []
            for _ in range(3):
                start = time.perf_counter()
                write_report([study], out, names=["bench"])
                times.append(time.perf_counter() - start)
            print(f"| {budget} | {out.stat().st_size / 1024:.0f} | {min(times):.2f} |")


if __name__ == "__main__":
    main()
