"""Accuracy from a trained weight-sharing supernet: `--quality supernet:CHECKPOINT` (the
whole spec is the path, as `hwnas export` reads it). `accuracy` is the validation top-1 (%)
of the subnet taken out of the supernet with its batch norms recalibrated on 2,000 training
images (`SupernetQuality(path, calib_images=N)` in Python); `test_accuracy` the same on the
test split. The checkpoint's space and dataset must be the study's; `--data` (the
context's data spec) overrides where the images are read from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnas.errors import HwnasError, SpecError
from hwnas.evaluation import EvalContext, Measurement, MetricSource
from hwnas.metrics import Metric
from hwnas.quality import QualityEstimator, register_quality


class SupernetSource(MetricSource):
    """One subnet extraction, recalibration and evaluation per architecture."""

    cheap = False

    def __init__(
        self, ctx: EvalContext, metric: Metric, checkpoint: Path, calib_images: int
    ) -> None:
        from hwnas.models import require_torch

        require_torch()
        self.ctx = ctx
        self.metric = metric.name
        self.split = "test" if metric.base == "test_accuracy" else "val"
        self.checkpoint = checkpoint
        self.calib_images = calib_images
        from hwnas.supernet import read_meta

        meta = read_meta(checkpoint)
        if meta["space"] != ctx.space.name or meta["dataset"] != ctx.dataset:
            raise HwnasError(
                f"supernet checkpoint {checkpoint} was trained for {meta['space']}/"
                f"{meta['dataset']}, not {ctx.space.name}/{ctx.dataset}"
            )

    def evaluate_one(self, arch: Any) -> Measurement:
        from hwnas.supernet import evaluate_subnet

        acc, prov = evaluate_subnet(
            self.checkpoint, arch, split=self.split, data=self.ctx.data,
            calib_images=self.calib_images,
        )  # fmt: skip
        return Measurement(acc, prov)


@register_quality("supernet")
class SupernetQuality(QualityEstimator):
    description = (
        "validation accuracy of the subnet taken out of a trained supernet, batch norms "
        "recalibrated; supernet:CHECKPOINT.safetensors (train with `hwnas supernet train`)"
    )

    def __init__(self, checkpoint: str = "", calib_images: int = 2000) -> None:
        self.checkpoint = checkpoint
        self.calib_images = calib_images

    @classmethod
    def with_spec(cls, spec: str) -> SupernetQuality:
        if not spec.strip():
            raise SpecError("quality supernet needs a checkpoint: supernet:CHECKPOINT.safetensors")
        return cls(spec.strip())

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        if not self.checkpoint:
            raise SpecError("quality supernet needs a checkpoint: supernet:CHECKPOINT.safetensors")
        return SupernetSource(ctx, metric, Path(self.checkpoint).expanduser(), self.calib_images)
