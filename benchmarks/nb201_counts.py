"""Check the NB201 builder against the NB201 table: params and FLOPs of every architecture
(15,625) on every dataset (3), counted by `hwnas.models.nb201.count_flops` /
`count_params`; prints the maximum relative errors.

Two modes:
- `cells` (default, ~5 CPU-minutes): every network is the builder's skeleton (stem,
  reduction blocks, head) plus 5 cells per stage, so its counts are the skeleton's (one
  all-`none` network per dataset, built and counted) plus 5x the counts of the builder's
  `InferCell` for that genotype at each stage's channels and resolution (built and counted
  for every genotype). `--verify N` first checks that this sum equals the count of the
  whole built network for N random architectures.
- `full` (~35 CPU-minutes): builds and counts all 46,875 whole networks.

    PYTHONPATH=. python benchmarks/nb201_counts.py [--mode cells|full] [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator

import numpy as np
import torch

from hwnas.models.nb201 import InferCell, count_flops, count_params
from hwnas.spaces import get_space
from hwnas.spaces.nb201 import cell
from hwnas.tabular.nb201 import load_frame

SPACE = get_space("nb201")

OP_COLUMNS = ("op_1_0", "op_2_0", "op_2_1", "op_3_0", "op_3_1", "op_3_2")
N_CELLS = 5
STAGE_CHANNELS = (16, 32, 64)


def _cell_counts(ops: list[int], resolution: int) -> tuple[float, float]:
    """(params M, FLOPs M) of the 5 x 3 cells of one genotype at a given input resolution."""
    params = flops = 0.0
    for stage, channels in enumerate(STAGE_CHANNELS):
        module = InferCell(cell(ops), channels)
        side = resolution >> stage
        params += N_CELLS * count_params(module)
        flops += N_CELLS * count_flops(module, (channels, side, side))
    return params, flops


def _counts(
    mode: str, ops: list[int], skeleton: dict[str, tuple[float, float]]
) -> Iterator[tuple[str, float, float]]:
    cell_cache: dict[int, tuple[float, float]] = {}
    for ds in SPACE.datasets:
        shape = SPACE.input_shape(ds)
        if mode == "full":
            model = SPACE.build(SPACE.make(ops), ds)
            yield ds, count_params(model), count_flops(model, shape)
            continue
        side = shape[1]
        if side not in cell_cache:
            cell_cache[side] = _cell_counts(ops, side)
        cp, cf = cell_cache[side]
        sp, sf = skeleton[ds]
        yield ds, sp + cp, sf + cf


def _skeletons() -> dict[str, tuple[float, float]]:
    """Counts of the all-`none` networks minus their (parameter-free, FLOP-free) cells."""
    out = {}
    for ds in SPACE.datasets:
        shape = SPACE.input_shape(ds)
        model = SPACE.build(SPACE.make([0] * 6), ds)
        cp, cf = _cell_counts([0] * 6, shape[1])
        out[ds] = (count_params(model) - cp, count_flops(model, shape) - cf)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mode", choices=("cells", "full"), default="cells")
    parser.add_argument("--limit", type=int, default=None, help="check only the first N archs")
    parser.add_argument(
        "--verify",
        type=int,
        default=20,
        help="cells mode: whole networks to compare with the skeleton + cells sum first",
    )
    parser.add_argument("--json", default=None, help="write the summary here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # counts depend on shapes only: skip the random weight init, half the build time
    torch.nn.Conv2d.reset_parameters = lambda self: None  # type: ignore[method-assign]
    torch.nn.Linear.reset_parameters = lambda self: None  # type: ignore[method-assign]
    frame = load_frame()
    if args.limit is not None:
        frame = frame.iloc[: args.limit]
    all_ops = frame[list(OP_COLUMNS)].to_numpy(dtype=int).tolist()
    skeleton = _skeletons()
    start = time.perf_counter()
    verify_gap = 0.0
    if args.mode == "cells":
        rng = np.random.default_rng(0)
        for i in rng.choice(len(all_ops), size=min(args.verify, len(all_ops)), replace=False):
            for (ds, p1, f1), (_, p2, f2) in zip(
                _counts("cells", all_ops[i], skeleton), _counts("full", all_ops[i], skeleton)
            ):
                verify_gap = max(verify_gap, abs(p1 - p2) / p2, abs(f1 - f2) / f2)
    worst: dict[str, tuple[float, int]] = {}
    for n, (index, ops) in enumerate(zip(frame["arch_index"].tolist(), all_ops)):
        if n % 1000 == 0:
            print(
                f"{n}/{len(frame)} {time.perf_counter() - start:.0f}s", file=sys.stderr, flush=True
            )
        row = frame.iloc[n]
        for ds, params, flops in _counts(args.mode, ops, skeleton):
            for kind, value in (("params", params), ("flops", flops)):
                ref = float(row[f"{ds}_{kind}_M"])
                err = abs(value - ref) / ref
                key = f"{ds}_{kind}"
                if err >= worst.get(key, (-1.0, 0))[0]:
                    worst[key] = (err, int(index))
    summary = {
        "mode": args.mode,
        "archs": len(frame),
        "datasets": list(SPACE.datasets),
        "seconds": round(time.perf_counter() - start, 1),
        "cells_vs_whole_network_max_gap": verify_gap if args.mode == "cells" else None,
        "max_relative_error": {k: {"error": e, "arch_index": i} for k, (e, i) in worst.items()},
        "overall_max_relative_error": max(e for e, _ in worst.values()),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=2)


if __name__ == "__main__":
    main()
