"""The per-layer cost table a differentiable search needs: cost(arch) = base + sum over
layers of delta[layer, choice]. FBNet and ProxylessNAS take it from a lookup table; here it
is read from any cheap metric of the space (HW-NAS-Bench's FBNet tables, a profiled
`latency@PROFILE.json`, counted MACs or parameters) by evaluating the all-first-choice network
and each one-layer change of it, then checked on random architectures: a metric that is not
additive (a measurement, a learned predictor) shows up as a residual, which is recorded with
the table instead of being hidden."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hwnas.errors import HwnasError
from hwnas.sources import MetricSource
from hwnas.spaces import SearchSpace


@dataclass(frozen=True)
class LayerCosts:
    metric: str
    base: float
    #: [layers, choices]: the change from choice 0 at one layer, the rest at choice 0
    delta: np.ndarray
    #: largest |additive - true| / true over the random architectures checked
    residual: float
    provenance: dict[str, Any]

    def of(self, genes: Any) -> float:
        return self.base + float(sum(self.delta[i, g] for i, g in enumerate(genes)))

    @property
    def range(self) -> tuple[float, float]:
        """The cheapest and the dearest architecture's cost under the additive model."""
        return (
            self.base + float(self.delta.min(axis=1).sum()),
            self.base + float(self.delta.max(axis=1).sum()),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "base": self.base,
            "delta": self.delta.tolist(),
            "additive_residual": self.residual,
            "provenance": self.provenance,
        }


def layer_costs(
    space: SearchSpace, source: MetricSource, metric: str, checks: int = 20, seed: int = 0
) -> LayerCosts:
    """The additive table of `source`'s metric over `space`'s dimensions (every dimension
    is one layer's choice)."""
    if not source.cheap:
        raise HwnasError(
            f"{metric} is not a cheap metric (a measurement or a trained estimate): a "
            "differentiable search needs a per-layer table; profile one with `hwnas profile` "
            "and use latency@PROFILE.json, or use a published table"
        )
    n_choices = [len(d.choices) for d in space.dimensions]
    first = [0] * len(n_choices)
    archs = [space.make(first)]
    for layer, n in enumerate(n_choices):
        for choice in range(1, n):
            genes = list(first)
            genes[layer] = choice
            archs.append(space.make(genes))
    rng = np.random.default_rng(seed)
    sampled = [space.sample(rng) for _ in range(checks)]
    measured = source.evaluate(archs + sampled)
    values = np.array([m.value for m in measured], dtype=np.float64)
    if not np.isfinite(values).all():
        raise HwnasError(f"{metric}: some architectures have no finite value; cannot tabulate")
    base = float(values[0])
    delta = np.zeros((len(n_choices), max(n_choices)))
    k = 1
    for layer, n in enumerate(n_choices):
        for choice in range(1, n):
            delta[layer, choice] = values[k] - base
            k += 1
    layers = np.arange(len(n_choices))
    additive = np.array([base + delta[layers, list(a.genes)].sum() for a in sampled])
    truth = values[len(archs) :]
    residual = float(np.max(np.abs(additive - truth) / np.maximum(np.abs(truth), 1e-12)))
    return LayerCosts(metric, base, delta, residual, dict(measured[0].provenance))
