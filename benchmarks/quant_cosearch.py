"""Does searching the network and its bit-widths together beat searching float networks
and quantising them afterwards? (issue 18). One command, resumable (each finished run is
kept in --out/results.json; an interrupted run continues from its ledger in --out/runs).

On a `mbv3`-family Fashion-MNIST supernet (accuracy after post-training quantisation of the
subnet, `supernet:CKPT`; flash at each block's weight bits, `flash_kb`), per seed:

* quantise-after: search float networks (accuracy vs `flash_kb`, the int8 count) with
  --budget evaluations, then quantise every member of that front uniformly to int8
  (`#w8a8`) and to 4-bit weights (`#w4a8`) and evaluate each; its front is the best of
  those quantised networks. It spends --budget + 2 x (front size) evaluations;
* joint: `SPACE+quant` (`w=4,6,8;a=8` per block) searched with exactly that many.

Hypervolume of each front (accuracy max, flash min), both objectives min-max normalised
over every quantised evaluation of every run, reference point (1.1, 1.1) so that a
front's extreme points count; beside it, what a user reads off a front: the best accuracy
within each flash budget (--flash-budgets), per arm, mean over seeds.

    PYTHONPATH=. python benchmarks/quant_cosearch.py --checkpoint tiny.safetensors \\
        --out /tmp/qcosearch --seeds 5 --budget 30
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

OBJECTIVES = ["accuracy:max", "flash_kb:min"]
POLICY = "w=4,6,8;a=8"
UNIFORM = ("w8a8", "w4a8")
REFERENCE = 1.1  # normalised; beyond 1 so the extremes of a front add volume


def _study(out: Path, **config: Any) -> Any:
    import hwnas

    if (out / "ledger.sqlite").exists():
        return hwnas.Study.resume(out, budget=config["budget"])
    return hwnas.Study(out_dir=out, dataset="fashion-mnist", objectives=OBJECTIVES, **config)


def _rows(study: Any) -> tuple[list[str], list[list[float]]]:
    frame = study.results().evaluations()
    frame = frame[frame["status"] == "ok"]
    return frame["arch"].tolist(), frame[["accuracy", "flash_kb"]].to_numpy(float).tolist()


def _front(rows: list[list[float]]) -> np.ndarray:
    from hwnas.pareto import pareto_mask

    F = np.array(rows) * [-1.0, 1.0]
    return pareto_mask(F)


def _common(args: argparse.Namespace, seed: int, quality: str) -> dict[str, Any]:
    """The study settings both arms share."""
    return {"space": args.space, "quality": quality, "strategy": args.strategy, "seed": seed}


def quantise_after(args: argparse.Namespace, seed: int, quality: str) -> dict[str, Any]:
    start = time.perf_counter()
    common = _common(args, seed, quality)
    search = _study(args.out / "runs" / f"float-{seed}", budget=args.budget, **common)
    search.optimize()
    keys, rows = _rows(search)
    front = [k for k, on in zip(keys, _front(rows)) if on]
    wanted = [f"{k}#{bits}" for k in front for bits in UNIFORM]
    quantised = _study(
        args.out / "runs" / f"after-{seed}", budget=len(wanted), quant=POLICY, **common
    )
    quantised.evaluate(wanted)
    quantised.close()
    qkeys, qrows = _rows(quantised)
    return {
        "float_front": front,
        "float_rows": rows,
        "keys": qkeys,
        "rows": qrows,
        "evaluations": args.budget + len(wanted),
        "seconds": time.perf_counter() - start,
    }


def joint(args: argparse.Namespace, seed: int, quality: str, budget: int) -> dict[str, Any]:
    start = time.perf_counter()
    study = _study(
        args.out / "runs" / f"joint-{seed}", budget=budget, quant=POLICY,
        **_common(args, seed, quality),
    )  # fmt: skip
    study.optimize()
    keys, rows = _rows(study)
    return {
        "keys": keys,
        "rows": rows,
        "evaluations": budget,
        "seconds": time.perf_counter() - start,
    }


def best_within(rows: list[list[float]], budget_kb: float) -> float | None:
    """The best accuracy of a run's networks within `budget_kb` of flash (None: none fit)."""
    fits = [acc for acc, flash in rows if flash <= budget_kb]
    return max(fits) if fits else None


