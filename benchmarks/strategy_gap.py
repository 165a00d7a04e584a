"""Where a strategy's remaining hypervolume gap lies on an NB201 task, and how low any
strategy could get at 300 evaluations.

1. Per seed: the gap at 300 evaluations, and the gap once the true-front cells that are
   functionally identical (same `effective` encoding) to a cell the run evaluated are
   added: the part of the gap that lies in classes the search already found; and the gap
   when the run's last 30 evaluations go instead to "lottery tickets": random unseen cells
   that compile to the same graph as a front cell, each drawn from the graph whose cells
   improve the hypervolume most on average (an oracle: it knows every graph's latency
   spread, only not which cell is the lucky one).
2. Floors: 300 cells picked by predicted non-dominated rank (then crowding) with every
   class's mean accuracy known exactly (what a perfect accuracy model could know: the
   rest is the table's seed noise) and latency from a ridge model fitted on 300 random
   cells (one-hot + effective; then on the cell a graph compiler keeps, edges whose output
   cannot reach the cell output removed), or the exact latency.
3. Latency noise inside one class: the spread of the measured latencies of the cells a
   graph compiler reduces to the same graph (a few of them measure far slower: dead ops
   are not always removed, hence quartiles).
4. The method on a de-noised table: every cell's latency set to the median of its
   compiled graph's cells (then also its accuracy to its functional class's mean), the
   true front and the bounds recomputed. Run last: it rewrites the task's cached table.

    PYTHONPATH=. python benchmarks/strategy_gap.py [METHOD] [TASK] [SEEDS]
    # defaults: linas cifar10:pixel3 0,...,9
"""

from __future__ import annotations

import sys

import numpy as np

from hwnas.bench import parse_task
from hwnas.bench._run import BudgetSpent, Evaluator, method_runner, run_one
from hwnas.bench._tasks import TaskContext, context
from hwnas.indicators import hypervolume_ratio
from hwnas.pareto import crowding_distance, pareto_mask
from hwnas.predictors import make_predictor
from hwnas.spaces.nb201 import EDGES, OPS, _effective_encoding
from hwnas.strategies._surrogate import hvi_2d

BUDGET = 300
TICKETS = 30


def gap(ctx: TaskContext, F: np.ndarray) -> float:
    return 100.0 * (1.0 - hypervolume_ratio(F, ctx.true_F, ctx.lower, ctx.upper))


def compiled(genes: tuple[int, ...]) -> np.ndarray:
    """One-hot of the ops that run after dead-code elimination: an edge stays when its
    head node reaches the output through non-`none` edges (even if fed only by zeros)."""
    op = {edge: genes[i] for i, edge in enumerate(EDGES)}
    to_output = {3}
    for node in (2, 1, 0):
        if any(op[(d, node)] != 0 and d in to_output for d in range(node + 1, 4)):
            to_output.add(node)
    kept = [g if d in to_output else 0 for g, (d, _) in zip(genes, EDGES)]
    return np.concatenate([np.eye(len(OPS))[g] for g in kept])


def by_predicted_rank(P: np.ndarray, n: int) -> np.ndarray:
    remaining, out = np.arange(len(P)), []
    while len(out) < n:
        mask = pareto_mask(P[remaining])
        front = remaining[mask]
        out += list(front[np.argsort(-crowding_distance(P[front]), kind="stable")])
        remaining = remaining[~mask]
    return np.array(out[:n])


def with_tickets(
    ctx: TaskContext, rows: list[int], graph: np.ndarray, rng: np.random.Generator
) -> list[int]:
    """`rows` with its last TICKETS replaced by oracle-allocated lottery tickets."""
    F = ctx._F
    norm = (F - ctx.lower) / (ctx.upper - ctx.lower)
    chosen = list(rows[: len(rows) - TICKETS])
    for _ in range(TICKETS):
        mask = pareto_mask(norm[chosen])
        taken = set(chosen)
        best: tuple[float, list[int]] | None = None
        for g in {graph[chosen[i]] for i in np.flatnonzero(mask)}:
            unseen = [i for i in np.flatnonzero(graph == g) if i not in taken]
            if unseen:
                gain = float(hvi_2d(norm[chosen][mask], norm[unseen], np.ones(2)).mean())
                if best is None or gain > best[0]:
                    best = (gain, unseen)
        if best is None:
            break
        chosen.append(int(rng.choice(best[1])))
    return chosen


