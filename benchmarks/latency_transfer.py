"""Few-shot latency transfer (`hwnas calibrate`), leave-one-device-out over HELP's six
test devices, and a search with the transferred predictor.

Part `accuracy`: for nb201 (15,625 cells) and fbnet (HELP's 5,000 samples), the pool
excludes all six test devices and every batch size of the titan_rtx GPU (as HELP's
meta-training does); for each design seed the model chooses N = 10 and 20 architectures,
is fitted on each test device's true latencies there, and is scored by Spearman's rho on
every other architecture. Beside it: the ceiling (the same feature map fitted on ALL of the
device's rows) and the gap to it, a from-scratch ridge regressor on one-hot (same N, same
architectures; alpha by leave-one-out) and FLOPs alone (nb201; fbnet has no FLOPs). As a
sanity check, four pool devices (SANITY) are held out the same way, one at a time, each
with the six test devices also out of the pool; their records have role `sanity`.

Part `search`: cifar10 x each nb201 test device, 300 evaluations of the default strategy,
once with `latency@` the 20-sample predictor and once with the true table; both HV gaps are
computed with the TRUE latencies (hwnas.bench's oracle and indicators).

    PYTHONPATH=. python benchmarks/latency_transfer.py [accuracy|search|all] [SEEDS]
    # defaults: all, seeds 0,1,2 (accuracy) / 0,1 (search)

Results are appended to benchmarks/results/latency_transfer_{accuracy,search}.jsonl as
each one comes (a killed run keeps what it finished).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from hwnas.cost._transfer_data import encode, spearman
from hwnas.cost.transfer import LatencyTransfer

TEST = ("titan_rtx_256", "gold_6226", "pixel2", "raspi4", "eyeriss", "fpga")
#: pool devices held out one at a time as well (a sanity check that what helps the six test
#: devices is not fitted to them); reported apart
SANITY = ("samsung_a50", "silver_4114", "1080ti_1", "essential_ph_1")
#: HELP's published NB201 Spearman from 10 measured architectures (Lee et al., 2021)
HELP_NB201 = {
    "titan_rtx_256": 0.987,
    "gold_6226": 0.989,
    "pixel2": 0.802,
    "raspi4": 0.890,
    "eyeriss": 0.940,
    "fpga": 0.985,
}
RESULTS = Path(__file__).parent / "results"


def _append(name: str, record: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"latency_transfer_{name}.jsonl").open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


def _ridge_loo(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ridge weights, alpha picked by closed-form leave-one-out error (a fair scratch fit)."""
    best = (np.inf, np.zeros(X.shape[1]))
    for alpha in (1e-3, 1e-2, 1e-1, 1.0, 10.0):
        A = X.T @ X + alpha * np.eye(X.shape[1])
        H = X @ np.linalg.solve(A, X.T)
        resid = (y - H @ y) / np.maximum(1 - np.diag(H), 1e-9)
        if (err := float(np.mean(resid**2))) < best[0]:
            best = (err, np.linalg.solve(A, X.T @ y))
    return best[1]


def accuracy(seeds: list[int]) -> None:
    for space in ("nb201", "fbnet"):
        # the six test devices share one pool; each sanity device is held out of it as well
        runs = [("test", TEST, list(TEST))] + [("sanity", (d,), [*TEST, d]) for d in SANITY]
        for role, devices, exclude in runs:
            _accuracy(space, role, devices, exclude, seeds)


def _accuracy(
    space: str, role: str, devices: tuple[str, ...], exclude: list[str], seeds: list[int]
) -> None:
    start = time.perf_counter()
    model = LatencyTransfer(space, exclude=exclude).pretrain()
    pool, archs, X = model.pool_, model.reference_, model.reference_X_
    truth = _truth(space, pool.keys, devices)
    flops = _flops(space, archs)
    onehot = np.hstack([np.ones((len(archs), 1)), encode(model.space_, archs, ("onehot",))])
    # the ceiling: the same feature map fitted on ALL of a device's rows
    ceiling = {
        d: spearman(X @ np.linalg.lstsq(X, np.log(y), rcond=None)[0], y) for d, y in truth.items()
    }
    print(f"{space} {role}: pool {len(pool.names)} ({time.perf_counter() - start:.1f}s)")
    for seed in seeds:
        for n in (10, 20):
            picked = model.design(n, seed)
            rows = [pool.keys.index(a.key) for a in picked]
            held = np.setdiff1d(np.arange(len(archs)), rows)
            for device, y in truth.items():
                model.fit(picked, y[rows])
                pred, _ = model.predict([archs[i] for i in held])
                w = _ridge_loo(onehot[rows], np.log(y[rows]))
                rho = spearman(pred, y[held])
                _append(
                    "accuracy",
                    {
                        "space": space,
                        "role": role,
                        "device": device,
                        "n": n,
                        "seed": seed,
                        "held_out": len(held),
                        "spearman": rho,
                        "ceiling": ceiling[device],
                        "gap_to_ceiling": ceiling[device] - rho,
                        "ridge_onehot": spearman(onehot[held] @ w, y[held]),
                        "flops": None if flops is None else spearman(flops[held], y[held]),
                        "loo_spearman": model.loo_["spearman"],
                        "fit": model.hyper_,
                        "help_published": HELP_NB201.get(device) if space == "nb201" else None,
                        "pool": len(pool.names),
                        "excluded": pool.excluded,
                    },
                )


