"""PC-DARTS on the NAS-Bench-201 cell, 5 seeds: does it collapse to skip connections, as
DARTS does on NB201 (Dong & Yang, ICLR 2020: DARTS-V1 and V2 both derive the all-skip cell,
54.30 % CIFAR-10 test accuracy)? No CIFAR-10 images ship with hwnas, so the search runs on
Fashion-MNIST (resized to 3x32x32, the proxy task) and the derived cell is read off NB201's
CIFAR-10 table: validation and test accuracy and the number of skip and zero edges, for
both derivations: DARTS's (each edge's most probable op other than `none`) and NB201's
DARTS baseline's (`none` included).

Settings: the NB201 skeleton with `--cells` cells per stage (NB201's DARTS: 5; 1 here, a
CPU proxy), 16 channels, partial channels K=4, edge normalisation, `--images` training
images (80 % weights / 20 % architecture), `--epochs`, batch 64, arch lr `--arch-lr`, the
first 20 % of steps on the weights alone. Each seed is a `hwnas dnas` run directory under
--work (resumable); the summary, scored from each seed's saved probabilities, goes to
benchmarks/results/dnas_pc_darts_nb201.json after every seed (`--summary-only` rescores).

    PYTHONPATH=. python benchmarks/dnas_pc_darts_nb201.py [--seeds 0,1,2,3,4] [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from hwnas._io import atomic_write
from hwnas.dnas import SearchSettings, run_dnas
from hwnas.spaces import get_space
from hwnas.tabular.nb201 import load_frame

OUT = Path(__file__).parent / "results" / "dnas_pc_darts_nb201.json"


def table_scores(space, genes: list[int]) -> dict:
    """CIFAR-10 validation and test accuracy of a cell from NB201's table."""
    from hwnas.config import StudyConfig
    from hwnas.evaluation import resolve

    sources = resolve(
        StudyConfig(
            space="nb201", dataset="cifar10", objectives=["accuracy:max", "test_accuracy:max"]
        )
    ).sources
    arch = space.make(genes)
    ops = [space.dimensions[i].choices[g] for i, g in enumerate(arch.genes)]
    return {
        "arch": arch.key,
        "val_accuracy": sources["accuracy"].evaluate([arch])[0].value,
        "test_accuracy": sources["test_accuracy"].evaluate([arch])[0].value,
        "skip_edges": ops.count("skip_connect"),
        "none_edges": ops.count("none"),
    }


def summarise(work: Path, seeds: list[int], summary: dict) -> dict:
    """Both derivations of every finished seed, scored by the table."""
    space = get_space("nb201")
    none = space.dimensions[0].choices.index("none")
    summary["seeds"] = []
    for seed in seeds:
        path = work / f"seed-{seed}" / "dnas" / "goal-0.json"
        if not path.exists():
            continue
        found = json.loads(path.read_text())
        probs = np.array(found["probabilities"])
        darts = probs.copy()
        darts[:, none] = -1.0
        summary["seeds"].append({
            "seed": seed,
            "darts_argmax_without_none": table_scores(space, list(darts.argmax(1))),
            "nb201_argmax_with_none": table_scores(space, list(probs.argmax(1))),
            "mean_top_probability": float(np.mean(probs.max(1))),
            "none_probability_mean": float(probs[:, none].mean()),
            "skip_probability_mean": float(probs[:, 1].mean()),
            "seconds": found["seconds"], "steps": found["steps"],
        })  # fmt: skip
    for key in ("darts_argmax_without_none", "nb201_argmax_with_none"):
        tests = [s[key]["test_accuracy"] for s in summary["seeds"]]
        if tests:
            summary[f"{key}_test_mean"] = float(np.mean(tests))
            summary[f"{key}_test_std"] = float(np.std(tests))
    table = load_frame()["cifar10_test_acc_200ep"]
    summary["reference"] = {
        "nb201_best_test": float(table.max()),
        "nb201_mean_test": float(table.mean()),
        "darts_published_all_skip": 54.30,
    }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--cells", type=int, default=1)
    parser.add_argument("--arch-lr", type=float, default=0.05)
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--work", default=os.environ.get("TMPDIR", "/tmp") + "/hwnas-pcdarts")
    parser.add_argument(
        "--summary-only", action="store_true", help="score the finished seeds, train nothing"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    summary: dict = {
        "command": "PYTHONPATH=. python benchmarks/dnas_pc_darts_nb201.py "
        f"--seeds {args.seeds} --epochs {args.epochs} --images {args.images} "
        f"--cells {args.cells} --arch-lr {args.arch_lr} --data {args.data}",
        "host": platform.node(),
        "threads": 1,
        "seeds": [],
    }
    seeds = [int(s) for s in args.seeds.split(",")]
    work = Path(args.work)
    for seed in [] if args.summary_only else seeds:
        settings = SearchSettings(
            epochs=args.epochs, cells=args.cells, arch_lr=args.arch_lr, seed=seed
        )
        started = time.time()
        run_dnas(
            "pc-darts", [], space="nb201", dataset="cifar10", data=args.data,
            objectives=["accuracy:max", "test_accuracy:max"], images=args.images,
            settings=settings, out_dir=work / f"seed-{seed}",
        )  # fmt: skip
        print(seed, f"{time.time() - started:.0f} s", flush=True)
        atomic_write(OUT, json.dumps(summarise(work, seeds, summary), indent=1) + "\n")
    atomic_write(OUT, json.dumps(summarise(work, seeds, summary), indent=1) + "\n")


if __name__ == "__main__":
    main()