def summarise(runs: dict[str, dict[str, Any]], budgets: list[float]) -> dict[str, Any]:
    from hwnas.pareto import hypervolume

    signs = np.array([-1.0, 1.0])
    every = np.array([r for arm in runs.values() for run in arm.values() for r in run["rows"]])
    every = every * signs
    lower, upper = every.min(axis=0), every.max(axis=0)
    out: dict[str, Any] = {"bounds": {"lower": lower.tolist(), "upper": upper.tolist()}}
    hv: dict[str, dict[str, float]] = {}
    for arm, seeds in runs.items():
        hv[arm] = {}
        for seed, run in seeds.items():
            F = (np.array(run["rows"]) * signs - lower) / np.where(upper > lower, upper - lower, 1)
            hv[arm][seed] = hypervolume(F[_front(run["rows"])], np.full(2, REFERENCE))
        values = list(hv[arm].values())
        out[arm] = {
            "seeds": len(values),
            "hv_mean": float(np.mean(values)),
            "hv_std": float(np.std(values)),
            "hv": hv[arm],
            "best_accuracy_within_kb": {
                f"{kb:g}": _mean([best_within(run["rows"], kb) for run in seeds.values()])
                for kb in budgets
            },
        }
    paired = [hv["joint"][s] - hv["quantise-after"][s] for s in hv.get("joint", {})]
    if paired:
        out["joint_minus_after"] = {
            "mean": float(np.mean(paired)),
            "std": float(np.std(paired)),
            "joint_ahead": int(sum(d > 0 for d in paired)),
            "seeds": len(paired),
        }
    return out


def _mean(values: list[float | None]) -> dict[str, Any]:
    """Mean over the seeds where some network fitted, and how many those were."""
    fitted = [v for v in values if v is not None]
    return {"mean": float(np.mean(fitted)) if fitted else None, "seeds": len(fitted)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a supernet checkpoint")
    parser.add_argument("--space", default="mbv3-tiny")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=30, help="the float search's budget")
    parser.add_argument("--strategy", default="linas")
    parser.add_argument("--calib", type=int, default=500, help="calibration images")
    parser.add_argument("--val", type=int, default=2000, help="validation images")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--flash-budgets", default="400,600,800,1200", help="kB, comma-separated (summary)"
    )
    parser.add_argument(
        "--summarise", action="store_true", help="only recompute the summary of --out"
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    quality = f"supernet:{args.checkpoint.resolve()},calib={args.calib},val={args.val}"
    path = args.out / "results.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data.update(
        space=args.space,
        quality=quality,
        budget=args.budget,
        strategy=args.strategy,
        objectives=OBJECTIVES,
        policy=POLICY,
        uniform=list(UNIFORM),
        threads=args.threads,
        reference=REFERENCE,
    )
    data["flash_budgets_kb"] = [float(kb) for kb in args.flash_budgets.split(",")]
    runs = data.setdefault("runs", {})
    if args.summarise:
        _save(path, data, runs)
        print(json.dumps(data["summary"], indent=1))
        return
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        after = runs.setdefault("quantise-after", {})
        if str(seed) not in after:
            after[str(seed)] = quantise_after(args, seed, quality)
            _save(path, data, runs)
        done = runs.setdefault("joint", {})
        if str(seed) not in done:
            done[str(seed)] = joint(args, seed, quality, after[str(seed)]["evaluations"])
            _save(path, data, runs)
        print(f"seed {seed}: {json.dumps(data['summary'].get('joint_minus_after'))}", flush=True)
    print(json.dumps(data["summary"], indent=1))


def _save(path: Path, data: dict[str, Any], runs: dict[str, Any]) -> None:
    """Write the results so far (a kill loses at most the run in progress)."""
    # re-read what another process (other seeds, same --out) wrote meanwhile
    if path.exists():
        theirs = json.loads(path.read_text()).get("runs", {})
        for arm, seeds in theirs.items():
            for seed, run in seeds.items():
                runs.setdefault(arm, {}).setdefault(seed, run)
    data["load_average"] = os.getloadavg()
    data["summary"] = summarise(runs, data["flash_budgets_kb"])
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


if __name__ == "__main__":
    main()
