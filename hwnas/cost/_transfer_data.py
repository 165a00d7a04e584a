"""What few-shot latency transfer learns from: the pretraining pool (the shipped device
tables of nb201 and fbnet, or metrics the user names) and the feature map of an
architecture. Split from `hwnas.cost.transfer` so that the model stays one job."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from hwnas.errors import HwnasError, SpecError, UnknownNameError
from hwnas.metrics import parse_metric
from hwnas.sources import EvalContext, MetricSource
from hwnas.spaces import Architecture, SearchSpace

FBNET_SAMPLES = "fbnet_cifar100_help_samples_latency.csv.gz"
#: a GPU column with its batch size: `titan_rtx_256` -> titan_rtx; its other batch sizes
#: are the same chip, so leaving a device out leaves them out too
_GPU_BATCH = re.compile(r"^(?P<gpu>1080ti|2080ti|titan_rtx|titanx|titanxp)_(1|32|64|256)$")
#: features per space beyond the constant: nb201 latency depends on which edges are live
#: (a dead edge computes nothing on some toolchains) and a cell with no live path is pruned
#: to ~0 ms on raspi4 and pixel3, which no sum over edges expresses
ENCODINGS: dict[str, tuple[str, ...]] = {"nb201": ("onehot", "live", "dead")}


@dataclass
class Pool:
    """The pretraining data: `values[i, j]` is pool metric `names[j]` on architecture
    `keys[i]`. `features`: the values are known for any architecture (a table of the whole
    space, a counter, a profile), so they are features of the model too, not only its prior."""

    names: list[str]
    keys: list[str]
    values: np.ndarray
    features: bool
    source: str
    excluded: list[str] = field(default_factory=list)


def _device(name: str) -> str:
    return name.removeprefix("latency@")


def siblings(device: str, names: Sequence[str]) -> list[str]:
    """`device` and, for a GPU column, its other batch sizes among `names`."""
    m = _GPU_BATCH.match(device)
    if m is None:
        return [device]
    return [n for n in names if (s := _GPU_BATCH.match(n)) and s["gpu"] == m["gpu"]]


def _exclude(pool: Pool, exclude: Sequence[str]) -> Pool:
    devices = [_device(n) for n in pool.names]
    dropped: list[str] = []
    for name in exclude:
        device = _device(name.strip())
        family = [d for d in siblings(device, devices) if d in devices]
        if not family:
            raise UnknownNameError("device to exclude", device, devices, "from the pool")
        dropped += [d for d in family if d not in dropped]
    keep = [i for i, d in enumerate(devices) if d not in dropped]
    if len(keep) < 2:
        raise SpecError("excluding those devices leaves fewer than 2 in the pool")
    return Pool(
        [pool.names[i] for i in keep],
        pool.keys,
        pool.values[:, keep],
        pool.features,
        pool.source,
        dropped,
    )


def shipped_pool(space: SearchSpace, exclude: Sequence[str] = ()) -> Pool:
    """The device columns shipped for `space`: NB201 (15,625 cells x 27 device/batch
    configurations) or FBNet (HELP's 5,000 samples x 27)."""
    import pandas as pd

    if space.name == "nb201":
        from hwnas.tabular.nb201 import DEVICES, load_frame

        frame = load_frame()
        pool = Pool(
            [f"latency@{d.name}" for d in DEVICES],
            frame["arch_str"].tolist(),
            frame[[d.column for d in DEVICES]].to_numpy(dtype=np.float64),
            True,
            "hwnas/data/nb201: HW-NAS-Bench (4 devices) + HELP (23), CIFAR-10 networks",
        )
    elif space.name == "fbnet":
        path = resources.files("hwnas") / "data" / "fbnet" / FBNET_SAMPLES
        with resources.as_file(path) as p:
            frame = pd.read_csv(p)
        columns = [c for c in frame.columns if c.endswith("_latency_ms")]
        pool = Pool(
            [f"latency@{c.removesuffix('_latency_ms')}" for c in columns],
            [space.parse(s).key for s in frame["op_idx_list"]],
            frame[columns].to_numpy(dtype=np.float64),
            False,  # 5,000 samples only: the prior learns from them, features cannot
            f"hwnas/data/fbnet/{FBNET_SAMPLES}: HELP's FBNet samples, CIFAR-100 networks",
        )
    else:
        raise HwnasError(
            f"no device tables are shipped for space {space.name!r}: name the pool with "
            "--pool METRIC (e.g. --pool latency@profiles/cpu.json --pool macs)"
        )
    return _exclude(pool, exclude)


def pool_source(ctx: EvalContext, name: str) -> MetricSource:
    """The source of a pool metric: `latency@TARGET` through the targets, else a counter of
    the space's table or of the built network."""
    from hwnas.cost import get_target
    from hwnas.cost.targets import analytic_counters
    from hwnas.tabular import TABLES

    metric = parse_metric(name)
    if metric.target is not None:
        return get_target(metric.target).resolve(ctx, metric)
    counters = dict(analytic_counters(ctx))
    if ctx.space.name in TABLES:
        counters.update(TABLES.get(ctx.space.name).counters(ctx))
    if metric.base not in counters:
        raise UnknownNameError("pool metric", name, sorted(counters), "(or latency@TARGET)")
    return counters[metric.base]


def pool_values(
    space: SearchSpace, dataset: str, names: Sequence[str], archs: Sequence[Architecture]
) -> np.ndarray:
    """(len(archs), len(names)) values of the pool metrics; positive, as the model works in
    log scale."""
    ctx = EvalContext(space, dataset)
    out = np.empty((len(archs), len(names)))
    for j, name in enumerate(names):
        out[:, j] = [m.value for m in pool_source(ctx, name).evaluate(archs)]
        bad = np.flatnonzero(~(out[:, j] > 0))
        if len(bad):
            raise SpecError(
                f"pool metric {name} is {out[bad[0], j]} on {archs[bad[0]].key}: it must be a "
                "positive number (the transfer works on log values)"
            )
    return out


def metric_pool(
    space: SearchSpace, dataset: str, names: Sequence[str], n_reference: int, seed: int
) -> Pool:
    """A pool of user-named metrics over `n_reference` architectures sampled with `seed`."""
    if not names:
        raise SpecError("the pool is empty: name at least one --pool metric")
    rng = np.random.default_rng(seed)
    archs: dict[str, Architecture] = {}
    for _ in range(20 * n_reference):
        arch = space.sample(rng)
        archs.setdefault(arch.key, arch)
        if len(archs) == n_reference:
            break
    ordered = list(archs.values())
    values = pool_values(space, dataset, names, ordered)
    return Pool(
        list(names), list(archs), values, True, f"{len(ordered)} sampled {space.name} archs"
    )


def encode(
    space: SearchSpace, archs: Sequence[Architecture], encodings: Sequence[str]
) -> np.ndarray:
    """The space's encodings side by side; `dead` (nb201) marks a cell with no live path."""
    parts = []
    for kind in encodings:
        if kind == "dead":
            if space.name != "nb201":
                raise UnknownNameError(f"encoding of space {space.name!r}", kind, space.encodings)
            from hwnas.spaces.nb201 import live_genes

            parts.append(np.array([[float(not any(live_genes(a.genes)))] for a in archs]))
        else:
            parts.append(space.encode(archs, kind))
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(archs), 0))


def rank(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as Spearman's rho needs)."""
    import pandas as pd

    return pd.Series(np.asarray(x, dtype=np.float64)).rank(method="average").to_numpy()


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    ra, rb = rank(np.asarray(a)), rank(np.asarray(b))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])
