"""Issue 20 (early budgets): the default linas, a variant with a space-filling start
(measured, not adopted) and the external baselines, from the `runs.jsonl` files of
`hwnas bench` runs.

    PYTHONPATH=. python benchmarks/early_budgets.py OUT.json LABEL=DIR/runs.jsonl ...

Each LABEL prefixes the method names of its file (e.g. `default=...` turns `linas` into
`default:linas`); files may share a label. Writes the per-seed HV gaps (%) to OUT.json and prints, per task and
budget, the mean over the seeds every method of the task has, and the best method."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

#: the tasks the variant was chosen on (seeds 0-9); every other task is held out
TUNING = ("cifar10:raspi4", "cifar10:eyeriss", "cifar100:pixel3")
#: the pair summarised per budget: (old, new)
COMPARED = ("default:linas", "maximin10:linas")


def load(sources: list[str]) -> dict[str, dict[str, dict[int, dict[str, float]]]]:
    """task -> method -> seed -> budget -> HV gap in %."""
    out: dict[str, dict[str, dict[int, dict[str, float]]]] = defaultdict(dict)
    for source in sources:
        label, _, path = source.partition("=")
        for line in Path(path).read_text().splitlines():
            run = json.loads(line)
            gaps = {b: 100 * v["hv_gap"] for b, v in run["at"].items()}
            out[run["task"]].setdefault(f"{label}:{run['method']}", {})[run["seed"]] = gaps
    return out


def main(out_path: str, sources: list[str]) -> None:
    runs = load(sources)
    methods = list(dict.fromkeys(m for per in runs.values() for m in per))
    ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
    print(f"| task | tuned on | budget | seeds | {' | '.join(methods)} | best |")
    print("|---|---|---:|---:|" + "---:|" * len(methods) + "---|")
    for task, per in sorted(runs.items(), key=lambda kv: (kv[0] not in TUNING, kv[0])):
        seeds = sorted(set.intersection(*(set(s) for s in per.values())))
        for b in sorted({b for s in per.values() for g in s.values() for b in g}, key=int):
            means = {
                m: sum(per[m][s][b] for s in seeds) / len(seeds)
                for m in methods
                if m in per and all(b in per[m][s] for s in seeds)
            }
            cells = " | ".join(f"{means[m]:.3f}" if m in means else "" for m in methods)
            tuned = "yes" if task in TUNING else "no"
            best = min(means, key=means.__getitem__)
            print(f"| {task} | {tuned} | {b} | {len(seeds)} | {cells} | {best} |")
            if COMPARED[0] in means and COMPARED[1] in means:
                ratios[(tuned, b)].append(means[COMPARED[1]] / means[COMPARED[0]])
    for (tuned, b), r in sorted(ratios.items()):
        better = sum(x < 1 for x in r)
        geo = float(np.exp(np.mean(np.log(r))))
        what = "tuning" if tuned == "yes" else "held-out"
        print(
            f"{what} tasks, {b} evaluations: {COMPARED[1]} below {COMPARED[0]} on "
            f"{better} of {len(r)}, geometric mean ratio {geo:.3f}"
        )
    doc = {"schema_version": 1, "tuning_tasks": list(TUNING), "hv_gap_percent": runs}
    Path(out_path).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
