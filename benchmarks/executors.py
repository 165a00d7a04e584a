"""Executor benchmark: per-evaluation overhead of the process pool and of Ray versus
in-process over 1,000 tabular evaluations, and the speed-up of a CPU-bound evaluator with 2
workers. Runs are interleaved (in-process, pool, in-process, ...) so that load from other
users of the machine hits every executor alike; the medians are reported. A control runs
the same work with a bare `multiprocessing.Pool(2)`: the speed-up the machine itself gives
two processes at the moment, the ceiling for any executor.

    PYTHONPATH=$PWD python benchmarks/executors.py [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import _burn

import hwnas
from hwnas.executors import make_executor

TABLE = ["accuracy:max", "latency@pixel3:min"]
BURN = ["accuracy:max", "score@burn:max"]


def timed(make: Callable[[], hwnas.Study]) -> tuple[float, float, hwnas.Study]:
    """(wall seconds of optimize(), seconds from the first evaluation's start to the last
    one's end (the pool's start-up excluded), the study)."""
    study = make()
    start = time.perf_counter()
    study.optimize()
    wall = time.perf_counter() - start
    rows = list(study.ledger.rows())
    busy = max(r["finished"] for r in rows) - min(r["started"] for r in rows)
    return wall, busy, study


def control(evaluations: int, pool: object | None) -> tuple[float, float]:
    """The burn work alone, serially or on a bare multiprocessing pool (no hwnas)."""
    start = time.perf_counter()
    if pool is None:
        [_burn.burn(g) for g in range(evaluations)]
    else:
        pool.map(_burn.burn, range(evaluations), chunksize=1)  # type: ignore[attr-defined]
    wall = time.perf_counter() - start
    return wall, wall


def study(objectives: list[str], budget: int, executor: object) -> Callable[[], hwnas.Study]:
    return lambda: hwnas.Study(
        objectives=objectives,
        strategy="nsga2",
        strategy_options={"population_size": 50},
        budget=budget,
        seed=0,
        executor=executor,  # type: ignore[arg-type]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--evaluations", type=int, default=1000)
    parser.add_argument("--cpu-evaluations", type=int, default=100)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import multiprocessing as mp

    import ray

    pool = mp.get_context("spawn").Pool(2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # started once, untimed
    n, m = args.evaluations, args.cpu_evaluations
    runs: dict[str, list[tuple[float, float]]] = {}
    makers = {
        "tabular/inprocess": study(TABLE, n, "inprocess"),
        "tabular/process-2": study(TABLE, n, make_executor("process", workers=2)),
        "tabular/ray-2": study(TABLE, n, make_executor("ray", workers=2)),
        "cpu/inprocess": study(BURN, m, "inprocess"),
        "cpu/process-2": study(BURN, m, make_executor("process", workers=2)),
        "cpu/ray-2": study(BURN, m, make_executor("ray", workers=2)),
    }
    controls = {
        "control/serial": lambda: control(m, None),
        "control/mp-pool-2": lambda: control(m, pool),
    }
    for name, make in makers.items():  # warm-up: imports, table loads, Ray workers
        timed(make)
    evaluations: dict[str, list] = {}
    for r in range(args.rounds):
        for name, make in makers.items():
            wall, busy, s = timed(make)
            runs.setdefault(name, []).append((wall, busy))
            evaluations.setdefault(name.split("/")[0], []).append(s.evaluations().to_dict("list"))
            print(
                f"round {r + 1} {name:20s} wall {wall:7.3f} s  evaluating {busy:7.3f} s", flush=True
            )
        for name, run in controls.items():
            wall, busy = run()
            runs.setdefault(name, []).append((wall, busy))
            print(
                f"round {r + 1} {name:20s} wall {wall:7.3f} s  evaluating {busy:7.3f} s", flush=True
            )
    ray.shutdown()
    pool.close()

    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(b for _, b in v))
        for k, v in runs.items()
    }
    result = {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "loadavg_after": os.getloadavg(),
        "rounds": args.rounds,
        "median_seconds": {k: {"wall": w, "evaluating": b} for k, (w, b) in med.items()},
        "tabular_overhead_ms_per_evaluation": {
            ex: 1000 * (med[f"tabular/{ex}"][0] - med["tabular/inprocess"][0]) / n
            for ex in ("process-2", "ray-2")
        },
        "cpu_speedup_2_workers": {
            ex: {
                "wall": med["cpu/inprocess"][0] / med[f"cpu/{ex}"][0],
                "evaluating": med["cpu/inprocess"][1] / med[f"cpu/{ex}"][1],
            }
            for ex in ("process-2", "ray-2")
        },
        "control_speedup_mp_pool_2": med["control/serial"][0] / med["control/mp-pool-2"][0],
        "same_evaluations_every_executor": all(e == v[0] for v in evaluations.values() for e in v),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
