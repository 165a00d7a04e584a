"""Accuracy from a trained weight-sharing supernet:
`--quality supernet:CHECKPOINT[,calib=N][,val=N]`. `accuracy` is the validation top-1 (%)
of the subnet taken out of the supernet with its batch norms recalibrated on `calib`
(default 2,000) training images, over the whole validation split or a fixed class-stratified
subset of `val` images of it (the same for every architecture: a CPU search runs several
times faster on 1,000 images); `test_accuracy` the same on the test split. A quantised space's architecture (`mbv3+quant`)
is the accuracy after post-training quantisation at its bits (`hwnas.models.quant`), its
ranges observed on the same calibration images. The checkpoint's
space and dataset must be the study's; `--data` (the context's data spec) overrides where
the images are read from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hwnas._imports import optional_import
from hwnas.errors import HwnasError, SpecError
from hwnas.metrics import Metric
from hwnas.quality import QualityEstimator, register_quality
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces._restrict import allowed_choices, restrict_flags
from hwnas.spaces.quant import QuantSpace


class SupernetSource(MetricSource):
    """One subnet extraction, recalibration and evaluation per architecture."""

    cheap = False

    def __init__(
        self,
        ctx: EvalContext,
        metric: Metric,
        checkpoint: Path,
        calib_images: int,
        eval_images: int | None = None,
    ) -> None:
        optional_import("torch", "the supernet quality estimator")
        self.ctx = ctx
        self.metric = metric.name
        self.split = "test" if metric.base == "test_accuracy" else "val"
        self.checkpoint = checkpoint
        self.calib_images = calib_images
        self.eval_images = eval_images
        from hwnas.supernet import read_meta, trained_restriction

        meta = read_meta(checkpoint)
        # a quantised space's networks are its wrapped space's, quantised after extraction
        self.space = ctx.space.base if isinstance(ctx.space, QuantSpace) else ctx.space
        if meta["space"] != self.space.name or meta["dataset"] != ctx.dataset:
            raise HwnasError(
                f"supernet checkpoint {checkpoint} was trained for {meta['space']}/"
                f"{meta['dataset']}, not {self.space.name}/{ctx.dataset}"
            )
        _check_extent(checkpoint, ctx.space, self.space, trained_restriction(meta, checkpoint))

    def check(self) -> None:
        """Load the supernet and the images now: weights that do not fit it, or data that
        is missing or has other classes, would fail every evaluation alike."""
        super().check()
        from hwnas.supernet import check_evaluable

        check_evaluable(self.checkpoint, self.ctx.data)

    def evaluate_one(self, arch: Any) -> Measurement:
        from hwnas.supernet import evaluate_subnet

        bits = None
        if isinstance(self.ctx.space, QuantSpace):  # the float subnet, then its bits
            arch, bits = self.ctx.space.base_arch(arch), self.ctx.space.policy(arch)
        acc, prov = evaluate_subnet(
            self.checkpoint, arch, split=self.split, data=self.ctx.data,
            calib_images=self.calib_images, eval_images=self.eval_images, bits=bits,
        )  # fmt: skip
        return Measurement(acc, prov)


def _check_extent(
    checkpoint: Path, searched_space: Any, space: Any, trained: dict[str, list[str]] | None
) -> None:
    """A supernet trained on a sub-space serves only searches inside it: refuse the others
    before the search (their evaluations outside would all fail), naming the flags.
    `searched_space` is the study's (a quantised one adds bit dimensions to `space`)."""
    if not trained:
        return
    inside = allowed_choices(space, trained)
    restriction = getattr(searched_space, "restriction", None)
    by_name = dict(
        zip(
            (d.name for d in searched_space.dimensions),
            allowed_choices(searched_space, restriction),
        )
    )
    searched = [by_name[d.name] for d in space.dimensions]
    outside = [
        f"{dim.name}={','.join(str(dim.choices[c]) for c in sorted(set(s) - set(i)))}"
        for dim, s, i in zip(space.dimensions, searched, inside)
        if not set(s) <= set(i)
    ]
    if outside:
        raise HwnasError(
            f"supernet {checkpoint} was trained on a sub-space of {space.name} that leaves out "
            f"{'; '.join(outside[:4])}{' ...' if len(outside) > 4 else ''}; search inside it: "
            f"{restrict_flags(trained)}"
        )


