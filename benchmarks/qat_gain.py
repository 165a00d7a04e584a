"""What quantisation-aware fine-tuning (`hwnas.models.qat`) adds over post-training
quantisation, and over spending the same steps on float fine-tuning: a small CNN trained on
scikit-learn's digits, then at 3 and 4-bit weights (8-bit activations) for several seeds

* PTQ: `fake_quantise` of the float network;
* float + PTQ: the same steps, optimiser and batches as QAT with nothing quantised
  (`quantisation_aware` at 32 bits), then PTQ;
* QAT: `quantisation_aware` at the bits.

Validation accuracy of the fake-quantised network (%) on 397 held-out digits. About a
minute on one core: `PYTHONPATH=$PWD python benchmarks/qat_gain.py [--steps 50]`."""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from hwnas.models.qat import QatConfig, quantisation_aware
from hwnas.models.quant import fake_quantise
from hwnas.spaces.quant import BlockBits


def small_cnn() -> nn.Module:
    def block(c_in: int, c_out: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
        )

    return nn.Sequential(
        block(1, 16), block(16, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--float-steps", type=int, default=600)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_digits()
    x = torch.tensor(data.images[:, None] / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target)
    rows = []
    for seed in range(args.seeds):
        order = np.random.default_rng(seed).permutation(len(y))
        train, val = order[:1400], order[1400:]
        torch.manual_seed(seed)
        net = small_cnn().train()
        opt = torch.optim.Adam(net.parameters(), 1e-2)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.float_steps)
        rng = np.random.default_rng(seed)
        for _ in range(args.float_steps):
            idx = torch.from_numpy(rng.choice(train, 64))
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()

        def accuracy(model: nn.Module) -> float:
            with torch.no_grad():
                hit = model(x[val]).argmax(1) == y[val]  # noqa: B023 - evaluated here
            return round(100.0 * float(hit.float().mean()), 2)

        calib, tx, ty = x[train[:256]], x[train], y[train]
        config = QatConfig(args.steps, seed=seed)
        for w in (3, 4):
            bits = [BlockBits("all", "", w, 8)]
            tuned_float, _ = quantisation_aware(
                net, [BlockBits("all", "", 32, 32)], calib, tx, ty, config
            )
            tuned, record = quantisation_aware(net, bits, calib, tx, ty, config)
            rows.append(
                {
                    "seed": seed,
                    "w_bits": w,
                    "float": accuracy(net),
                    "ptq": accuracy(fake_quantise(net, bits, calib)),
                    "float_finetune_then_ptq": accuracy(fake_quantise(tuned_float, bits, calib)),
                    "qat": accuracy(fake_quantise(tuned, bits, calib)),
                    "qat_seconds": record["seconds"],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    for w in (3, 4):
        mine = [r for r in rows if r["w_bits"] == w]
        means = {
            k: round(statistics.mean(r[k] for r in mine), 2)
            for k in ("float", "ptq", "float_finetune_then_ptq", "qat")
        }
        print(f"w{w}a8 mean over {len(mine)} seeds, {args.steps} steps: {json.dumps(means)}")


if __name__ == "__main__":
    main()
