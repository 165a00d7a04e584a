"""Multi-fidelity against single-fidelity search at the same time budget, on the mbv3-tiny
Fashion-MNIST supernet: objectives accuracy:max and macs:min, the same strategy (random,
batch 1), seed and full fidelity (`supernet:CKPT`, the whole validation split, 2,000
calibration images). Multi-fidelity is `hwnas.multifidelity` with `--fidelity` (default
val=500), eta and promote as given.

The budget is evaluation time: the seconds the evaluations took, summed from the ledgers
(`finished - started`, every fidelity's for multi-fidelity), so load from other work hits
both alike; the two methods advance in turn (whichever has spent less goes next), so they
also see the same load over time. The hypervolume at budget T is that of the front of the
full-fidelity evaluations finished within the first T seconds: the front members'
accuracy is always their full-fidelity value. Normalised: accuracy over [70, 100] %, MACs
over [smallest, largest] subnet of the space; reference point (70 %, largest).

Runs go to WORK/seedN/single (shared by every multi-fidelity setting: it does not depend
on them) and WORK/seedN/multi-TAG (ledgers: a rerun continues where a kill stopped), the
summary to benchmarks/results/multifidelity_TAG.json after every step (TAG: fidelity, eta,
promote).

    PYTHONPATH=. nice -n 19 python benchmarks/multifidelity.py --seconds 420 \
        [--checkpoint /tmp/rank/tiny/supernet.safetensors] [--fidelity val=500] \
        [--eta 3] [--promote 1] [--seed 0] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from hwnas import multifidelity
from hwnas._io import atomic_write
from hwnas.ledger import LEDGER_FILE
from hwnas.pareto import hypervolume
from hwnas.results import Evaluation, load_results
from hwnas.study import Study

RESULTS = Path(__file__).parent / "results"
ACC_FLOOR = 70.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def study_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "space": "mbv3-tiny",
        "dataset": "fashion-mnist",
        "data": "fashion-mnist",
        "objectives": ["accuracy:max", "macs:min"],
        "strategy": "random",
        "strategy_options": {"batch_size": 1},
        "seed": args.seed,
        "quality": f"supernet:{args.checkpoint}",
    }


def ledgers(run_dir: Path) -> list[Path]:
    """Every run directory under `run_dir` (itself, and each fidelity's)."""
    return sorted(p.parent for p in run_dir.rglob(LEDGER_FILE))


def timeline(run_dir: Path) -> list[tuple[float, Evaluation | None]]:
    """(cumulative evaluation seconds, the full-fidelity evaluation or None) in order of
    finishing, over all of the run's ledgers."""
    events = []
    for d in ledgers(run_dir):
        full = d == run_dir
        for e in load_results(d).rows:
            events.append((e.finished, e.finished - e.started, e if full else None))
    events.sort(key=lambda x: x[0])
    spent, out = 0.0, []
    for _, took, e in events:
        spent += took
        out.append((spent, e))
    return out


def spent(run_dir: Path) -> float:
    line = timeline(run_dir) if (run_dir / LEDGER_FILE).exists() else []
    return line[-1][0] if line else 0.0


def hv_at(run_dir: Path, seconds: float, bounds: tuple[float, float]) -> dict[str, Any]:
    """The normalised hypervolume of the full-fidelity front within `seconds`."""
    rows = [e for t, e in timeline(run_dir) if e is not None and t <= seconds]
    ok = [e for e in rows if e.status == "ok"]
    low, high = bounds
    rows_F = [
        [(100 - e.value("accuracy")) / (100 - ACC_FLOOR), (e.value("macs") - low) / (high - low)]
        for e in ok
    ]
    F = np.array(rows_F).reshape(len(ok), 2)
    hv = hypervolume(F, np.array([1.0, 1.0])) if len(ok) else 0.0
    best = max((e.value("accuracy") for e in ok), default=float("nan"))
    return {"hv": round(hv, 5), "full_evaluations": len(rows), "best_accuracy": best}


def macs_bounds(args: argparse.Namespace) -> tuple[float, float]:
    from hwnas.config import StudyConfig
    from hwnas.evaluation import resolve
    from hwnas.supernet import largest_arch, smallest_arch, supernet_space

    space = supernet_space("mbv3-tiny")
    config = StudyConfig(**{**study_args(args), "quality": "tabular", "objectives": ["macs:min"]})
    source = resolve(config, check=False).sources["macs"]
    low, high = (source.evaluate([a])[0].value for a in (smallest_arch(space), largest_arch(space)))
    return float(low), float(high)


def step_single(run_dir: Path, args: argparse.Namespace) -> None:
    """One more full-fidelity evaluation."""
    if (run_dir / LEDGER_FILE).exists():
        n = len(load_results(run_dir)) + 1
        Study.resume(run_dir, budget=n).optimize()
    else:
        Study(**study_args(args), budget=1, out_dir=run_dir).optimize()


def step_multi(run_dir: Path, args: argparse.Namespace) -> None:
    """One more round: `promote` full-fidelity evaluations, eta times as many cheap ones."""
    n = len(load_results(run_dir)) if (run_dir / LEDGER_FILE).exists() else 0
    multifidelity.run(
        [args.fidelity], eta=args.eta, promote=args.promote, out_dir=run_dir,
        **study_args(args), budget=n + args.promote,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=420.0)
    parser.add_argument("--checkpoint", default="/tmp/rank/tiny/supernet.safetensors")
    parser.add_argument("--fidelity", default="val=500")
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--promote", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", default=os.environ.get("TMPDIR", "/tmp") + "/hwnas-mf-bench")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.work) / f"seed{args.seed}"
    tag = f"{args.fidelity.replace(',', '+')}-eta{args.eta}-p{args.promote}"
    # the single-fidelity run is the same for every multi-fidelity setting: shared
    runs = {"single": work / "single", "multi": work / f"multi-{tag}"}
    args.results = RESULTS / f"multifidelity_{tag}.json"
    steps = {"single": step_single, "multi": step_multi}
    bounds = macs_bounds(args)
    while True:
        used = {name: spent(d) for name, d in runs.items()}
        name = min(used, key=lambda k: used[k])
        if used[name] >= args.seconds:
            break
        log(f"{name}: {used[name]:.0f} s of {args.seconds:.0f} spent; one more step")
        steps[name](runs[name], args)
        write(args, runs, bounds)
    write(args, runs, bounds)
    log(json.dumps(json.loads(args.results.read_text())["at_budget"], indent=1))


def write(args: argparse.Namespace, runs: dict[str, Path], bounds: tuple[float, float]) -> None:
    budget = args.seconds
    marks = [round(budget * f) for f in (0.25, 0.5, 0.75, 1.0)]
    summary = {
        "command": "PYTHONPATH=. nice -n 19 python benchmarks/multifidelity.py "
        f"--seconds {args.seconds:g} --checkpoint {args.checkpoint} --fidelity {args.fidelity} "
        f"--eta {args.eta} --promote {args.promote} --seed {args.seed} --threads {args.threads}",
        "host": platform.node(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "budget": "evaluation seconds summed from the ledgers (all fidelities)",
        "macs_bounds": bounds,
        "spent_s": {k: round(spent(d), 1) for k, d in runs.items()},
        "at_budget": {k: hv_at(d, budget, bounds) for k, d in runs.items()},
        "curve": {k: {str(m): hv_at(d, m, bounds) for m in marks} for k, d in runs.items()},
        "low_fidelity_evaluations": sum(
            len(load_results(d)) for d in ledgers(runs["multi"]) if d != runs["multi"]
        )
        if (runs["multi"] / LEDGER_FILE).exists()
        else 0,
        "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.results, json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
