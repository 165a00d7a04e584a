"""Accuracy predictor on NB201 CIFAR-10: trained on 100 labelled architectures, ranks 2,000
other random architectures (Kendall tau), with zero-cost proxies as features.

The 2,100 distinct architectures are drawn with --seed; the first 100 are the training set.
Proxy features are computed on the built CIFAR-10 networks and appended to --features as
they are computed (an interrupted run resumes). Prints a markdown table of Kendall tau for
the predictor and its ablations (encoding only, proxies only, a single proxy).

    PYTHONPATH=. python benchmarks/predictor.py --features benchmarks/results/pred_features.csv

(`--shard I/K` computes a K-th of the features in parallel processes that append to the same
file; a last run without it fits and reports.)
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau, spearmanr

from hwnas.quality.predictor import ProxyFeaturizer, ProxyPredictor
from hwnas.spaces import get_space
from hwnas.tabular.nb201 import load_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--proxies", default="synflow")
    parser.add_argument(
        "--shard", default=None, help="I/K: only compute the features of every K-th arch from I"
    )
    parser.add_argument("--features", default="pred_features.csv")
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = get_space("nb201")
    proxies = tuple(args.proxies.split("+"))
    rng = np.random.default_rng(args.seed)
    chosen: dict[str, object] = {}
    while len(chosen) < args.train + args.test:
        a = space.sample(rng)
        chosen.setdefault(a.key, a)
    archs = list(chosen.values())
    feats = Path(args.features)
    cache = pd.read_csv(feats).set_index("arch") if feats.exists() else None
    featurizer = ProxyFeaturizer(space, "cifar10", proxies=proxies, seed=args.seed)
    start = time.perf_counter()
    shard, n_shards = map(int, (args.shard or "0/1").split("/"))
    for a in archs[shard::n_shards]:
        if cache is not None and a.key in cache.index:
            featurizer._cache[a.key] = [float(cache.loc[a.key, p]) for p in proxies]
            continue
        featurizer.proxy_rows([a])
        new = not feats.exists()
        with open(feats, "a", newline="") as fh:
            w = csv.writer(fh)
            if new:
                w.writerow(["arch", *proxies])
            w.writerow([a.key, *featurizer._cache[a.key]])
    print(f"features: {time.perf_counter() - start:.0f} s for the uncached architectures")
    if args.shard:
        return
    table = load_frame().set_index("arch_str")
    train, test = archs[: args.train], archs[args.train :]
    for target in ("cifar10_test_acc_200ep", "cifar10valid_valid_acc_200ep"):
        y_tr = table.loc[[a.key for a in train], target].to_numpy()
        y_te = table.loc[[a.key for a in test], target].to_numpy()
        print(f"\ntarget {target}: train {len(train)}, test {len(test)}, seed {args.seed}")
        print("| model | features | Kendall tau | Spearman |\n|---|---|---|---|")
        X_tr, X_te = featurizer(train), featurizer(test)
        n_enc = X_tr.shape[1] - len(proxies)
        variants = {
            "encoding + proxies": slice(None),
            "encoding only": slice(0, n_enc),
            "proxies only": slice(n_enc, None),
        }
        for label, cols in variants.items():
            model = ProxyPredictor(seed=args.seed).fit(X_tr[:, cols], y_tr)
            mean, _ = model.predict(X_te[:, cols])
            tau = kendalltau(mean, y_te).statistic
            rho = spearmanr(mean, y_te).statistic
            print(
                f"| GBT ensemble | {label} ({', '.join(featurizer.encodings)}; "
                f"{', '.join(proxies)}) | {tau:.3f} | {rho:.3f} |"
            )
        for j, p in enumerate(proxies):
            col = X_te[:, n_enc + j]
            print(
                f"| proxy alone (no training) | {p} | {kendalltau(col, y_te).statistic:.3f} | "
                f"{spearmanr(col, y_te).statistic:.3f} |"
            )


if __name__ == "__main__":
    main()
