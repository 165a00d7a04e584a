"""HAT's published latency datasets (`hwnas/data/hat`, 2,000 measured SubTransformers per
task and device) as targets of the `hat` spaces: `latency@hat-raspberrypi`,
`latency@hat-xeon`, `latency@hat-titanxp`, in ms, on the task the context's dataset names.

The rows hold HAT's 10 features only (per-layer choices averaged over the layers), not the
per-layer architectures, so a SubTransformer's latency is predicted, never looked up. The
predictor is a cost model fitted at first use (numpy least squares, deterministic, cached in
the process): encoder and decoder latency separately, each linear in the operation counts
the averaged features determine (FFN and projection sizes per layer, layers, heads, encoder
layers read by the encoder-decoder attention). It beats HAT's own MLP recipe on every
table (docs/benchmarks/hat-latency.md); its 5-fold cross-validated error rides in every
value's provenance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from hwnas.cost import Target, register_target
from hwnas.cost.targets import table_classes
from hwnas.datasets.catalogue import dataset_info
from hwnas.errors import HwnasError, UnknownNameError
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces.hat import HATSpace

#: device -> what HAT measured on it
DEVICES: dict[str, str] = {
    "raspberrypi": "Raspberry Pi 4, ARM Cortex-A72 CPU",
    "xeon": "Intel Xeon E5-2640 CPU",
    "titanxp": "Nvidia TITAN Xp GPU",
}
#: (task, device) -> table file in hwnas/data/hat
TABLES: dict[tuple[str, str], str] = {
    ("wmt14.en-de", "raspberrypi"): "wmt14ende_cpu_raspberrypi_all.csv.gz",
    ("wmt14.en-de", "xeon"): "wmt14ende_cpu_xeon_all.csv.gz",
    ("wmt14.en-de", "titanxp"): "wmt14ende_gpu_titanxp_all.csv.gz",
    ("wmt14.en-fr", "raspberrypi"): "wmt14enfr_cpu_raspberrypi_all.csv.gz",
    ("wmt14.en-fr", "xeon"): "wmt14enfr_cpu_xeon_all.csv.gz",
    ("wmt14.en-fr", "titanxp"): "wmt14enfr_gpu_titanxp_all.csv.gz",
    ("wmt19.en-de", "titanxp"): "wmt19ende_gpu_titanxp_all.csv.gz",
    ("iwslt14.de-en", "titanxp"): "iwslt14deen_gpu_titanxp_all.csv.gz",
}
FEATURES: tuple[str, ...] = (
    "encoder_embed_dim",
    "encoder_layer_num",
    "encoder_ffn_embed_dim_avg",
    "encoder_self_attention_heads_avg",
    "decoder_embed_dim",
    "decoder_layer_num",
    "decoder_ffn_embed_dim_avg",
    "decoder_self_attention_heads_avg",
    "decoder_ende_attention_heads_avg",
    "decoder_arbitrary_ende_attn_avg",
)
SOURCE = (
    "HAT (Wang et al., ACL 2020), mit-han-lab/hardware-aware-transformers "
    "latency_dataset/*_all.csv @ 70e5a279, MIT (hwnas/data/hat/README.md)"
)
PREDICTOR = "hat-cost-ols"
CV_FOLDS = 5


@cache
def load_table(task: str, device: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features [n, 10] in `FEATURES` order, encoder ms, decoder ms) of one table."""
    import pandas as pd

    if (task, device) not in TABLES:
        raise UnknownNameError(
            "HAT latency table", f"{task}/{device}", [f"{t}/{d}" for t, d in TABLES]
        )
    path = resources.files("hwnas") / "data" / "hat" / TABLES[task, device]
    with resources.as_file(path) as p:
        frame = pd.read_csv(p)
    return (
        frame[list(FEATURES)].to_numpy(dtype=np.float64),
        frame["latency_mean_encoder"].to_numpy(dtype=np.float64),
        frame["latency_mean_decoder"].to_numpy(dtype=np.float64),
    )


