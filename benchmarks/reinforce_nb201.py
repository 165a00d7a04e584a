"""`reinforce` against `random` on NB201 (CIFAR-10 validation accuracy, and accuracy x Pixel 3
latency): the reward `hwnas.gym` gives each trial (minus the equally weighted sum of the
objectives min-max normalised over the whole table, in [-1, 0]) averaged over a study's
first 50, last 50 and all trials, mean ± std over seeds; and the hypervolume ratio of the
found front to the true one at the budget (two objectives).

    PYTHONPATH=$PWD python benchmarks/reinforce_nb201.py [--seeds 10] [--budget 200]
"""

from __future__ import annotations

import argparse

import numpy as np

import hwnas
from hwnas.gym import HwnasEnv

TASKS = (["accuracy:max"], ["accuracy:max", "latency@pixel3:min"])


def run(objectives: list[str], strategy: str, seed: int, budget: int) -> tuple[np.ndarray, float]:
    study = hwnas.Study(objectives=objectives, strategy=strategy, budget=budget, seed=seed)
    study.optimize()
    env = HwnasEnv(out=study)  # scores each trial with the environment's reward
    rewards = np.array([env.reward(e) for e in study.results().rows])
    return rewards, float(study.summary().get("hv_ratio", np.nan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=200)
    args = parser.parse_args()
    print("| objectives | strategy | first 50 | last 50 | all | HV ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for objectives in TASKS:
        for strategy in ("random", "reinforce"):
            runs = [run(objectives, strategy, s, args.budget) for s in range(args.seeds)]
            R = np.array([r for r, _ in runs])
            hv = np.array([h for _, h in runs])
            cells = [R[:, :50].mean(1), R[:, -50:].mean(1), R.mean(1)]
            text = [f"{c.mean():.4f} ± {c.std(ddof=1):.4f}" for c in cells]
            hv_text = f"{hv.mean():.4f} ± {hv.std(ddof=1):.4f}" if len(objectives) > 1 else "-"
            print(f"| {' '.join(objectives)} | {strategy} | {' | '.join(text)} | {hv_text} |")


if __name__ == "__main__":
    main()
