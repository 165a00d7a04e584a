"""Accuracy predictors whose features are the architecture's encoding plus zero-cost
proxies (ParZC / FBNetV3 style), and the `predictor` quality estimator that serves one in
a search: `--quality predictor` (trained on 100 architectures of the space's table),
`predictor:n=200,proxies=synflow+nwot,seed=1` or `predictor:LABELS.csv` (columns `arch`
and `accuracy`, for spaces without a table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._io import why_not_a_file
from hwnas.errors import HwnasError, SetupError, SpecError
from hwnas.metrics import Metric
from hwnas.predictors.gbt import BoostedEnsemble
from hwnas.quality import QualityEstimator, register_quality
from hwnas.sources import EvalContext, Measurement, MetricSource, StageProgress
from hwnas.spaces import Architecture, SearchSpace

DEFAULT_PROXIES: tuple[str, ...] = ("synflow", "params", "flops")
#: the fewest architectures a predictor trains on (n=0 fitted nothing and failed every
#: evaluation)
MIN_TRAIN = 2


class ProxyFeaturizer:
    """Rows of [encodings..., proxies...] for architectures; proxy scores are cached by key,
    so an architecture is scored once however often it is featurised."""

    def __init__(
        self,
        space: SearchSpace,
        dataset: str,
        encodings: Sequence[str] | None = None,
        proxies: Sequence[str] = DEFAULT_PROXIES,
        data: str | None = None,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.dataset = dataset
        if encodings is None:  # NB201's effective encoding ranks best (predictor.md)
            encodings = ["effective"] if "effective" in space.encodings else space.encodings
            encodings = [e for e in encodings if e != "vector"]
        self.encodings = tuple(e for e in encodings if e in space.encodings)
        self.proxies = tuple(proxies)
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self._cache: dict[str, list[float]] = {}
        self._batch: Any = None
        self.provenance: dict[str, Any] = {}

    def proxy_rows(
        self, archs: Sequence[Architecture], progress: StageProgress | None = None
    ) -> np.ndarray:
        from hwnas.datasets import data_classes
        from hwnas.datasets.catalogue import head_classes
        from hwnas.quality.proxies import DATA_FREE, compute_proxies, default_data, proxy_batch

        if not self.proxies:
            return np.zeros((len(archs), 0))
        if self._batch is None and any(p not in DATA_FREE for p in self.proxies):
            self._batch = proxy_batch(
                self.data or default_data(), self.space.input_shape(self.dataset),
                self.batch_size, self.seed,
            )  # fmt: skip
            self.provenance["data"] = self._batch.provenance
        # the networks follow the named data's classes (the default images stand in)
        classes = data_classes(self.data)
        self.provenance["classes"] = head_classes(self.dataset, classes)
        stage = f"proxies ({'+'.join(self.proxies)})"
        for done, arch in enumerate(archs, start=1):
            if arch.key not in self._cache:
                values = compute_proxies(
                    self.space, arch, self.dataset, self.proxies, self._batch, self.seed, classes
                )
                self._cache[arch.key] = [values[p] for p in self.proxies]
            if progress is not None:
                progress(stage, done, len(archs))
        return np.array([self._cache[a.key] for a in archs], dtype=np.float64)

    def __call__(
        self, archs: Sequence[Architecture], progress: StageProgress | None = None
    ) -> np.ndarray:
        blocks = [self.space.encode(archs, e) for e in self.encodings]
        blocks.append(self.proxy_rows(archs, progress))
        return np.concatenate(blocks, axis=1)


@dataclass
class ProxyPredictor(BoostedEnsemble):
    """An ensemble of gradient-boosted trees (scikit-learn) on encoding + proxy features;
    the spread of its members is the uncertainty. Non-finite proxy values (e.g. NASWOT's
    -inf for a network with no signal path) become the column's finite minimum minus one.
    Unlike the `gbt` predictor, it learns the accuracies as they are (not standardised)."""

    n_estimators: int = 300
    members_: list[Any] = field(default_factory=list, init=False, repr=False)
    floor_: np.ndarray | None = field(default=None, init=False, repr=False)

    def _clean(self, X: np.ndarray) -> np.ndarray:
        assert self.floor_ is not None
        X = np.array(X, dtype=np.float64, copy=True)
        bad = ~np.isfinite(X)
        X[bad] = np.broadcast_to(self.floor_, X.shape)[bad]
        return X

    def fit(self, X: np.ndarray, y: np.ndarray) -> ProxyPredictor:
        X = np.asarray(X, dtype=np.float64)
        finite = np.where(np.isfinite(X), X, np.nan)
        with np.errstate(all="ignore"):
            lows = np.nanmin(np.where(np.isnan(finite), np.inf, finite), axis=0)
        self.floor_ = np.where(np.isfinite(lows), lows - 1.0, 0.0)
        self.fit_members(self._clean(X), np.asarray(y, dtype=np.float64), self.subsample)
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.members_:
            raise HwnasError("predictor is not fitted: call fit(X, y) first")
        return self.predict_members(self._clean(np.asarray(X, dtype=np.float64)))


def parse_spec(spec: str) -> dict[str, Any]:
    """`n=100,proxies=synflow+params,seed=0,data=digits` or a labels CSV path."""
    out: dict[str, Any] = {"n": 100, "proxies": DEFAULT_PROXIES, "seed": 0, "data": None}
    if not spec:
        return out
    if spec.endswith(".csv"):
        out["labels"] = spec
        return out
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in ("n", "proxies", "seed", "data"):
            raise SpecError(
                f"predictor option {part!r}: expected n=INT, proxies=A+B, seed=INT, data=SPEC "
                "or a labels .csv file"
            )
        if key in ("n", "seed"):
            try:
                out[key] = int(value)
            except ValueError:
                raise SpecError(f"predictor option {part!r}: {value!r} is not an integer") from None
            if key == "n" and out[key] < MIN_TRAIN:
                raise SpecError(
                    f"predictor option {part!r}: train on at least {MIN_TRAIN} architectures"
                )
        elif key == "proxies":
            out[key] = tuple(p for p in value.split("+") if p)
        else:
            out[key] = value
    return out


class PredictorSource(MetricSource):
    """Accuracy predicted for each architecture; fitted on first use."""

    cheap = False

    def __init__(self, ctx: EvalContext, metric: Metric, spec: str) -> None:
        self.ctx = ctx
        self.metric = metric.name
        self.options = parse_spec(spec)
        # the proxies score the search's own images (--data) unless `data=` names others
        self.featurizer = ProxyFeaturizer(
            ctx.space, ctx.dataset, proxies=self.options["proxies"],
            data=self.options["data"] or ctx.data, seed=self.options["seed"],
        )  # fmt: skip
        self.model: ProxyPredictor | None = None
        self.provenance: dict[str, Any] = {}
        self.requires = ("torch",) if self.featurizer.proxies else ()

    def check(self) -> None:
        """Refuse, before any evaluation, what would fail every evaluation alike: labels
        that are missing or unreadable, a space without an accuracy table to train on (both
        before a missing dependency: installing one would not help then), unknown proxies,
        and data the proxies cannot load."""
        labels = self.options.get("labels")
        if labels is not None:
            if reason := why_not_a_file(Path(labels)):  # a SpecError: the spec names it
                raise SpecError(
                    f"predictor labels: expected a CSV (arch, accuracy) at {labels}, which {reason}"
                )
            self._labels()
        else:
            from hwnas.quality import get_quality

            try:
                get_quality("tabular").source(self.ctx, Metric(self.metric.split("@")[0]))
            except HwnasError:
                space = self.ctx.space.name
                raise SpecError(
                    f"--quality predictor trains on the space's accuracy table, and space "
                    f"{space!r} has none: give labelled architectures (--quality "
                    "predictor:LABELS.csv, columns arch and accuracy) or another estimator "
                    "(e.g. --quality supernet:CHECKPOINT.safetensors)"
                ) from None
            self._check_n()
        super().check()
        if self.featurizer.proxies:
            from hwnas.quality.proxies import resolve_names

            resolve_names(self.featurizer.proxies)
            self.featurizer.proxy_rows([])  # loads the images the proxies score on

    def _check_n(self) -> None:
        """Refuse more distinct training architectures than the space holds: sampling
        them would never end."""
        size = self.ctx.space.size()
        if self.options["n"] > size:
            raise SpecError(
                f"predictor option n={self.options['n']}: space {self.ctx.space.name!r} "
                f"holds only {size} architectures; give n <= {size}"
            )

    def _labels(self) -> tuple[list[Architecture], np.ndarray, str]:
        """The labelled architectures of the labels CSV; a `SetupError` names the file and
        the row when it cannot serve (every evaluation would fail on it)."""
        import pandas as pd

        path = Path(self.options["labels"])
        if reason := why_not_a_file(path):  # gone mid-run
            raise SetupError(
                f"predictor labels: expected a CSV (arch, accuracy) at {path}, which {reason}"
            )
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise SetupError(f"predictor labels {path}: not a readable CSV ({exc})") from None
        if not {"arch", "accuracy"} <= set(frame.columns) or frame.empty:
            raise SetupError(
                f"predictor labels {path}: needs columns arch and accuracy and one row per "
                "labelled architecture"
            )
        accuracy = pd.to_numeric(frame["accuracy"], errors="coerce").to_numpy(np.float64)
        archs = []
        for row, (key, value) in enumerate(zip(frame["arch"], accuracy), start=1):
            if not np.isfinite(value):
                raise SetupError(
                    f"predictor labels {path}, data row {row}: accuracy is not a number"
                )
            try:
                archs.append(self.ctx.space.parse(key))
            except HwnasError as exc:
                raise SetupError(f"predictor labels {path}, data row {row}: {exc}") from None
        return archs, accuracy, str(path)

    def _training_set(self) -> tuple[list[Architecture], np.ndarray, str]:
        if "labels" in self.options:
            return self._labels()
        from hwnas.quality import get_quality

        # the table first: a space without one is refused before sampling it (a space
        # smaller than `n` would never yield `n` distinct architectures)
        table = get_quality("tabular").source(self.ctx, Metric(self.metric.split("@")[0]))
        self._check_n()
        space = self.ctx.space
        rng = np.random.default_rng(self.options["seed"])
        chosen: dict[str, Architecture] = {}
        while len(chosen) < self.options["n"]:
            a = space.sample(rng)
            chosen.setdefault(a.key, a)
        archs = list(chosen.values())
        y = np.array([m.value for m in table.evaluate(archs)])
        return archs, y, f"{len(archs)} architectures of the {space.name} table"

    def _fit(self) -> ProxyPredictor:
        if self.model is None:
            archs, y, source = self._training_set()
            # scoring the training set is the long part (synflow over 100 networks: minutes)
            X = self.featurizer(archs, self._report_training)
            self.model = ProxyPredictor(seed=self.options["seed"]).fit(X, y)
            self.provenance = {
                "kind": "predictor",
                "model": "ensemble of 5 gradient-boosted trees (scikit-learn)",
                "features": list(self.featurizer.encodings) + list(self.featurizer.proxies),
                "trained_on": source,
                "n_train": len(archs),
                "seed": self.options["seed"],
                **self.featurizer.provenance,
            }
        return self.model

    def _report_training(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(f"training the accuracy predictor: {stage}", done, total)

    def evaluate(self, archs: Sequence[Any]) -> list[Measurement]:
        model = self._fit()
        mean, std = model.predict(self.featurizer(list(archs)))
        return [
            Measurement(float(m), {**self.provenance, "std": float(s)}) for m, s in zip(mean, std)
        ]


@register_quality("predictor")
class PredictorQuality(QualityEstimator):
    description = (
        "accuracy predicted from encoding + zero-cost proxies (GBT ensemble); "
        "predictor[:n=100,proxies=synflow+params+flops,seed=0 | :LABELS.csv]"
    )

    def __init__(self, spec: str = "") -> None:
        self.spec = spec

    @classmethod
    def with_spec(cls, spec: str) -> PredictorQuality:
        parse_spec(spec)  # fail early on a malformed spec
        return cls(spec)

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        return PredictorSource(ctx, metric, self.spec)
