"""HAT latency predictors on HAT's published latency datasets (hwnas/data/hat): hwnas's cost
model (`hwnas.tabular.hat.CostModel`, what `latency@hat-*` uses) against HAT's own recipe
(`latency_predictor.py`: an MLP 10 -> 400 -> 400 -> 400 -> 400 -> 1 with ReLU on the 10
features divided by [640, 6, 2048, 6, 640, 6, 2048, 6, 6, 2], latency divided by the
device's `lat-norm` (Raspberry Pi 5000, Xeon 300, TITAN Xp 200), Adam lr 1e-5, 5,000 steps
of 128 random rows, MSE; torch, one thread).

1. Per table (2,000 rows): 5-fold cross-validation, the same folds for both (seed 0); RMSE
   (ms), share within +-10 % and Kendall's tau of the held-out predictions.
2. The published SubTransformers (hwnas/data/hat/subtransformers, not among the rows): each
   predictor fitted on all rows of its device's table; MAE % and Spearman against the
   latency HAT published for it.

Results go to benchmarks/results/hat_latency.json, rewritten after every fit (the MLP takes
minutes per fit on a loaded 2-core machine; `--mlp-tables` limits it).

    PYTHONPATH=. python benchmarks/hat_latency.py [--mlp-tables all|none|TASK/DEVICE,...]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from hwnas._io import atomic_write
from hwnas.spaces import get_space
from hwnas.tabular.hat import TABLES, CostModel, folds, load_table, scores

OUT = Path(__file__).parent / "results" / "hat_latency.json"
FEATURE_NORM = np.array([640, 6, 2048, 6, 640, 6, 2048, 6, 6, 2], dtype=np.float64)
LAT_NORM = {"raspberrypi": 5000.0, "xeon": 300.0, "titanxp": 200.0}


class HATMLP:
    """HAT's latency predictor recipe (latency_predictor.py), seeded."""

    def __init__(self, lat_norm: float, steps: int = 5000, seed: int = 0) -> None:
        self.lat_norm = lat_norm
        self.steps = steps
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> HATMLP:
        import torch

        torch.manual_seed(self.seed)
        torch.set_num_threads(1)
        layers: list[torch.nn.Module] = [torch.nn.Linear(10, 400), torch.nn.ReLU()]
        for _ in range(3):
            layers += [torch.nn.Linear(400, 400), torch.nn.ReLU()]
        self.net_ = torch.nn.Sequential(*layers, torch.nn.Linear(400, 1))
        opt = torch.optim.Adam(self.net_.parameters(), lr=1e-5)
        xs = torch.tensor(X / FEATURE_NORM, dtype=torch.float32)
        ys = torch.tensor(y / self.lat_norm, dtype=torch.float32)
        rng = np.random.default_rng(self.seed)
        for _ in range(self.steps):
            idx = torch.from_numpy(rng.choice(len(xs), size=128, replace=False))
            loss = torch.mean((self.net_(xs[idx]).squeeze(-1) - ys[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.tensor(np.atleast_2d(X) / FEATURE_NORM, dtype=torch.float32)
            return self.net_(x).squeeze(-1).numpy().astype(np.float64) * self.lat_norm


def published() -> list[dict[str, Any]]:
    """The published SubTransformers with their HAT features and published latency."""
    root = resources.files("hwnas") / "data" / "hat"
    rows = []
    with resources.as_file(root / "published_subtransformers.csv") as p, open(p) as fh:
        for row in csv.DictReader(fh):
            space = get_space("hat-iwslt" if row["task"].startswith("iwslt") else "hat")
            with resources.as_file(root / "subtransformers" / row["file"]) as yml:
                arch = space.parse(str(yml))
            row["features"] = space.config(arch).hat_features()
            rows.append(row)
    return rows


def save(results: dict[str, Any]) -> None:
    atomic_write(OUT, json.dumps(results, indent=1, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlp-tables", default="all", help="all | none | TASK/DEVICE,...")
    args = parser.parse_args()
    tables = list(TABLES)
    if args.mlp_tables in ("all", "none"):
        mlp_tables = tables if args.mlp_tables == "all" else []
    else:
        mlp_tables = [(t.split("/")[0], t.split("/")[-1]) for t in args.mlp_tables.split(",")]
    results: dict[str, Any] = {"cv": {}, "published": {}, "mlp_seconds_per_fit": []}
    rows = published()
    # ours first: instant, so the file has every table's figures before the MLP starts
    for task, device in tables:
        X, enc, dec = load_table(task, device)
        y = enc + dec
        pred = np.empty(len(y))
        for test in folds(len(y)):
            train = np.setdiff1d(np.arange(len(y)), test)
            pred[test] = CostModel().fit(X[train], enc[train], dec[train]).predict(X[test])
        name = f"{task}/{device}"
        results["cv"][name] = {"rows": len(y), "mean_ms": float(y.mean()), "ours": scores(pred, y)}
        mine = [r for r in rows if (r["task"], r["device"]) == (task, device)]
        if mine:
            model = CostModel().fit(X, enc, dec)
            results["published"][name] = {"n": len(mine), **_published_scores(model, mine, "ours")}
        save(results)
        print(name, results["cv"][name], results["published"].get(name), flush=True)
    for task, device in mlp_tables:
        name = f"{task}/{device}"
        X, enc, dec = load_table(task, device)
        y = enc + dec
        pred = np.empty(len(y))
        for test in folds(len(y)):
            train = np.setdiff1d(np.arange(len(y)), test)
            start = time.perf_counter()
            pred[test] = HATMLP(LAT_NORM[device]).fit(X[train], y[train]).predict(X[test])
            results["mlp_seconds_per_fit"].append(time.perf_counter() - start)
        results["cv"][name]["hat_mlp"] = scores(pred, y)
        mine = [r for r in rows if (r["task"], r["device"]) == (task, device)]
        if mine:
            mlp = HATMLP(LAT_NORM[device]).fit(X, y)
            results["published"][name].update(_published_scores(mlp, mine, "hat_mlp"))
        save(results)
        print(name, "hat_mlp", results["cv"][name]["hat_mlp"], flush=True)


def _published_scores(model: Any, rows: list[dict[str, Any]], who: str) -> dict[str, Any]:
    X = np.array([r["features"] for r in rows])
    measured = np.array([float(r["latency_ms"]) for r in rows])
    predicted = np.asarray(model.predict(X))
    err = (predicted - measured) / measured
    return {
        f"{who}_mae_pct": float(100 * np.mean(np.abs(err))),
        f"{who}_spearman": float(spearmanr(predicted, measured)[0]),
        f"{who}_per_model": {
            r["model_name"]: [float(r["latency_ms"]), round(float(p), 1)]
            for r, p in zip(rows, predicted)
        },
    }


if __name__ == "__main__":
    main()
