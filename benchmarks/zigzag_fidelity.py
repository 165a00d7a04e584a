"""Fidelity and cost of `latency@zigzag:ACCEL` (issue 19): one command, resumable.

1. ZigZag's own figure reproduced through hwnas: ZigZag's API on its bundled ResNet-18
   ONNX (whole workload) against hwnas's per-layer, cached path on the same file.
2. Over N NB201 cells (seeded sample): `latency@zigzag:ACCEL` against HW-NAS-Bench's
   published Eyeriss latency (`latency@eyeriss`), Spearman and Kendall; distinct layer
   shapes per cell and over all cells; seconds per cell with a cold and a warm cache.
3. Distinct layer shapes per mbv3 subnet (ONNX layers only, nothing evaluated).

Results go to --out as JSON after every cell; a rerun resumes (cells done are kept, and
the layer cache in --out/cache spares every layer seen).

    PYTHONPATH=. python benchmarks/zigzag_fidelity.py --out /tmp/zigzag --cells 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def resnet18(out: dict[str, Any], accel_name: str, dump: Path) -> None:
    import onnx
    import zigzag
    from zigzag.api import get_hardware_performance_zigzag

    from hwnas.cost.zigzag import load_accelerator, network_cost, onnx_layers
    from hwnas.cost.zigzag_cache import LayerCache, quiet_zigzag

    inputs = Path(zigzag.__file__).parent / "inputs"
    model = onnx.load(str(inputs / "workload" / "resnet18.onnx"), load_external_data=False)
    start = time.perf_counter()
    with quiet_zigzag():
        energy, cycles, _ = get_hardware_performance_zigzag(
            str(inputs / "workload" / "resnet18.onnx"),
            str(inputs / "hardware" / f"{accel_name}.yaml"),
            str(inputs / "mapping" / f"{accel_name}.yaml"),
            dump_folder=str(dump / "zigzag-api"),
            loma_show_progress_bar=False,
        )
    api_s = time.perf_counter() - start
    cache = LayerCache(dump / "resnet18-cache.sqlite")
    start = time.perf_counter()
    # as ZigZag's ONNX parser reads it: no pooling
    ours = network_cost(onnx_layers(model, pooling=False), load_accelerator(accel_name), cache)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    network_cost(onnx_layers(model, pooling=False), load_accelerator(accel_name), cache)
    warm_s = time.perf_counter() - start
    pooled = network_cost(onnx_layers(model), load_accelerator(accel_name), cache)
    out["resnet18"] = {
        "accelerator": accel_name,
        "zigzag_api": {"energy_pj": energy, "cycles": cycles, "seconds": api_s},
        "hwnas_without_pooling": {**ours, "seconds_cold": ours_s, "seconds_warm": warm_s},
        "hwnas_with_pooling": pooled,
        "equal": bool(energy == ours["energy_pj"] and cycles == ours["cycles"])
        or (abs(energy / ours["energy_pj"] - 1) < 1e-9 and abs(cycles / ours["cycles"] - 1) < 1e-9),
    }


def nb201(out: dict[str, Any], path: Path, n: int, seed: int, accel: str) -> None:
    import hwnas
    from hwnas.metrics import Metric
    from hwnas.sources import EvalContext

    space = hwnas.get_space("nb201")
    ctx = EvalContext(space, "cifar10")
    target = f"zigzag:{accel}"
    sources = {
        base: hwnas.get_target(target).resolve(ctx, Metric(base, target))
        for base in ("latency", "energy")
    }
    table = hwnas.get_target("eyeriss").resolve(ctx, Metric("latency", "eyeriss"))
    rng = np.random.default_rng(seed)
    keys: list[str] = []
    while len(keys) < n:
        key = space.sample(rng).key
        if key not in keys:
            keys.append(key)
    cells = out.setdefault("nb201", {"target": target, "seed": seed, "cells": {}})["cells"]
    for i, key in enumerate(keys):
        if key in cells:
            continue
        arch = space.parse(key)
        start = time.perf_counter()
        lat = sources["latency"].evaluate([arch])[0]
        energy = sources["energy"].evaluate([arch])[0]
        seconds = time.perf_counter() - start
        cells[key] = {
            "latency_ms": lat.value,
            "energy_mj": energy.value,
            "eyeriss_table_ms": table.evaluate([arch])[0].value,
            "layers": lat.provenance["layers"],
            "distinct_layers": lat.provenance["distinct_layers"],
            "layers_evaluated_now": lat.provenance["layers_evaluated_now"],
            "seconds": seconds,
        }
        out["load_average"] = os.getloadavg()
        _write(path, out)
        print(
            f"{i + 1}/{n} {seconds:.1f}s new layers {cells[key]['layers_evaluated_now']}",
            flush=True,
        )
    summarise(out)
    # a cell whose layers are all cached costs its build and ONNX export (once for both
    # metrics): timed on 20 further cells, fresh to this process
    times = []
    for _ in range(20):
        arch = space.sample(rng)
        start = time.perf_counter()
        sources["latency"].evaluate([arch])
        sources["energy"].evaluate([arch])
        times.append(time.perf_counter() - start)
    out["nb201"]["summary"]["seconds_per_cached_cell_median"] = float(np.median(times))
    out["nb201"]["summary"]["load_average_cached_timing"] = os.getloadavg()
    _write(path, out)


def summarise(out: dict[str, Any]) -> None:
    from scipy.stats import kendalltau, spearmanr

    by_key = out["nb201"]["cells"]
    cells = list(by_key.values())
    # ZigZag prices no pooling (its ONNX parser skips AveragePool); HW-NAS-Bench's Eyeriss does
    pool_free = [c for k, c in by_key.items() if "avg_pool" not in k]
    table = [c["eyeriss_table_ms"] for c in cells]
    ours = [c["latency_ms"] for c in cells]
    energy = [c["energy_mj"] for c in cells]
    warm = [c["seconds"] for c in cells if c["layers_evaluated_now"] == 0]
    out["nb201"]["summary"] = {
        "cells": len(cells),
        "spearman_latency_vs_table": float(spearmanr(ours, table)[0]),
        "kendall_latency_vs_table": float(kendalltau(ours, table)[0]),
        "spearman_energy_vs_table_latency": float(spearmanr(energy, table)[0]),
        "cells_without_avg_pool": len(pool_free),
        "spearman_latency_vs_table_without_avg_pool": float(
            spearmanr(
                [c["latency_ms"] for c in pool_free], [c["eyeriss_table_ms"] for c in pool_free]
            )[0]
        ),
        "distinct_layers_per_cell": [
            int(min(c["distinct_layers"] for c in cells)),
            int(max(c["distinct_layers"] for c in cells)),
        ],
        "distinct_layers_all_cells": int(sum(c["layers_evaluated_now"] for c in cells)),
        "seconds_cold_total": float(sum(c["seconds"] for c in cells)),
        "seconds_per_cell_warm_median": float(np.median(warm)) if warm else None,
    }


def mbv3_shapes(out: dict[str, Any], n: int, seed: int) -> None:
    import hwnas
    from hwnas.cost.zigzag import layer_key, onnx_layers
    from hwnas.models.onnx import to_onnx

    result = {}
    for name in ("mbv3", "mbv3-tiny"):
        space = hwnas.get_space(name)
        dataset = "imagenet" if name == "mbv3" else "cifar10"
        rng = np.random.default_rng(seed)
        seen: set[str] = set()
        per = []
        for _ in range(n):
            arch = space.sample(rng)
            net = space.build(arch, dataset)
            layers = onnx_layers(to_onnx(net, space.arch_input_shape(arch, dataset)))
            keys = {layer_key(layer) for layer in layers}
            per.append((len(layers), len(keys)))
            seen |= keys
        result[name] = {
            "dataset": dataset,
            "subnets": n,
            "layers_per_subnet": [min(p[0] for p in per), max(p[0] for p in per)],
            "distinct_per_subnet": [min(p[1] for p in per), max(p[1] for p in per)],
            "distinct_over_all": len(seen),
        }
    out["mbv3_layer_shapes"] = result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--accelerator", default="eyeriss_like")
    parser.add_argument("--subnets", type=int, default=10, help="mbv3 subnets whose shapes count")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HWNAS_CACHE_DIR", str(args.out / "cache"))
    path = args.out / "results.json"
    out = json.loads(path.read_text()) if path.exists() else {}
    out["host"] = {"machine": platform.node(), "python": sys.version.split()[0]}
    if "resnet18" not in out:
        resnet18(out, "tpu_like", args.out)
        _write(path, out)
        print(json.dumps(out["resnet18"], indent=1), flush=True)
    if "mbv3_layer_shapes" not in out:
        mbv3_shapes(out, args.subnets, args.seed)
        _write(path, out)
    nb201(out, path, args.cells, args.seed, args.accelerator)
    print(json.dumps({k: out[k] for k in ("mbv3_layer_shapes",)}, indent=1))
    print(json.dumps(out["nb201"]["summary"], indent=1))


if __name__ == "__main__":
    main()
