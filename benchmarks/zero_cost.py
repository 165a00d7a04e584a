"""Zero-cost proxies on NB201 against the published CIFAR-10 accuracies.

Scores a seeded sample of the architectures of NASLib's published proxy subset (so the same architectures can
be compared with NAS-Bench-Suite-Zero's values), CIFAR-10 networks, one batch of 64 real
images (Fashion-MNIST when installed, resized to 3x32x32), one thread. Rows are appended to
--scores as they are computed, so an interrupted run resumes where it stopped. Then prints
Spearman's rho of every proxy with CIFAR-10 test accuracy (200 epochs) and with the
published proxy values on the same architectures, as a markdown table.

    PYTHONPATH=. python benchmarks/zero_cost.py --n 500 --proxy synflow,nwot,params,flops \
        --scores benchmarks/results/zc_cheap.csv
    PYTHONPATH=. python benchmarks/zero_cost.py --n 100 --proxy jacov,snip,grad_norm,fisher,grasp \
        --scores benchmarks/results/zc_grad.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from hwnas.quality.proxies import (
    compute_proxies,
    default_data,
    list_proxies,
    proxy_batch,
    resolve_names,
)
from hwnas.spaces import get_space
from hwnas.tabular.nb201 import load_frame


def published() -> pd.DataFrame:
    path = resources.files("hwnas") / "data" / "nb201" / "nb201_zc_proxies_naslib_subset.csv.gz"
    with resources.as_file(path) as p:
        frame = pd.read_csv(p)
    return frame[frame.dataset == "cifar10"].sort_values("arch_index").reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="architectures (of the 725)")
    parser.add_argument("--proxy", action="append", default=None, help="default: all")
    parser.add_argument("--data", default=None, help="image dataset spec (default: auto)")
    parser.add_argument("--scores", default="zc_scores.csv", help="append-only score file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-only", action="store_true", help="only summarise --scores")
    args = parser.parse_args()
    space = get_space("nb201")
    pub = published()
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(pub))[: args.n]
    names = resolve_names(args.proxy or ["all"])
    scores = Path(args.scores)
    done = set(pd.read_csv(scores)["arch"]) if scores.exists() else set()
    meta_path = scores.with_name(scores.name + ".json")
    if not args.report_only:
        torch.set_num_threads(1)
        data = args.data or default_data()
        batch = proxy_batch(data, space.input_shape("cifar10"), 64, args.seed)
        meta_path.write_text(
            json.dumps(
                {
                    "data": batch.provenance,
                    "seed": args.seed,
                    "threads": 1,
                    "torch": torch.__version__,
                },
                indent=2,
            )
        )
        for i in order:
            key = pub.arch_str[i]
            if key in done:
                continue
            t = time.perf_counter()
            values = compute_proxies(space, space.parse(key), "cifar10", names, batch, args.seed)
            row = {"arch": key, **values, "seconds": time.perf_counter() - t}
            new = not scores.exists()
            with open(scores, "a", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=["arch", *list_proxies(), "seconds"])
                if new:
                    writer.writeheader()
                writer.writerow(row)
    report(scores, pub)


def report(scores: Path, pub: pd.DataFrame) -> None:
    ours = pd.read_csv(scores)
    print(f"scores: {scores}")
    table = load_frame()[["arch_str", "cifar10_test_acc_200ep"]]
    merged = ours.merge(table, left_on="arch", right_on="arch_str").merge(
        pub, on="arch_str", suffixes=("", "_pub")
    )
    acc = merged["cifar10_test_acc_200ep"]
    print(
        f"{len(merged)} architectures; mean {ours['seconds'].mean():.2f} s/arch "
        f"(wall, for the proxies of this file)"
    )
    print(
        "| proxy | n | Spearman with CIFAR-10 test acc | published proxy, same archs | "
        "Spearman ours vs published |"
    )
    print("|---|---|---|---|---|")
    for p in list_proxies():
        col = merged.get(p)
        if col is None or col.notna().sum() == 0:
            continue
        ok = col.notna()
        rho = spearmanr(col[ok], acc[ok]).statistic
        pub_col = f"{p}_pub" if f"{p}_pub" in merged else None
        if pub_col is not None:
            both = ok & merged[pub_col].notna()
            rho_pub = spearmanr(merged[pub_col][both], acc[both]).statistic
            rho_vs = spearmanr(merged[pub_col][both], col[both]).statistic
            extra = f"{rho_pub:.3f} | {rho_vs:.3f}"
        else:
            extra = "- | -"
        print(f"| {p} | {int(ok.sum())} | {rho:.3f} | {extra} |")


if __name__ == "__main__":
    main()
