"""Supernet benchmark on Fashion-MNIST: training throughput and time per epoch, then the
Kendall tau between each subnet's inherited-weight accuracy (after batch-norm
recalibration) and its stand-alone accuracy (trained from scratch with
`hwnas.training.fit`, the same schedule), over subnets spread over the space by MACs
(the smallest and the largest included).

    PYTHONPATH=. python benchmarks/supernet.py --out benchmarks/results/supernet

Results go to OUT/results.json after every subnet (a rerun skips what is done) and the
supernet checkpoint to OUT/supernet.safetensors (resumed when present)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pick_subnets(space: Any, dataset: str, n: int, seed: int) -> list[Any]:
    """Smallest, largest and n-2 random architectures at evenly spaced MAC quantiles of a
    random sample of 300."""
    from hwnas.cost.targets import analytic_counts
    from hwnas.supernet import largest_arch, smallest_arch

    rng = np.random.default_rng(seed)
    pool = {a.key: a for a in (space.sample(rng) for _ in range(300))}
    archs = list(pool.values())
    macs = np.array([analytic_counts(space, a, dataset).macs for a in archs])
    order = np.argsort(macs)
    picks = [archs[order[int(q)]] for q in np.linspace(0, len(archs) - 1, n - 2)]
    return [smallest_arch(space), *picks, largest_arch(space)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/supernet"))
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--train-images", type=int, default=1000)
    ap.add_argument("--val-images", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--n-random", type=int, default=2)
    ap.add_argument("--subnets", type=int, default=10)
    ap.add_argument("--calib-images", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--standalone-seeds", type=int, default=1,
        help="train each stand-alone baseline with this many seeds (seed, seed+1, ...): the "
        "reference is their mean and the seed-to-seed tau is the noise ceiling",
    )  # fmt: skip
    ap.add_argument(
        "--no-distill", action="store_true",
        help="train the smaller subnets on the labels instead of the largest's soft labels",
    )  # fmt: skip
    ap.add_argument(
        "--reuse-standalone", type=Path, default=None,
        help="another run's results.json (same images, schedule and subnets): take its "
        "stand-alone accuracies instead of training them again",
    )  # fmt: skip
    args = ap.parse_args()

    import torch
    from scipy.stats import kendalltau, spearmanr

    from hwnas.cost.targets import analytic_counts
    from hwnas.spaces import get_space
    from hwnas.supernet import (
        SupernetConfig,
        subnet_from_checkpoint,
        train_supernet,
        training_subset,
    )
    from hwnas.training import TrainConfig, evaluate, fit

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    results: dict[str, Any] = (
        json.loads(results_path.read_text()) if results_path.exists() else {"subnets": {}}
    )
    results["args"] = {k: str(v) for k, v in vars(args).items()}

    def save() -> None:
        tmp = results_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2))
        tmp.replace(results_path)

    config = SupernetConfig(
        dataset="fashion-mnist", data=args.data, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, seed=args.seed, n_random=args.n_random,
        train_images=args.train_images, distill=not args.no_distill,
    )  # fmt: skip
    ckpt = args.out / "supernet.safetensors"
    log(f"supernet: {args.train_images} images x {args.epochs} epochs, batch {args.batch_size}")
    last = [time.perf_counter()]

    def on_step(done: int, total: int, loss: float) -> None:
        if done % 5 == 0 or done == total:
            now = time.perf_counter()
            log(f"  step {done}/{total} loss {loss:.3f} ({now - last[0]:.1f} s since last log)")
            last[0] = now

    meta = train_supernet(config, ckpt, resume=True, device="cpu", on_step=on_step)
    n_imgs = meta["train_images"]
    train_s = meta["elapsed_s"]
    results["supernet"] = {
        "train_images": n_imgs,
        "epochs": args.epochs,
        "seconds": train_s,
        "seconds_per_epoch": train_s / args.epochs,
        "images_per_s": n_imgs * args.epochs / train_s,
        "subnet_passes_per_step": 2 + args.n_random,
        "history": meta["history"],
    }
    save()
    log(f"supernet done: {results['supernet']['images_per_s']:.2f} images/s, "
        f"{train_s / args.epochs:.0f} s/epoch")  # fmt: skip

    space = get_space("mbv3")
    ds, train = training_subset(config)
    chosen = np.random.default_rng(args.seed).permutation(len(ds.val))[: args.val_images]
    val = ds.val.take(np.sort(chosen))
    archs = pick_subnets(space, "fashion-mnist", args.subnets, args.seed)

    def standalone(arch: Any, seed: int) -> tuple[float, float]:
        t = time.perf_counter()
        torch.manual_seed(seed)  # initial weights; seed 0 is the supernet's
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          seed=seed, device="cpu")  # fmt: skip
        shape = space.arch_input_shape(arch, "fashion-mnist")
        model = fit(space.build(arch, "fashion-mnist"), train, shape, cfg)
        return evaluate(model, val, shape, device="cpu"), time.perf_counter() - t

    seeds = [args.seed + i for i in range(args.standalone_seeds)]
    for seed in seeds:  # every subnet with one seed before the next seed: partial runs help
        for i, arch in enumerate(archs):
            rec = results["subnets"].setdefault(arch.key, {})
            rec["macs_m"] = analytic_counts(space, arch, "fashion-mnist").macs / 1e6
            if "inherited" not in rec:
                t = time.perf_counter()
                net, _ = subnet_from_checkpoint(
                    ckpt, arch, data=args.data, calib_images=args.calib_images, device="cpu"
                )
                shape = space.arch_input_shape(arch, "fashion-mnist")
                rec["inherited"] = evaluate(net, val, shape, device="cpu")
                rec["inherited_s"] = time.perf_counter() - t
                save()
            done = rec.setdefault("standalone_by_seed", {})
            if str(seed) not in done and args.reuse_standalone is not None:
                other = json.loads(args.reuse_standalone.read_text())["subnets"].get(arch.key, {})
                if str(seed) in other.get("standalone_by_seed", {}):
                    done[str(seed)] = other["standalone_by_seed"][str(seed)]
                    rec["standalone"] = float(np.mean(list(done.values())))
                    rec["standalone_from"] = str(args.reuse_standalone)
                    save()
            if str(seed) not in done:
                done[str(seed)], rec[f"standalone_s_seed{seed}"] = standalone(arch, seed)
                rec["standalone"] = float(np.mean(list(done.values())))
                save()
            log(f"seed {seed} subnet {i + 1}/{len(archs)} {rec['macs_m']:.1f}M MACs: inherited "
                f"{rec['inherited']:.2f}%, stand-alone {done[str(seed)]:.2f}% ({arch.key})")  # fmt: skip

    keys = [a.key for a in archs]
    inh = [results["subnets"][k]["inherited"] for k in keys]
    alone = [results["subnets"][k]["standalone"] for k in keys]
    results["kendall_tau"] = float(kendalltau(inh, alone).statistic)
    results["spearman"] = float(spearmanr(inh, alone).statistic)
    results["standalone_reference"] = f"mean over seeds {seeds}"
    if len(seeds) > 1:  # how well one stand-alone seed ranks like another: the ceiling
        by = [[results["subnets"][k]["standalone_by_seed"][str(s)] for k in keys] for s in seeds]
        results["seed_to_seed_tau"] = float(kendalltau(by[0], by[1]).statistic)
        results["kendall_tau_per_seed"] = {
            str(s): float(kendalltau(inh, b).statistic) for s, b in zip(seeds, by, strict=True)
        }
        log(f"stand-alone seed {seeds[0]} vs {seeds[1]}: tau {results['seed_to_seed_tau']:.3f}")
    save()
    log(f"Kendall tau {results['kendall_tau']:.3f}, Spearman {results['spearman']:.3f}")
    print("| MACs (M) | inherited % | stand-alone % | architecture |")
    print("|---:|---:|---:|---|")
    for k in sorted(keys, key=lambda k: results["subnets"][k]["macs_m"]):
        r = results["subnets"][k]
        print(f"| {r['macs_m']:.1f} | {r['inherited']:.2f} | {r['standalone']:.2f} | `{k}` |")


if __name__ == "__main__":
    main()
