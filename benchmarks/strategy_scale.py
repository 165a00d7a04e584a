"""How a strategy's overhead grows with the length of a run, and what a resume costs: on
a tabular task (NB201 CIFAR-10 accuracy x Raspberry Pi 4 latency; table lookups cost
microseconds, so the time is the strategy's own), wall and CPU seconds at every 1,000
evaluations, then the wall time of resuming the finished run for 10 more evaluations.
Results go to benchmarks/results/strategy_scale.json as they come (one entry per
strategy; a rerun replaces that strategy's entry).

    PYTHONPATH=. python benchmarks/strategy_scale.py [--budget 5000] [STRATEGY ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import hwnas
from hwnas.study import Study

RESULTS = Path(__file__).parent / "results" / "strategy_scale.json"
OBJECTIVES = ["accuracy:max", "latency@raspi4:min"]


def measure(strategy: str, budget: int, step: int) -> dict:
    """Marks (evaluations, wall s, CPU s) every `step` evaluations, then the resume."""
    marks: list[list[float]] = []
    start, cpu = time.perf_counter(), time.process_time()

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            wall, used = time.perf_counter() - start, time.process_time() - cpu
            marks.append([done, round(wall, 2), round(used, 2)])
            print(
                f"{strategy}: {done} evaluations, {wall:.1f} s wall, {used:.1f} s CPU", flush=True
            )

    folder = Path(tempfile.mkdtemp(prefix="hwnas-scale-"))
    try:
        Study(objectives=OBJECTIVES, strategy=strategy, budget=budget, seed=0,
              out_dir=folder / "run").optimize(progress=progress)  # fmt: skip
        began = time.perf_counter()
        Study.resume(folder / "run", budget=budget + 10).optimize()
        resume = time.perf_counter() - began
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{strategy}: resume to {budget + 10}: {resume:.1f} s", flush=True)
    return {"marks": marks, "resume_10_more_s": round(resume, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("strategies", nargs="*", default=["linas", "bayes", "local"])
    parser.add_argument("--budget", type=int, default=5000)
    parser.add_argument("--step", type=int, default=1000)
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for strategy in args.strategies:
        load = os.getloadavg()[0]
        entry = measure(strategy, args.budget, args.step)
        results[strategy] = {
            **entry, "budget": args.budget, "task": "nb201 cifar10 x raspi4", "seed": 0,
            "hwnas": hwnas.__version__, "host": platform.node(), "cpus": os.cpu_count(),
            "load_1min_before": round(load, 2), "load_1min_after": round(os.getloadavg()[0], 2),
        }  # fmt: skip
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
