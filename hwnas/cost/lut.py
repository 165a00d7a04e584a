"""The saved latency predictor: a lookup table of per-layer latencies plus a linear
correction of the table's sum (what a whole network costs beyond its parts: fusion, memory
traffic, per-layer overhead), as versioned JSON of plain numbers. `hwnas.cost.profile` makes
one, `hwnas.cost.validate` checks one, and a search uses one as `latency@FILE.json`; this
module is all that loading and predicting needs (no measuring, no torch)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._io import atomic_write, number, read_json, why_not_a_file
from hwnas.datasets.catalogue import head_classes
from hwnas.errors import EvaluationError, HwnasError, SpecError
from hwnas.spaces import Architecture, LayeredSpace, get_space

SCHEMA_VERSION = 2
#: schema 1 (no reference network) has the same predictor, so it still loads
READABLE_VERSIONS = (1, 2)
KIND = "hwnas-latency-predictor"
#: ridge penalty on the correction's slopes, relative to their scale (keeps tiny samples sane)
RIDGE = 1e-6
FEATURES = ("intercept", "lut_sum_ms", "n_layers")
#: fewer measured networks than this fit the table's scale only
FULL_FIT_SAMPLES = 5


def _features(lut_sum: float, n_layers: int) -> list[float]:
    return [1.0, lut_sum, float(n_layers)]


@dataclass
class LatencyPredictor:
    """LUT sum plus a linear correction, loaded from / saved to a profile JSON."""

    meta: dict[str, Any]
    lut: dict[str, float]
    coef: list[float]

    # --- prediction ---------------------------------------------------------------------
    def space(self) -> LayeredSpace:
        space = get_space(self.meta["space"])
        if not isinstance(space, LayeredSpace):
            raise HwnasError(
                f"space {space.name!r} does not split into layers, so no lookup table predicts it"
            )
        return space

    def classes(self) -> int:
        """The head's outputs the profile measured: its data's class count, recorded as
        `classes` (profiles from before that was recorded: the dataset's)."""
        return head_classes(self.meta["dataset"], self.meta.get("classes"))

    def lut_sum(self, arch: Architecture) -> tuple[float, int]:
        """The table entries of `arch`'s layers summed, and how many layers there are."""
        total, n = 0.0, 0
        layers = self.space().layers(arch, self.meta["dataset"], self.meta.get("classes"))
        for signature, _, _ in layers:
            if signature not in self.lut:
                restrict = self.meta.get("restrict")
                why = (
                    f"the profile covers only {restrict} (made with --restrict); search "
                    "within that or profile without it"
                    if restrict
                    else f"profile again with this hwnas version ({self.meta.get('hwnas')} made it)"
                )
                raise EvaluationError(
                    f"layer {signature} of {arch.key} is not in the lookup table: {why}"
                )
            total += self.lut[signature]
            n += 1
        return total, n

    def predict(self, arch: Architecture) -> float:
        """Predicted latency in ms."""
        total, n = self.lut_sum(arch)
        return float(np.dot(self.coef, _features(total, n)))

    # --- artifact -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            **self.meta,
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "correction": {"features": list(FEATURES), "coef": self.coef},
            "lut_ms": self.lut,
        }

    def save(self, path: str | Path) -> None:
        atomic_write(path, json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LatencyPredictor:
        """The profile at `path`; a missing, foreign or malformed file fails clearly."""
        return cls.from_dict(read_predictor_file(path, "latency profile", "hwnas profile"), path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path) -> LatencyPredictor:
        """The predictor in a parsed profile file (checked)."""
        if data.get("kind") != KIND:
            raise SpecError(f"{path}: not an hwnas latency profile (kind {KIND!r} expected)")
        if data.get("schema_version") not in READABLE_VERSIONS:
            raise SpecError(
                f"{path}: profile schema_version {data.get('schema_version')!r}, this hwnas "
                f"reads {', '.join(map(str, READABLE_VERSIONS))}; profile the device again "
                "with this version"
            )
        try:
            coef = [number(c) for c in data["correction"]["coef"]]
            lut = {str(k): number(v) for k, v in data["lut_ms"].items()}
            if list(data["correction"]["features"]) != list(FEATURES) or len(coef) != len(FEATURES):
                raise ValueError("unexpected correction features")
            meta = {
                k: v
                for k, v in data.items()
                if k not in ("correction", "lut_ms", "kind", "schema_version")
            }
            meta["space"], meta["dataset"] = str(data["space"]), str(data["dataset"])
            classes = data.get("classes")
            if classes is not None and (type(classes) is not int or classes < 1):
                raise ValueError(f"'classes' must be a positive integer, got {classes!r}")
            if not all(np.isfinite(coef)) or not all(np.isfinite(list(lut.values()))):
                raise ValueError("coefficients and lookup-table entries must be finite numbers")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SpecError(f"{path}: malformed latency profile ({exc})") from None
        return cls(meta, lut, coef)


def read_predictor_file(path: str | Path, what: str, make: str) -> dict[str, Any]:
    """A predictor file's JSON object, read once; `what` it is and the command that `make`s
    one go into the message when it is missing or not a JSON object."""
    path = Path(path)
    if reason := why_not_a_file(path):
        raise HwnasError(f"{what} {path} {reason} (make one: {make})")
    data = read_json(path)  # bounded: UTF-8, size, depth and number length
    if not isinstance(data, dict):
        raise SpecError(f"{path}: not a {what} (a JSON object expected)")
    return data


def fit_correction(
    lut_sums: Sequence[float], n_layers: Sequence[int], measured: Sequence[float]
) -> list[float]:
    """Least squares on relative error (rows weighted by 1/measured), with a tiny ridge on
    the slopes. Below `FULL_FIT_SAMPLES` samples only the table's scale is fitted (measured
    = c x LUT sum): three free coefficients on two noisy samples extrapolated to negative
    latencies on a loaded host."""
    X = np.array([_features(s, n) for s, n in zip(lut_sums, n_layers)], dtype=np.float64)
    y = np.asarray(measured, dtype=np.float64)
    w = 1.0 / y
    if len(y) < FULL_FIT_SAMPLES:
        ratio = X[:, 1] * w
        return [0.0, float(ratio.sum() / max(float(ratio @ ratio), 1e-300)), 0.0]
    A, b = X * w[:, None], y * w
    gram = A.T @ A
    penalty = RIDGE * np.diag(np.r_[0.0, np.diag(gram)[1:]]) + 1e-12 * np.eye(len(FEATURES))
    return [float(c) for c in np.linalg.solve(gram + penalty, A.T @ b)]