#: training images the batch norms are recalibrated on, unless `calib=N` says otherwise
DEFAULT_CALIB_IMAGES = 2000

_OPTION = re.compile(r"^\s*(calib|val)\s*=\s*(\d+)\s*$")


def parse_spec(spec: str) -> tuple[Path, dict[str, int]]:
    """`CHECKPOINT[,calib=N][,val=N]` -> (checkpoint path, options). Options are read from
    the end, so a path may itself contain commas; `hwnas export` reads the same spec to
    find the run's checkpoint."""
    path = spec.strip()
    options: dict[str, int] = {}
    while "," in path:
        head, _, tail = path.rpartition(",")
        match = _OPTION.match(tail)
        if match is None:
            if re.match(r"^\s*\w+\s*=", tail) and not Path(path.strip()).expanduser().exists():
                raise SpecError(f"supernet option {tail.strip()!r}: the options are calib=N, val=N")
            break
        options.setdefault(match[1], int(match[2]))
        path = head
    if not path.strip():
        raise SpecError("quality supernet needs a checkpoint: supernet:CHECKPOINT.safetensors")
    if options.get("val") == 0:
        raise SpecError("supernet option val=0: evaluate on at least one image")
    return Path(path.strip()).expanduser(), options


@register_quality("supernet")
class SupernetQuality(QualityEstimator):
    description = (
        "validation accuracy of the subnet taken out of a trained supernet, batch norms "
        "recalibrated; supernet:CHECKPOINT.safetensors[,calib=2000][,val=N] (train with "
        "`hwnas supernet train`)"
    )

    def __init__(
        self,
        checkpoint: str = "",
        calib_images: int = DEFAULT_CALIB_IMAGES,
        eval_images: int | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.calib_images = calib_images
        self.eval_images = eval_images

    @classmethod
    def with_spec(cls, spec: str) -> SupernetQuality:
        path, options = parse_spec(spec)
        return cls(str(path), options.get("calib", DEFAULT_CALIB_IMAGES), options.get("val"))

    def fidelity(self, option: str, ctx: EvalContext) -> str:
        """`val=N` and/or `calib=N` (`val=500,calib=500`): fewer validation images
        evaluated, or fewer training images calibrating the batch norms, than here."""
        from hwnas.supernet import BATCH_NORM_FREE, read_meta

        path, options = Path(self.checkpoint), {"calib": self.calib_images}
        for part in option.split(","):
            match = _OPTION.match(part)
            if match is None:
                raise SpecError(f"fidelity {option!r}: the supernet's are val=N and calib=N")
            options[match[1]] = int(match[2])
            space = read_meta(path)["space"]
            if match[1] == "calib" and space in BATCH_NORM_FREE:
                raise SpecError(
                    f"fidelity {option!r}: a {space} supernet has no batch norms to calibrate, "
                    "so calib= is no cheaper; use val=N"
                )
        calib, val = options["calib"], options.get("val")
        if val == 0:
            raise SpecError(f"fidelity {option!r}: evaluate on at least one image")
        if calib > self.calib_images or (calib == self.calib_images and val is None):
            raise SpecError(f"fidelity {option!r} is not cheaper than {self.spec()!r}")
        if val is not None and self.eval_images is not None and val >= self.eval_images:
            raise SpecError(f"fidelity {option!r} is not cheaper than {self.spec()!r}")
        if val is not None and self.eval_images is None:
            from hwnas.supernet import evaluation_part

            if not evaluation_part(path, ctx.data, "val", val)[1]:  # val= the whole split
                raise SpecError(f"fidelity {option!r} is not cheaper than {self.spec()!r}")
        return SupernetQuality(
            str(path), calib, val if val is not None else self.eval_images
        ).spec()

    def spec(self) -> str:
        """The `--quality` spec of this estimator."""
        val = f",val={self.eval_images}" if self.eval_images is not None else ""
        return f"supernet:{self.checkpoint},calib={self.calib_images}{val}"

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        if not self.checkpoint:
            raise SpecError("quality supernet needs a checkpoint: supernet:CHECKPOINT.safetensors")
        return SupernetSource(
            ctx, metric, Path(self.checkpoint).expanduser(), self.calib_images, self.eval_images
        )