def main() -> None:
    method = sys.argv[1] if len(sys.argv) > 1 else "linas"
    task = sys.argv[2] if len(sys.argv) > 2 else "cifar10:pixel3"
    seeds = [
        int(s) for s in (sys.argv[3] if len(sys.argv) > 3 else "0,1,2,3,4,5,6,7,8,9").split(",")
    ]
    ctx = context(parse_task(task))
    space = ctx.space
    keys = list(ctx._rows)
    F = ctx._F
    archs = [space.parse(k) for k in keys]
    effective = np.round(np.array([_effective_encoding(a.genes) for a in archs]), 6)
    cls = np.unique(effective, axis=0, return_inverse=True)[1].ravel()
    true_rows = np.array([ctx._rows[k] for k in ctx.true_keys])
    kept = np.array([compiled(a.genes) for a in archs])
    graph = np.unique(kept, axis=0, return_inverse=True)[1].ravel()

    print(f"## {method} on {task}: gap % at {BUDGET}")
    rows = []
    for seed in seeds:
        ev = Evaluator(ctx, BUDGET)
        try:
            method_runner(method)(ev, seed)
        except BudgetSpent:
            pass
        found = np.array(ev.rows)
        seen = {cls[ctx._rows[k]] for k in ev.keys}
        siblings = F[[r for r in true_rows if cls[r] in seen]]
        run_rows = [ctx._rows[k] for k in ev.keys]
        ticketed = with_tickets(ctx, run_rows, graph, np.random.default_rng(seed))
        rows.append(
            (gap(ctx, found), gap(ctx, np.vstack([found, siblings])), gap(ctx, F[ticketed]))
        )
        print(
            f"seed {seed}: {rows[-1][0]:.3f}, with the front cells of evaluated classes "
            f"{rows[-1][1]:.3f}, last {TICKETS} as oracle tickets {rows[-1][2]:.3f}",
            flush=True,
        )
    mean = np.mean(rows, axis=0)
    print(
        f"mean: {mean[0]:.3f}; in evaluated classes {mean[0] - mean[1]:.3f}; "
        f"in classes never evaluated {mean[1]:.3f}; last {TICKETS} as oracle tickets "
        f"{mean[2]:.3f}"
    )

    print(f"\n## floors: {BUDGET} cells by predicted rank, class-mean accuracy known")
    class_mean = (np.bincount(cls, F[:, 0]) / np.bincount(cls))[cls]
    labelled = np.random.default_rng(0).choice(len(F), 300, replace=False)
    encodings = {
        "ridge, one-hot + effective": np.hstack([space.encode(archs, "onehot"), effective]),
        "ridge, compiled one-hot": np.array([compiled(a.genes) for a in archs]),
    }
    for name, X in encodings.items():
        latency = make_predictor("ridge").fit(X[labelled], F[labelled, 1]).predict(X)[0]
        picks = by_predicted_rank(np.column_stack([class_mean, latency]), BUDGET)
        print(f"latency from a {name} (300 labels): {gap(ctx, F[picks]):.3f}")
    picks = by_predicted_rank(np.column_stack([class_mean, F[:, 1]]), BUDGET)
    print(f"exact latency: {gap(ctx, F[picks]):.3f}")

    print("\n## latency (ms) of cells with the same compiled graph, per front class")
    for c in sorted(set(cls[true_rows]), key=lambda c: F[cls == c, 1].min())[:6]:
        fastest = np.flatnonzero(cls == c)[np.argmin(F[cls == c, 1])]
        same = np.flatnonzero(graph == graph[fastest])
        lat = F[same, 1]
        q = np.percentile(lat, [0, 25, 50])
        print(
            f"class of {keys[fastest]}: {len(same)} cells; min {q[0]:.3f}, "
            f"quartile {q[1]:.3f}, median {q[2]:.3f}"
        )

    print(f"\n## {method} on de-noised tables, gap % at 50 / 100 / {BUDGET}")
    for accuracy in (False, True):
        what = "latency and accuracy" if accuracy else "latency"
        gaps = denoised_gaps(method, task, seeds, graph, cls, accuracy)
        print(f"{what} de-noised: " + " / ".join(f"{g:.3f}" for g in gaps), flush=True)


def denoised_gaps(
    method: str, task: str, seeds: list[int], graph: np.ndarray, cls: np.ndarray, accuracy: bool
) -> np.ndarray:
    ctx = context(parse_task(task))
    F = ctx._F
    F[:, 1] = np.array([np.median(F[graph == g, 1]) for g in range(graph.max() + 1)])[graph]
    if accuracy:
        F[:, 0] = (np.bincount(cls, F[:, 0]) / np.bincount(cls))[cls]
    front = pareto_mask(F)
    keys = list(ctx._rows)
    ctx.true_F, ctx.true_keys = F[front], [keys[i] for i in np.flatnonzero(front)]
    ctx.lower, ctx.upper = F.min(axis=0), F.max(axis=0)
    budgets = (50, 100, BUDGET)
    runs = [run_one(method, parse_task(task), seed, budgets) for seed in seeds]
    return np.array([[100.0 * r.at[b]["hv_gap"] for b in budgets] for r in runs]).mean(axis=0)


if __name__ == "__main__":
    main()
