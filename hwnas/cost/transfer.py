"""Few-shot latency transfer (`hwnas calibrate`): a latency predictor for a new device from
10-20 measured architectures, pretrained on the latencies of devices already known.

Log latency is modelled as linear in a feature map phi(arch): the space's encodings (for
nb201 the op on each edge, the live edges, a dead-cell flag) and, where the pool covers the
whole space, the pool devices' own standardised log latencies (the arch x device matrix is
close to low rank, so a new device is mostly a mix of known ones). Each pool device's
weights are fitted with that device left out of the features; their mean and covariance are
the prior of a new device's weights (hierarchical Bayesian linear regression). The posterior
from N measurements is closed form, so every prediction carries its own std; the prior's
scale, its diagonal (what no pool device does) and the noise are chosen by marginal
likelihood on the N points. numpy only, no
pickle: the predictor is JSON, used as `latency@P.json` in any search."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._io import atomic_write
from hwnas._version import __version__
from hwnas.cost import Target
from hwnas.cost._transfer_data import (
    ENCODINGS,
    Pool,
    encode,
    metric_pool,
    pool_values,
    shipped_pool,
    spearman,
)
from hwnas.cost.lut import read_predictor_file
from hwnas.errors import HwnasError, SpecError, UnknownNameError
from hwnas.metrics import Metric
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import Architecture, SearchSpace, get_space

KIND = "hwnas-latency-transfer"
SCHEMA_VERSION = 1
#: prior variance of the intercept (log ms): how fast a new device is overall is unknown
INTERCEPT_VAR = 100.0
#: grids of the prior's scale and the noise's scale, chosen by marginal likelihood
PRIOR_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
NOISE_SCALES = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
#: grid of the prior's diagonal, in multiples of `jitter`: the pool's span (low rank) and the
#: room beside it are scaled apart, since how far a device strays from the pool varies
#: (docs/benchmarks/latency-transfer.md: fbnet +0.005-0.007, nb201 +0.002 at N=20)
DIAG_SCALES = (0.1, 1.0, 10.0)
MIN_MEASUREMENTS = 3


@dataclass
class FeatureMap:
    """phi(arch) = [1, encodings, standardised log pool values (when they are features)]."""

    space: str
    dataset: str
    encodings: tuple[str, ...]
    pool: tuple[str, ...] = ()
    log_mean: tuple[float, ...] = ()
    log_sd: tuple[float, ...] = ()

    def __call__(
        self, archs: Sequence[Architecture], values: np.ndarray | None = None
    ) -> np.ndarray:
        space = get_space(self.space)
        parts = [np.ones((len(archs), 1)), encode(space, archs, self.encodings)]
        if self.pool:
            if values is None:
                values = pool_values(space, self.dataset, self.pool, archs)
            parts.append((np.log(values) - np.array(self.log_mean)) / np.array(self.log_sd))
        return np.concatenate(parts, axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": "log(latency_ms)",
            "encodings": list(self.encodings),
            "pool_features": list(self.pool),
            "pool_log_mean": list(self.log_mean),
            "pool_log_sd": list(self.log_sd),
        }


class LatencyTransfer:
    """Pretrain on a pool of known devices, `design(n)` what to measure, `fit` N
    measurements, `predict` -> (median ms, std ms). `pool`: metric names to pretrain on
    (default: the device tables shipped for the space); `exclude`: shipped devices (and a
    GPU's other batch sizes) kept out of the pool."""

    def __init__(
        self,
        space: str = "nb201",
        dataset: str | None = None,
        pool: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        ridge: float = 1e-2,
        jitter: float = 1e-3,
        n_reference: int = 500,
        n_candidates: int = 2000,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.dataset = dataset
        self.pool = pool
        self.exclude = exclude
        self.ridge = ridge
        self.jitter = jitter
        self.n_reference = n_reference
        self.n_candidates = n_candidates
        self.seed = seed

    # --- pretraining ----------------------------------------------------------------------
    def pretrain(self) -> LatencyTransfer:
        """The prior over a new device's weights, from the pool (see `_prior`); `jitter`
        leaves room for what no pool device does. A shipped pool's is computed once."""
        space = get_space(self.space)
        dataset = space.check_dataset(self.dataset or space.datasets[0])
        if self.pool:
            if self.exclude:
                raise SpecError(
                    "--exclude-device applies to the shipped pool; leave the metric out of "
                    "--pool instead"
                )
            pool = metric_pool(space, dataset, self.pool, self.n_reference, self.seed)
            state = _prior(space, dataset, pool, self.ridge, self.jitter)
        else:
            exclude = tuple(sorted({str(e) for e in self.exclude}))
            state = _shipped_prior(space.name, dataset, exclude, self.ridge, self.jitter)
        self.space_ = space
        self.pool_, self.features_, self.reference_, self.reference_X_, self.prior_ = state
        return self

    def _pretrained(self) -> None:
        if not hasattr(self, "prior_"):
            self.pretrain()

    # --- design -----------------------------------------------------------------------------
    def design(self, n: int, seed: int | None = None) -> list[Architecture]:
        """The `n` architectures to measure: greedily, the one whose latency the model is
        least sure of given those already chosen (maximum posterior variance, i.e. greedy
        D-optimal), among a `seed`ed candidate set of the pool's architectures. Their prior
        std (log ms) at the time of choice is in `design_std_`."""
        if n < 1:
            raise SpecError(f"--design needs a positive number of architectures, got {n}")
        self._pretrained()
        rng = np.random.default_rng(self.seed if seed is None else seed)
        total = len(self.reference_)
        cand = np.sort(rng.choice(total, min(self.n_candidates, total), replace=False))
        if n > len(cand):
            raise SpecError(f"--design {n}: the pool offers only {len(cand)} candidates")
        P = self.reference_X_[cand]
        _, S, noise = self.prior_
        S = S.copy()
        chosen: list[int] = []
        stds: list[float] = []
        for _ in range(n):
            var = np.einsum("ij,jk,ik->i", P, S, P)
            var[chosen] = -np.inf
            i = int(np.argmax(var))
            chosen.append(i)
            stds.append(float(np.sqrt(var[i])))
            Sx = S @ P[i]
            S -= np.outer(Sx, Sx) / (noise + P[i] @ Sx)
        self.design_std_ = stds
        return [self.reference_[int(cand[i])] for i in chosen]

    # --- fitting ------------------------------------------------------------------------------
    def fit(
        self, archs: Sequence[Architecture | str], latencies_ms: Sequence[float]
    ) -> LatencyTransfer:
        """The new device's posterior from its measured latencies (ms)."""
        space = get_space(self.space)
        measured = [a if isinstance(a, Architecture) else space.parse(a) for a in archs]
        y = _checked_latencies(measured, latencies_ms)  # before pretraining: fail fast
        self._pretrained()
        X = self.features_(measured)
        m0, C, noise = self.prior_
        r = np.log(y) - X @ m0
        best: tuple[float, float, float, float] = (-np.inf, 1.0, 1.0, 1.0)
        for c, d, nf in itertools.product(PRIOR_SCALES, DIAG_SCALES, NOISE_SCALES):
            K = X @ _scaled(C, c, d * self.jitter, self.jitter) @ X.T + nf * noise * np.eye(len(y))
            _, logdet = np.linalg.slogdet(K)
            ll = -0.5 * (r @ np.linalg.solve(K, r) + logdet)
            if ll > best[0]:
                best = (ll, c, d, nf)
        _, c, d, nf = best
        Cc = _scaled(C, c, d * self.jitter, self.jitter)
        K = X @ Cc @ X.T + nf * noise * np.eye(len(y))
        Kinv = np.linalg.inv(K)
        mean = m0 + Cc @ X.T @ Kinv @ r
        cov = Cc - Cc @ X.T @ Kinv @ X @ Cc
        self.posterior_ = (mean, (cov + cov.T) / 2, nf * noise)
        self.measured_ = [(a.key, float(v)) for a, v in zip(measured, y)]
        self.loo_ = _loo(np.log(y), Kinv @ r, np.diag(Kinv))
        self.hyper_ = {
            "prior_scale": c,
            "diag_scale": d,
            "noise_scale": nf,
            "log_marginal_likelihood": float(best[0]),
        }
        self.meta_ = self._meta()
        return self

    def _meta(self) -> dict[str, Any]:
        pool: Pool = self.pool_
        return {
            "space": self.space_.name,
            "dataset": self.features_.dataset,
            "pool": {"metrics": pool.names, "source": pool.source, "features": pool.features},
            "excluded": pool.excluded,
            "n": len(self.measured_),
            "measured": [{"arch": k, "latency_ms": v} for k, v in self.measured_],
            "loo": self.loo_,
            "fit": self.hyper_,
            "hwnas": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    # --- prediction ---------------------------------------------------------------------------
    def predict(self, archs: Sequence[Architecture | str]) -> tuple[np.ndarray, np.ndarray]:
        """(median, std) of each architecture's latency in ms, from the log-normal
        predictive (the std includes the measurement noise the fit estimated)."""
        if not hasattr(self, "posterior_"):
            raise HwnasError("this LatencyTransfer is not fitted: call fit() or load_transfer()")
        space = get_space(self.features_.space)
        parsed = [a if isinstance(a, Architecture) else space.parse(a) for a in archs]
        X = self.features_(parsed)
        mean, cov, noise = self.posterior_
        mu = X @ mean
        var = np.einsum("ij,jk,ik->i", X, cov, X) + noise
        median = np.exp(mu)
        return median, median * np.sqrt(np.expm1(np.maximum(var, 0.0)))

    # --- artifact -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        mean, cov, noise = self.posterior_
        return {
            "kind": KIND,
            "schema_version": SCHEMA_VERSION,
            **self.meta_,
            "features": self.features_.to_dict(),
            "posterior": {"mean": mean.tolist(), "cov": cov.tolist(), "noise_var": noise},
        }

    def save(self, path: str | Path) -> None:
        atomic_write(path, json.dumps(self.to_dict(), indent=None, sort_keys=True) + "\n")


_State = tuple[
    Pool, FeatureMap, list[Architecture], np.ndarray, tuple[np.ndarray, np.ndarray, float]
]


@lru_cache(maxsize=4)
def _shipped_prior(
    space_name: str, dataset: str, exclude: tuple[str, ...], ridge: float, jitter: float
) -> _State:
    """The prior of a shipped pool, once per process (the tables do not change)."""
    space = get_space(space_name)
    return _prior(space, dataset, shipped_pool(space, exclude), ridge, jitter)


def _prior(space: SearchSpace, dataset: str, pool: Pool, ridge: float, jitter: float) -> _State:
    """Fit every pool device with itself left out of the features: their weights' mean and
    covariance (plus `jitter`) are the prior, their mean residual variance the noise."""
    archs = [space.parse(k) for k in pool.keys]
    logs = np.log(pool.values)
    if not np.all(np.isfinite(logs)):
        raise SpecError(f"the pool ({pool.source}) holds non-positive or missing values")
    sd = logs.std(axis=0)
    sd[sd == 0] = 1.0
    fmap = FeatureMap(
        space.name,
        dataset,
        ENCODINGS.get(space.name, ("onehot",)),
        tuple(pool.names) if pool.features else (),
        tuple(logs.mean(axis=0).tolist()) if pool.features else (),
        tuple(sd.tolist()) if pool.features else (),
    )
    X = fmap(archs, pool.values if pool.features else None)
    own = X.shape[1] - len(pool.names) if pool.features else None
    weights, residual = [], []
    for j in range(len(pool.names)):
        keep = np.ones(X.shape[1], dtype=bool)
        if own is not None:
            keep[own + j] = False  # a device may not explain itself
        w = np.zeros(X.shape[1])
        w[keep] = _ridge(X[:, keep], logs[:, j], ridge)
        weights.append(w)
        residual.append(float(np.var(logs[:, j] - X @ w)))
    W = np.array(weights)
    cov = np.atleast_2d(np.cov(W.T)) if len(W) > 1 else np.zeros((X.shape[1],) * 2)
    cov = cov + jitter * np.eye(X.shape[1])
    cov[0, :] = cov[:, 0] = 0.0
    cov[0, 0] = INTERCEPT_VAR
    return pool, fmap, archs, X, (W.mean(axis=0), cov, float(np.mean(residual)))


def _ridge(X: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge on standardised scale (penalty `ridge` x rows, the intercept free)."""
    penalty = ridge * len(X) * np.eye(X.shape[1])
    penalty[0, 0] = 0.0
    return np.linalg.solve(X.T @ X + penalty, X.T @ y)


def _scaled(C: np.ndarray, c: float, diag: float, jitter: float) -> np.ndarray:
    """The prior `C` (pool covariance + `jitter` on the diagonal) with the pool's part scaled
    by `c` and the diagonal set to `diag`; the intercept's variance is kept."""
    out = C * c
    idx = np.arange(1, len(C))
    out[idx, idx] += diag - c * jitter
    out[0, 0] = C[0, 0]
    return out


def _checked_latencies(archs: Sequence[Architecture], latencies: Sequence[float]) -> np.ndarray:
    y = np.asarray(latencies, dtype=np.float64).reshape(-1)
    if len(y) != len(archs):
        raise SpecError(f"{len(archs)} architectures but {len(y)} latencies")
    if len(y) < MIN_MEASUREMENTS:
        raise SpecError(f"{len(y)} measurements: at least {MIN_MEASUREMENTS} are needed")
    seen: dict[str, int] = {}
    for i, (arch, v) in enumerate(zip(archs, y)):
        if not np.isfinite(v) or v <= 0:
            raise SpecError(
                f"measurement {i + 1} ({arch.key}): latency {v} is not a positive number"
            )
        if arch.key in seen:
            raise SpecError(
                f"measurement {i + 1} ({arch.key}) repeats measurement {seen[arch.key] + 1}: "
                "give each architecture once (its median)"
            )
        seen[arch.key] = i
    return y


def _loo(y: np.ndarray, alpha: np.ndarray, kinv_diag: np.ndarray) -> dict[str, float]:
    """Leave-one-out on the N measurements, closed form (hyperparameters held): each point
    predicted from the other N-1."""
    pred = y - alpha / kinv_diag
    z = (alpha / kinv_diag) * np.sqrt(kinv_diag)
    rel = np.abs(np.exp(pred) - np.exp(y)) / np.exp(y)
    return {
        "spearman": spearman(pred, y),
        "median_ape": float(np.median(rel)),
        "within_10pct": float((rel <= 0.10).mean()),
        "within_2std": float((np.abs(z) <= 2).mean()),
    }


def read_transfer(data: dict[str, Any], path: str | Path) -> LatencyTransfer:
    """A fitted `LatencyTransfer` from a parsed predictor file (checked)."""
    if data.get("schema_version") != SCHEMA_VERSION:
        raise SpecError(
            f"{path}: transfer predictor schema_version {data.get('schema_version')!r}, this "
            f"hwnas reads {SCHEMA_VERSION}; calibrate again with this version"
        )
    try:
        feats, post = data["features"], data["posterior"]
        mean = np.array(post["mean"], dtype=np.float64)
        cov = np.array(post["cov"], dtype=np.float64)
        noise = float(post["noise_var"])
        pool = tuple(str(n) for n in feats["pool_features"])
        fmap = FeatureMap(
            str(data["space"]),
            str(data["dataset"]),
            tuple(str(e) for e in feats["encodings"]),
            pool,
            tuple(float(v) for v in feats["pool_log_mean"]),
            tuple(float(v) for v in feats["pool_log_sd"]),
        )
        if mean.ndim != 1 or cov.shape != (len(mean), len(mean)):
            raise ValueError(f"posterior mean {mean.shape} and cov {cov.shape} do not match")
        if not (len(fmap.log_mean) == len(fmap.log_sd) == len(pool)):
            raise ValueError("pool features, their means and sds differ in length")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov)) and noise >= 0):
            raise ValueError("the posterior must be finite numbers")
        int(data["n"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecError(f"{path}: malformed transfer predictor ({exc})") from None
    model = LatencyTransfer(fmap.space, fmap.dataset)
    model.features_, model.posterior_ = fmap, (mean, cov, noise)
    model.meta_ = {
        k: v
        for k, v in data.items()
        if k not in ("kind", "schema_version", "features", "posterior")
    }
    return model


def load_transfer(path: str | Path) -> LatencyTransfer:
    """A predictor file written by `LatencyTransfer.save` / `hwnas calibrate`."""
    data = read_predictor_file(path, "transfer predictor", "hwnas calibrate")
    if data.get("kind") != KIND:
        raise SpecError(f"{path}: not an hwnas transfer predictor (kind {KIND!r} expected)")
    return read_transfer(data, path)


def calibrate(
    space: str,
    archs: Sequence[Architecture | str],
    latencies_ms: Sequence[float],
    **options: Any,
) -> LatencyTransfer:
    """`LatencyTransfer(space, **options).fit(archs, latencies_ms)`."""
    return LatencyTransfer(space, **options).fit(archs, latencies_ms)


# --- as a target: latency@P.json --------------------------------------------------------------
@dataclass
class TransferTarget(Target):
    """`latency@P.json` for a transfer predictor: serves the space and dataset it was
    calibrated for."""

    model: LatencyTransfer | None = None

    @classmethod
    def of(cls, model: LatencyTransfer, path: str) -> TransferTarget:
        meta = model.meta_
        return cls(
            path,
            f"latency transferred from {len(meta['pool']['metrics'])} pool metrics with "
            f"{meta['n']} measurements ({meta['space']}/{meta['dataset']})",
            path,
            kind="predicted",
            model=model,
        )

    def supports(self, ctx: EvalContext) -> bool:
        assert self.model is not None
        fmap = self.model.features_
        return (ctx.space.name, ctx.dataset) == (fmap.space, fmap.dataset)

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        assert self.model is not None
        if not self.supports(ctx):
            fmap = self.model.features_
            raise HwnasError(
                f"{self.name} predicts {fmap.space}/{fmap.dataset}, not "
                f"{ctx.space.name}/{ctx.dataset}"
            )
        if metric.base not in self.metrics:
            raise UnknownNameError(f"metric of target {self.name!r}", metric.base, self.metrics)
        return TransferSource(ctx, metric.name, self.model, self.name)


class TransferSource(MetricSource):
    """Predicted latency (the posterior median) with its std in each value's provenance."""

    def __init__(self, ctx: EvalContext, metric: str, model: LatencyTransfer, path: str) -> None:
        from hwnas.cost._transfer_data import pool_source

        self.metric = metric
        self.model = model
        pool = [pool_source(ctx, name) for name in model.features_.pool]
        self.cheap = all(s.cheap for s in pool)
        self.requires = tuple(sorted({m for s in pool for m in s.requires}))
        meta = model.meta_
        self.provenance = {
            "kind": "predicted",
            "predictor": path,
            "method": "few-shot latency transfer (hwnas calibrate)",
            "n_measured": meta["n"],
            "pool": meta["pool"]["metrics"],
            "excluded": meta.get("excluded", []),
            "loo_spearman": meta.get("loo", {}).get("spearman"),
            "created": meta.get("created"),
            "schema_version": SCHEMA_VERSION,
            "unit": "ms",
        }

    def evaluate(self, archs: Sequence[Architecture]) -> list[Measurement]:
        median, std = self.model.predict(archs)
        return [
            Measurement(float(m), {**self.provenance, "std_ms": float(s)})
            for m, s in zip(median, std)
        ]