def cost_features(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encoder and decoder design matrices from HAT's 10 features: the operation counts
    they determine (per layer the FFN is dim x FFN, the projections dim x 512, the
    encoder-decoder keys and values encoder dim x 512 per encoder layer read)."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, len(FEATURES))
    e, le, fe, he, d, ld, fd, hd, hx, a = X.T
    one = np.ones(len(X))
    encoder = np.column_stack([one, e * fe * le / 1e6, e * le / 1e3, he * le, fe * le / 1e3])
    decoder = np.column_stack(
        [
            one,
            ld,
            d * fd * ld / 1e6,
            d * ld / 1e3,
            hd * ld,
            hx * ld,
            a * ld,
            e * a * ld / 1e3,
            fd * ld / 1e3,
            d / 1e3,
        ]
    )
    return encoder, decoder


class CostModel:
    """Encoder + decoder latency, each least squares on `cost_features` (scikit-learn's
    contract: `fit` returns self, learned state ends in `_`)."""

    def fit(self, X: np.ndarray, encoder_ms: np.ndarray, decoder_ms: np.ndarray) -> CostModel:
        enc, dec = cost_features(X)
        self.encoder_coef_ = np.linalg.lstsq(enc, encoder_ms, rcond=None)[0]
        self.decoder_coef_ = np.linalg.lstsq(dec, decoder_ms, rcond=None)[0]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        enc, dec = cost_features(X)
        return np.asarray(enc @ self.encoder_coef_ + dec @ self.decoder_coef_)


def scores(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """RMSE (ms), share within +-10 % and Kendall's tau of predictions against measurements."""
    from scipy.stats import kendalltau

    predicted, measured = np.asarray(predicted), np.asarray(measured)
    return {
        "rmse_ms": float(np.sqrt(np.mean((predicted - measured) ** 2))),
        "within_10pct": float(np.mean(np.abs(predicted - measured) <= 0.1 * measured)),
        "kendall_tau": float(kendalltau(predicted, measured)[0]),
    }


def folds(n: int, k: int = CV_FOLDS, seed: int = 0) -> list[np.ndarray]:
    """`k` disjoint test index sets covering range(n), shuffled with a fixed seed."""
    return list(np.array_split(np.random.default_rng(seed).permutation(n), k))


def cross_validated(task: str, device: str) -> np.ndarray:
    """Each row's prediction by a `CostModel` fitted on the other folds."""
    X, enc, dec = load_table(task, device)
    out = np.empty(len(X))
    for test in folds(len(X)):
        train = np.setdiff1d(np.arange(len(X)), test)
        out[test] = CostModel().fit(X[train], enc[train], dec[train]).predict(X[test])
    return out


@cache
def fitted(task: str, device: str) -> tuple[CostModel, dict[str, float]]:
    """The cost model fitted on all rows of a table, and its 5-fold held-out scores."""
    X, enc, dec = load_table(task, device)
    held_out = scores(cross_validated(task, device), enc + dec)
    return CostModel().fit(X, enc, dec), held_out


class HATLatencySource(MetricSource):
    cheap = True

    def __init__(self, space: HATSpace, ctx: EvalContext, metric: str, device: str) -> None:
        self.space = space
        self.task = ctx.dataset
        self.table_device = device  # a table: no device is occupied
        self.metric = metric
        # HAT timed the task's own output vocabulary (the head)
        self.classes = table_classes(ctx, dataset_info(ctx.dataset).classes)

    def prepare(self) -> None:
        fitted(self.task, self.table_device)

    def provenance(self) -> dict[str, Any]:
        _, held_out = fitted(self.task, self.table_device)
        return {
            "kind": "predicted",
            "table": f"hat/{TABLES[self.task, self.table_device]}",
            "source": SOURCE,
            "meaning": (
                f"latency on {DEVICES[self.table_device]} translating a {self.task} dummy "
                "sentence (batch 1, beam 4), encoder + decoder, as HAT measured"
            ),
            "predictor": PREDICTOR,
            "held_out": {f"cv{CV_FOLDS}_{k}": round(v, 4) for k, v in held_out.items()},
            "unit": "ms",
            **self.classes,
        }

    def evaluate(self, archs: Sequence[Any]) -> list[Measurement]:
        model, _ = fitted(self.task, self.table_device)
        X = np.array([self.space.config(a).hat_features() for a in archs])
        prov = self.provenance()
        return [Measurement(float(v), prov) for v in model.predict(X)]


@dataclass
class HATTarget(Target):
    """A device HAT published latencies for; serves the `hat` spaces on the tasks it was
    measured for."""

    device: str = ""

    def supports(self, ctx: EvalContext) -> bool:
        return isinstance(ctx.space, HATSpace) and (ctx.dataset, self.device) in TABLES

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        if metric.base not in self.metrics:
            raise UnknownNameError(f"metric of target {self.name!r}", metric.base, self.metrics)
        if not (isinstance(ctx.space, HATSpace) and self.supports(ctx)):
            tasks = [t for t, d in TABLES if d == self.device]
            raise HwnasError(
                f"target {self.name!r} has HAT latencies for the hat spaces on "
                f"{', '.join(tasks)}, not {getattr(ctx.space, 'name', '?')}/{ctx.dataset}"
            )
        return HATLatencySource(ctx.space, ctx, metric.name, self.device)


for _device, _what in DEVICES.items():
    register_target(
        HATTarget(
            f"hat-{_device}",
            f"{_what} (HAT's latency datasets, hat spaces)",
            SOURCE,
            kind="predicted",
            device=_device,
        )
    )
