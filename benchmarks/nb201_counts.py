"""Check the NB201 builder against the NB201 table: params and FLOPs of every architecture
(15,625) on every dataset (3), built as torch networks and counted by
`hwnas.models.nb201.count_flops` / `count_params`; prints the maximum relative errors.

    PYTHONPATH=. python benchmarks/nb201_counts.py [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from hwnas.models.nb201 import DATASETS, build, count_flops, count_params
from hwnas.tabular.nb201 import load_frame

OP_COLUMNS = ("op_1_0", "op_2_0", "op_2_1", "op_3_0", "op_3_1", "op_3_2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="check only the first N archs")
    parser.add_argument("--json", default=None, help="write the summary here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    frame = load_frame()
    if args.limit is not None:
        frame = frame.iloc[: args.limit]
    worst: dict[str, tuple[float, int]] = {}
    start = time.perf_counter()
    for row in frame.itertuples(index=False):
        ops = [int(getattr(row, c)) for c in OP_COLUMNS]
        for ds, (shape, _) in DATASETS.items():
            model = build(ops, ds)
            for kind, value in (
                ("params", count_params(model)),
                ("flops", count_flops(model, shape)),
            ):
                ref = float(getattr(row, f"{ds}_{kind}_M"))
                err = abs(value - ref) / ref
                key = f"{ds}_{kind}"
                if err >= worst.get(key, (-1.0, 0))[0]:
                    worst[key] = (err, int(row.arch_index))
    summary = {
        "archs": len(frame),
        "datasets": list(DATASETS),
        "seconds": round(time.perf_counter() - start, 1),
        "max_relative_error": {k: {"error": e, "arch_index": i} for k, (e, i) in worst.items()},
        "overall_max_relative_error": max(e for e, _ in worst.values()),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=2)


if __name__ == "__main__":
    main()
