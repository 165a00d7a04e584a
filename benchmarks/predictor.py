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
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from hwnas.predictors import make_predictor
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
    parser.add_argument(
        "--encodings",
        type=int,
        metavar="SEEDS",
        default=0,
        help="instead: encodings only (no proxies, no torch), train/test drawn with seeds "
        "0..SEEDS-1, mean/std/min of Kendall tau per model and features",
    )
    parser.add_argument(
        "--published",
        action="store_true",
        help="instead: NASLib's published proxies (725-arch subset), train 100 / test the rest",
    )
    args = parser.parse_args()
    if args.published:
        published_subset(args.train, seeds=range(5))
        return
    if args.encodings:
        encodings_only(args.train, args.test, seeds=range(args.encodings))
        return
    import torch

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
        encs, pxs = ", ".join(featurizer.encodings), ", ".join(proxies)
        variants = {
            f"encoding ({encs}) + proxies ({pxs})": slice(None),
            f"encoding only ({encs})": slice(0, n_enc),
            f"proxies only ({pxs})": slice(n_enc, None),
        }
        for label, cols in variants.items():
            model = ProxyPredictor(seed=args.seed).fit(X_tr[:, cols], y_tr)
            mean, _ = model.predict(X_te[:, cols])
            tau = kendalltau(mean, y_te).statistic
            rho = spearmanr(mean, y_te).statistic
            print(f"| GBT ensemble | {label} | {tau:.3f} | {rho:.3f} |")
        for j, p in enumerate(proxies):
            col = X_te[:, n_enc + j]
            print(
                f"| proxy alone (no training) | {p} | {kendalltau(col, y_te).statistic:.3f} | "
                f"{spearmanr(col, y_te).statistic:.3f} |"
            )


def encodings_only(n_train: int, n_test: int, seeds: range) -> None:
    """Kendall tau from encodings alone, over several random draws of train and test
    architectures (each seed draws n_train + n_test distinct architectures uniformly)."""
    space = get_space("nb201")
    table = load_frame().set_index("arch_str")
    variants = {
        "forest (extra-trees), effective": ("forest", ("effective",)),
        "GBT ensemble, effective": ("gbt-ensemble", ("effective",)),
        "GBT ensemble, onehot + opcount + path + effective": (
            "gbt-ensemble",
            ("onehot", "opcount", "path", "effective"),
        ),
        "GBT ensemble, onehot + opcount + path (before)": (
            "gbt-ensemble",
            ("onehot", "opcount", "path"),
        ),
        "forest (extra-trees), onehot + opcount + path": ("forest", ("onehot", "opcount", "path")),
        "Bayesian ridge, effective": ("ridge", ("effective",)),
    }
    targets = ("cifar10_test_acc_200ep", "cifar10valid_valid_acc_200ep")
    taus: dict[tuple[str, str], list[float]] = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        chosen: dict[str, object] = {}
        while len(chosen) < n_train + n_test:
            a = space.sample(rng)
            chosen.setdefault(a.key, a)
        archs = list(chosen.values())
        train, test = archs[:n_train], archs[n_train:]
        for target in targets:
            y_tr = table.loc[[a.key for a in train], target].to_numpy()
            y_te = table.loc[[a.key for a in test], target].to_numpy()
            for label, (model, encodings) in variants.items():
                X_tr = np.hstack([space.encode(train, e) for e in encodings])
                X_te = np.hstack([space.encode(test, e) for e in encodings])
                if model == "gbt-ensemble":
                    predictor: Any = ProxyPredictor(seed=seed)
                elif model == "forest":
                    predictor = make_predictor(model, seed=seed)
                else:
                    predictor = make_predictor(model)
                mean, _ = predictor.fit(X_tr, y_tr).predict(X_te)
                taus.setdefault((label, target), []).append(kendalltau(mean, y_te).statistic)
        print(f"seed {seed} done", flush=True)
    print(
        f"\ntrain {n_train}, test {n_test} distinct random architectures, seeds "
        f"{seeds.start}..{seeds.stop - 1}; Kendall tau mean ± std (min)"
    )
    print("| model, features | " + " | ".join(targets) + " |\n|---|---|---|")
    for label in variants:
        cells = []
        for target in targets:
            t = np.array(taus[(label, target)])
            cells.append(
                f"{t.mean():.3f} ± {t.std(ddof=1) if len(t) > 1 else 0:.3f} ({t.min():.3f})"
            )
        print(f"| {label} | " + " | ".join(cells) + " |")


def published_subset(n_train: int, seeds: range) -> None:
    """The predictor on the proxies NAS-Bench-Suite-Zero computed on CIFAR-10 images (the
    725-architecture subset shipped in hwnas/data/nb201): what the same model reaches when
    every proxy is available, as it would be with CIFAR and more compute."""
    from importlib import resources

    space = get_space("nb201")
    path = resources.files("hwnas") / "data" / "nb201" / "nb201_zc_proxies_naslib_subset.csv.gz"
    with resources.as_file(path) as p:
        pub = pd.read_csv(p)
    pub = pub[pub.dataset == "cifar10"].reset_index(drop=True)
    y = load_frame().set_index("arch_str").loc[pub.arch_str, "cifar10_test_acc_200ep"].to_numpy()
    archs = [space.parse(a) for a in pub.arch_str]
    enc = space.encode(archs, "effective")
    sets = {
        "nothing (encoding only)": [],
        "synflow": ["synflow"],
        "synflow, nwot": ["synflow", "nwot"],
        "synflow, nwot, jacov, snip, grad_norm": ["synflow", "nwot", "jacov", "snip", "grad_norm"],
        "all 7 (+ fisher, grasp)": [
            "synflow",
            "nwot",
            "jacov",
            "snip",
            "grad_norm",
            "fisher",
            "grasp",
        ],
    }
    print(
        f"published proxies, {len(pub)} archs, train {n_train}, test {len(pub) - n_train}, "
        f"mean over seeds {list(seeds)}"
    )
    print("| features (effective encoding +) | Kendall tau |\n|---|---|")
    for label, cols in sets.items():
        X = np.hstack([enc, pub[cols].to_numpy(dtype=np.float64).reshape(len(pub), -1)])
        taus = []
        for seed in seeds:
            order = np.random.default_rng(seed).permutation(len(y))
            tr, te = order[:n_train], order[n_train:]
            mean, _ = ProxyPredictor(seed=seed).fit(X[tr], y[tr]).predict(X[te])
            taus.append(kendalltau(mean, y[te]).statistic)
        print(f"| {label} | {np.mean(taus):.3f} (min {np.min(taus):.3f}) |")


if __name__ == "__main__":
    main()