def _truth(space: str, keys: list[str], devices: tuple[str, ...] = TEST) -> dict[str, np.ndarray]:
    """The true latencies of `devices` over the pool's architectures."""
    from hwnas.cost._transfer_data import shipped_pool
    from hwnas.spaces import get_space

    full = shipped_pool(get_space(space))
    index = [full.keys.index(k) for k in keys] if full.keys != keys else list(range(len(keys)))
    names = [n.removeprefix("latency@") for n in full.names]
    return {d: full.values[index, names.index(d)] for d in devices if d in names}


def _flops(space: str, archs: list) -> np.ndarray | None:
    if space != "nb201":
        return None
    from hwnas.tabular.nb201 import load_frame

    return load_frame()["cifar10_flops_M"].to_numpy(dtype=np.float64)


def search(seeds: list[int], budget: int = 300) -> None:
    """The default strategy with the 20-sample predictor vs the true table, HV gap by the
    true latencies."""
    import tempfile

    from hwnas.bench._indicators import indicators
    from hwnas.bench._oracle import BudgetSpent, Evaluator
    from hwnas.bench._run import run_one
    from hwnas.bench._tasks import Task, context
    from hwnas.config import DEFAULT_STRATEGY, StudyConfig
    from hwnas.evaluation import resolve
    from hwnas.strategies import Problem, make_strategy
    from hwnas.trial import OK, Trial

    model = LatencyTransfer("nb201", exclude=list(TEST)).pretrain()
    truth = _truth("nb201", model.pool_.keys)
    picked = model.design(20, 0)
    rows = [model.pool_.keys.index(a.key) for a in picked]
    tmp = Path(tempfile.mkdtemp())
    for device in TEST:
        path = tmp / f"{device}.json"
        model.fit(picked, truth[device][rows]).save(path)
        metric = f"latency@{path}"
        config = StudyConfig(
            space="nb201", dataset="cifar10", objectives=["accuracy:max", f"{metric}:min"]
        )
        resolved = resolve(config)
        problem = Problem(resolved.space, resolved.objectives, resolved.constraints)
        ctx = context(Task("cifar10", device))
        predicted = dict(zip(model.pool_.keys, model.predict(model.reference_)[0].tolist()))
        for seed in seeds:
            start = time.perf_counter()
            true_gap = run_one(DEFAULT_STRATEGY, Task("cifar10", device), seed, [budget])
            ev = Evaluator(ctx, budget)
            strategy = make_strategy(DEFAULT_STRATEGY, problem, seed)
            try:
                while not ev.done:
                    batch = strategy.ask(min(max(strategy.batch_size, 1), budget - len(ev.keys)))
                    if not batch:
                        break
                    F = ev(batch)  # true values: what the HV gap is computed on
                    strategy.tell(
                        [
                            Trial(
                                len(ev.keys) + i,
                                a,
                                OK,
                                {"accuracy": -float(f[0]), metric: predicted[a.key]},
                            )
                            for i, (a, f) in enumerate(zip(batch, F))
                        ]
                    )
            except BudgetSpent:
                pass
            F = np.array(ev.rows).reshape(-1, 2)
            gap = indicators(ctx, ev.keys, F)["hv_gap"]
            _append(
                "search",
                {
                    "device": device,
                    "seed": seed,
                    "budget": budget,
                    "strategy": DEFAULT_STRATEGY,
                    "hv_gap_transfer": gap,
                    "hv_gap_true_table": true_gap.at[budget]["hv_gap"],
                    "evaluated": len(ev.keys),
                    "predictor_n": 20,
                    "seconds": time.perf_counter() - start,
                },
            )


def main() -> None:
    part = sys.argv[1] if len(sys.argv) > 1 else "all"
    given = [int(s) for s in sys.argv[2].split(",")] if len(sys.argv) > 2 else None
    if part in ("accuracy", "all"):
        accuracy(given or [0, 1, 2])
    if part in ("search", "all"):
        search(given or [0, 1])


if __name__ == "__main__":
    main()
