"""Supernet ranking benchmark on Fashion-MNIST: training throughput and time per epoch,
then the Kendall tau, Spearman rho and top-k agreement between each subnet's inherited-weight
accuracy (after batch-norm recalibration) and its stand-alone accuracy (trained from scratch
with `hwnas.training.fit`, the same schedule), over subnets spread over the space by MACs
(the smallest and the largest included). With two or more stand-alone seeds the
seed-to-seed tau says how far the reference itself ranks reliably.

    PYTHONPATH=. python benchmarks/supernet.py --space mbv3-tiny --standalone-seeds 2 \
        --jobs 2 --out benchmarks/results/supernet_tiny

Results go to OUT/results.json after every subnet (a rerun skips what is done) and the
supernet checkpoint to OUT/supernet.safetensors (resumed when present). `--jobs N` trains the
stand-alone baselines in N processes beside the supernet (for a CPU with cores to spare: on
an H200 one stand-alone run at batch 128 already keeps the GPU busy); `--device cuda` puts
every training and evaluation on the GPU."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pick_subnets(space: Any, dataset: str, n: int, seed: int) -> list[Any]:
    """Smallest, largest and n-2 other random architectures at evenly spaced MAC quantiles
    of a random sample of 300."""
    from hwnas.cost.targets import analytic_counts
    from hwnas.supernet import largest_arch, smallest_arch

    rng = np.random.default_rng(seed)
    ends = [smallest_arch(space), largest_arch(space)]
    pool = {a.key: a for a in (space.sample(rng) for _ in range(300))}
    archs = [a for key, a in pool.items() if key not in {e.key for e in ends}]
    macs = np.array([analytic_counts(space, a, dataset).macs for a in archs])
    order = np.argsort(macs)
    picks = [archs[order[int(q)]] for q in np.linspace(0, len(archs) - 1, n - 2)]
    return [ends[0], *picks, ends[1]]


def top_k(inherited: list[float], standalone: list[float], k: int) -> float:
    """The share of the stand-alone top k that the inherited accuracies also put in their
    top k (1.0: the supernet finds the same best k)."""
    best = set(np.argsort(standalone)[::-1][:k].tolist())
    return len(best & set(np.argsort(inherited)[::-1][:k].tolist())) / k


def throughput(results: dict[str, Any], key: str, seeds: list[int], images: int) -> dict:
    """Training images/s and seconds per epoch of one subnet trained alone (its stand-alone
    runs, which include one pass over the validation images)."""
    rec = results["subnets"].get(key, {})
    secs = [rec[f"standalone_s_seed{s}"] for s in seeds if f"standalone_s_seed{s}" in rec]
    if not secs:
        return {}
    epochs = int(results["args"]["epochs"])
    med = float(np.median(secs))
    return {"arch": key, "images_per_s": images / med, "seconds_per_epoch": med / epochs}


def host_info() -> dict[str, Any]:
    import os
    import platform

    import torch

    return {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "load_average_at_end": os.getloadavg(),
    }


def standalone_accuracy(job: dict[str, Any]) -> tuple[str, int, float, float]:
    """Train one subnet from scratch with the benchmark's schedule and score it on the
    benchmark's validation images: (arch key, seed, accuracy %, seconds). Takes plain values
    so that it runs the same in this process or in a worker."""
    import torch

    from hwnas.spaces import get_space
    from hwnas.supernet import SupernetConfig, training_subset
    from hwnas.training import TrainConfig, evaluate, fit

    t = time.perf_counter()
    torch.set_num_threads(job["threads"])
    config = SupernetConfig.from_dict(job["config"])
    ds, train = training_subset(config)
    val = ds.val.take(np.asarray(job["val_index"]))
    space = get_space(job["space"])
    arch = space.parse(job["arch"])
    torch.manual_seed(job["seed"])  # initial weights; seed 0 is the supernet's
    cfg = TrainConfig(epochs=job["epochs"], batch_size=config.batch_size, lr=config.lr,
                      weight_decay=config.weight_decay, optimizer=config.optimizer,
                      augment=config.augment,
                      seed=job["seed"], device=job["device"])  # fmt: skip
    shape = space.arch_input_shape(arch, "fashion-mnist")
    model = fit(space.build(arch, "fashion-mnist"), train, shape, cfg)
    acc = evaluate(model, val, shape, device=job["device"])
    return arch.key, job["seed"], acc, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/supernet"))
    ap.add_argument("--space", default="mbv3-tiny", help="mbv3-tiny (28-32 px layout), mbv3 or vit")
    ap.add_argument(
        "--restrict", action="append", default=[], metavar="DIM=V1,V2",
        help="train and rank a sub-space only (as `hwnas supernet train --restrict`)",
    )  # fmt: skip
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--train-images", type=int, default=1000)
    ap.add_argument("--val-images", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument(
        "--supernet-epochs", type=int, default=None,
        help="the supernet's epochs (default: --epochs, the stand-alone schedule)",
    )  # fmt: skip
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--optimizer", default=None, help="sgd or adamw (default: the space's)")
    ap.add_argument("--lr", type=float, default=None, help="default: the optimiser's")
    ap.add_argument("--weight-decay", type=float, default=None, help="default: the optimiser's")
    ap.add_argument("--n-random", type=int, default=2)
    ap.add_argument("--top-k", type=int, nargs="+", default=[3, 5])
    ap.add_argument("--subnets", type=int, default=10)
    ap.add_argument("--calib-images", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument(
        "--jobs", type=int, default=1,
        help="train the stand-alone baselines in this many processes, beside the supernet",
    )  # fmt: skip
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
    from hwnas.spaces._restrict import parse_restrict
    from hwnas.supernet import (
        SupernetConfig,
        subnet_from_checkpoint,
        supernet_space,
        train_supernet,
        training_subset,
    )
    from hwnas.training import evaluate

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

    restrict = parse_restrict(args.restrict) or None
    config = SupernetConfig.for_space(
        args.space, dataset="fashion-mnist", data=args.data,
        epochs=args.supernet_epochs or args.epochs, batch_size=args.batch_size,
        optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay, seed=args.seed,
        n_random=args.n_random, train_images=args.train_images, distill=not args.no_distill,
        restrict=restrict,
    )  # fmt: skip
    space = supernet_space(args.space, restrict)
    ds, train_split = training_subset(config)
    n_imgs_alone = len(train_split) * args.epochs
    chosen = np.random.default_rng(args.seed).permutation(len(ds.val))[: args.val_images]
    val_index = np.sort(chosen)
    val = ds.val.take(val_index)
    archs = pick_subnets(space, "fashion-mnist", args.subnets, args.seed)
    seeds = [args.seed + i for i in range(args.standalone_seeds)]
    reused = (
        json.loads(args.reuse_standalone.read_text())["subnets"] if args.reuse_standalone else {}
    )

    def set_reference(rec: dict[str, Any]) -> None:
        """The stand-alone reference: the mean over this run's seeds that are done."""
        done = [
            rec["standalone_by_seed"][str(s)] for s in seeds if str(s) in rec["standalone_by_seed"]
        ]
        if done:
            rec["standalone"] = float(np.mean(done))

    for arch in archs:
        rec = results["subnets"].setdefault(arch.key, {})
        rec["macs_m"] = analytic_counts(space, arch, "fashion-mnist").macs / 1e6
        done = rec.setdefault("standalone_by_seed", {})
        for seed in seeds:
            other = reused.get(arch.key, {}).get("standalone_by_seed", {})
            if str(seed) not in done and str(seed) in other:
                done[str(seed)] = other[str(seed)]
                rec["standalone_from"] = str(args.reuse_standalone)
        set_reference(rec)
    save()
    # every subnet with one seed before the next seed: a partial run still ranks
    jobs = [
        {"config": config.as_dict(), "val_index": val_index.tolist(), "arch": arch.key,
         "space": args.space, "epochs": args.epochs, "seed": seed, "device": args.device,
         "threads": args.threads}
        for seed in seeds for arch in archs
        if str(seed) not in results["subnets"][arch.key]["standalone_by_seed"]
    ]  # fmt: skip

    def record(key: str, seed: int, acc: float, seconds: float) -> None:
        rec = results["subnets"][key]
        rec["standalone_by_seed"][str(seed)] = acc
        rec[f"standalone_s_seed{seed}"] = seconds
        set_reference(rec)
        save()
        log(f"stand-alone seed {seed}, {rec['macs_m']:.1f}M MACs: {acc:.2f}% "
            f"({seconds:.0f} s, {key})")  # fmt: skip

    pool = None
    pending: list[Future[tuple[str, int, float, float]]] = []
    if args.jobs > 1 and jobs:  # spawn: CUDA cannot be used in forked children
        pool = ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"))
        pending = [pool.submit(standalone_accuracy, job) for job in jobs]
        log(f"{len(jobs)} stand-alone trainings started in {args.jobs} processes")

    def collect(wait: bool) -> None:
        """Save the stand-alone results that are in (all of them with `wait`), as they come:
        a run stopped later keeps them. A failed training is logged; the others count."""
        for future in as_completed(list(pending)) if wait else [f for f in pending if f.done()]:
            pending.remove(future)
            try:
                record(*future.result())
            except Exception as exc:  # noqa: BLE001 - one subnet's failure, reported
                log(f"stand-alone training failed: {type(exc).__name__}: {exc}")

    try:
        ckpt = args.out / "supernet.safetensors"
        log(
            f"supernet: {args.train_images} images x {config.epochs} epochs, batch {args.batch_size}"
        )
        last = [time.perf_counter()]

        def on_step(done: int, total: int, loss: float) -> None:
            if done % 20 == 0 or done == total:
                now = time.perf_counter()
                log(f"  step {done}/{total} loss {loss:.3f} ({now - last[0]:.1f} s since last log)")
                last[0] = now
                collect(wait=False)

        meta = train_supernet(config, ckpt, resume=True, device=args.device, on_step=on_step)
        n_imgs = meta["train_images"]
        train_s = meta["elapsed_s"]
        results["supernet"] = {
            "train_images": n_imgs,
            "epochs": config.epochs,
            "seconds": train_s,
            "seconds_per_epoch": train_s / config.epochs,
            "images_per_s": n_imgs * config.epochs / train_s,
            "subnet_passes_per_step": 2 + args.n_random,
            "device": meta["device"],
            "stand_alone_jobs_beside_it": args.jobs if pool else 0,
            "history": meta["history"],
        }
        save()
        log(f"supernet done: {results['supernet']['images_per_s']:.2f} images/s, "
            f"{train_s / config.epochs:.0f} s/epoch")  # fmt: skip

        for arch in archs:
            rec = results["subnets"][arch.key]
            if "inherited" not in rec:
                t = time.perf_counter()
                net, _ = subnet_from_checkpoint(
                    ckpt, arch, data=args.data, calib_images=args.calib_images, device=args.device
                )
                shape = space.arch_input_shape(arch, "fashion-mnist")
                rec["inherited"] = evaluate(net, val, shape, device=args.device)
                rec["inherited_s"] = time.perf_counter() - t
                save()
            log(f"inherited {rec['macs_m']:.1f}M MACs: {rec['inherited']:.2f}% ({arch.key})")
            collect(wait=False)

        if pool is not None:
            collect(wait=True)
        else:
            for job in jobs:
                record(*standalone_accuracy(job))
    finally:  # an error or a kill leaves no queued training behind
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    keys = [a.key for a in archs if "standalone" in results["subnets"][a.key]]
    if len(keys) < len(archs):
        log(f"only {len(keys)} of {len(archs)} subnets have a stand-alone accuracy")
    inh = [results["subnets"][k]["inherited"] for k in keys]
    alone = [results["subnets"][k]["standalone"] for k in keys]
    results["kendall_tau"] = float(kendalltau(inh, alone).statistic)
    results["spearman"] = float(spearmanr(inh, alone).statistic)
    results["top_k_agreement"] = {str(k): top_k(inh, alone, k) for k in args.top_k}
    results["standalone_largest"] = throughput(results, archs[-1].key, seeds, n_imgs_alone)
    results["compute"] = {
        "supernet_image_passes": results["supernet"]["train_images"]
        * results["supernet"]["epochs"] * (2 + args.n_random),
        "standalone_image_passes_per_seed": n_imgs_alone * len(archs),
        "note": "one pass = one image through one subnet, forward and backward",
    }  # fmt: skip
    results["host"] = host_info()
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
    print(f"top-k agreement {results['top_k_agreement']}; largest subnet alone "
          f"{results['standalone_largest']}")  # fmt: skip
    for k in sorted(keys, key=lambda k: results["subnets"][k]["macs_m"]):
        r = results["subnets"][k]
        print(f"| {r['macs_m']:.1f} | {r['inherited']:.2f} | {r['standalone']:.2f} | `{k}` |")


if __name__ == "__main__":
    main()
