"""Accuracy by short stand-alone training: `--quality train[:epochs=N][,images=N][,seed=N]`.
Each architecture is built for the study's dataset, trained from scratch on the training
split of `--data` (or the dataset itself) with the one schedule of `hwnas.training`, and
`accuracy` is its validation top-1 (%), `test_accuracy` the test top-1. The slowest and most
faithful estimator: what the supernet, proxies and predictors stand in for, and what a
differentiable search's derived networks are judged by. The split is seeded by 0 (the same
for every architecture); `seed` seeds the weights and batches, `images` trains on a fixed
seeded subset."""

from __future__ import annotations

import platform
import re
import time
from functools import lru_cache
from typing import Any

import numpy as np

from hwnas._imports import optional_import
from hwnas.errors import HwnasError, SpecError
from hwnas.metrics import Metric
from hwnas.quality import QualityEstimator, register_quality
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import SearchSpace

DEFAULT_EPOCHS = 3
_OPTION = re.compile(r"^\s*(epochs|images|seed)\s*=\s*(\d+)\s*$")


class TrainSource(MetricSource):
    cheap = False
    requires = ("torch",)

    def __init__(self, ctx: EvalContext, metric: Metric, options: dict[str, int]) -> None:
        optional_import("torch", "the train quality estimator")
        if metric.base not in ("accuracy", "test_accuracy"):
            raise HwnasError(f"quality train serves accuracy and test_accuracy, not {metric.base}")
        self.ctx = ctx
        self.metric = metric.name
        self.split = "test" if metric.base == "test_accuracy" else "val"
        self.options = options
        ctx.space.input_shape(ctx.dataset)  # a space without image inputs refuses here

    def check(self) -> None:
        """Load the images now: missing data would fail every evaluation alike."""
        super().check()
        _split(self.ctx.data or self.ctx.dataset)

    def evaluate_one(self, arch: Any) -> Measurement:
        import torch

        from hwnas.datasets import data_classes
        from hwnas.training import TrainConfig, evaluate, fit

        spec = self.ctx.data or self.ctx.dataset
        data = _split(spec)
        train = data.train
        images = self.options.get("images")
        if images is not None and images < len(train):
            pick = np.sort(np.random.default_rng(0).permutation(len(train))[:images])
            train = train.take(pick)
        config = TrainConfig(
            epochs=self.options.get("epochs", DEFAULT_EPOCHS), seed=self.options.get("seed", 0)
        )
        torch.manual_seed(config.seed)
        model = self.ctx.space.build(arch, self.ctx.dataset, data_classes(self.ctx.data))
        shape = self.ctx.space.arch_input_shape(arch, self.ctx.dataset)
        started = time.perf_counter()
        fit(model, train, shape, config)
        seconds = time.perf_counter() - started
        held_out = data.val if self.split == "val" else data.test
        assert held_out is not None
        acc = evaluate(model, held_out, shape)
        return Measurement(
            acc,
            {
                "kind": "training",
                "meaning": f"{self.split} top-1 (%) after stand-alone training from scratch",
                "data": spec,
                "schedule": config.as_dict(),
                "train_images": len(train),
                "eval_images": len(held_out),
                "train_seconds": round(seconds, 2),
                "host": platform.node(),
                "threads": torch.get_num_threads(),
            },
        )


@lru_cache(maxsize=2)
def _split(spec: str) -> Any:
    from hwnas.datasets import load_dataset

    return load_dataset(spec).split(seed=0)


@register_quality("train")
class TrainQuality(QualityEstimator):
    description = (
        "validation accuracy after short stand-alone training of each network; "
        "train[:epochs=3][,images=N][,seed=0] (slow: minutes per network on a CPU)"
    )

    def __init__(self, options: dict[str, int] | None = None) -> None:
        self.options = dict(options or {})

    @classmethod
    def with_spec(cls, spec: str) -> TrainQuality:
        options: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            match = _OPTION.match(part)
            if match is None:
                raise SpecError(
                    f"quality train option {part!r}: expected epochs=N, images=N or seed=N"
                )
            options[match[1]] = int(match[2])
        if options.get("epochs", 1) < 1 or options.get("images", 10) < 10:
            raise SpecError("quality train: epochs must be at least 1 and images at least 10")
        return cls(options)

    def fidelity(self, option: str, ctx: EvalContext) -> str:
        """`epochs=N` and/or `images=N`: shorter training, or on fewer images, than here."""
        cheap = TrainQuality.with_spec(option).options
        if "seed" in cheap or not cheap:
            raise SpecError(f"fidelity {option!r}: the train estimator's are epochs=N and images=N")
        options = {**self.options, **cheap}
        total = len(_split(ctx.data or ctx.dataset).train) if "images" in cheap else 0
        work = [
            (o.get("epochs", DEFAULT_EPOCHS), min(o.get("images", total), total) if total else 0)
            for o in (options, self.options)
        ]
        if work[0] == work[1] or any(a > b for a, b in zip(*work)):
            raise SpecError(f"fidelity {option!r} is not cheaper than {self.spec()!r}")
        return TrainQuality(options).spec()

    def spec(self) -> str:
        """The `--quality` spec of this estimator."""
        options = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"train:{options}" if options else "train"

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        if type(ctx.space).build is SearchSpace.build:  # the base class only refuses
            raise HwnasError(f"space {ctx.space.name!r} cannot build networks to train")
        from hwnas.datasets.catalogue import dataset_info

        info = dataset_info(ctx.dataset)
        if info.is_text or info.tokens:
            raise HwnasError(
                f"quality train trains image classifiers; {ctx.dataset!r} is not an image dataset"
            )
        return TrainSource(ctx, metric, self.options)
