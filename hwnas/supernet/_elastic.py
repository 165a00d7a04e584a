"""The elastic MobileNetV3 supernet: one set of the largest weights from which every network
of the `mbv3` space (or of `mbv3-tiny`, its small-input layout) is a slice (Once-for-All /
BigNAS weight sharing).

- width and expand ratio: the leading output / input channels of each weight;
- kernel size: the centre crop of the largest (7x7) depthwise kernel;
- depth: the first blocks of each stage;
- resolution: the input is resized before the network.

With `static_shapes=True` every weight is instead zero-padded back to its largest size, so
each layer runs at one shape per input resolution and the inactive channels stay zero. The
outputs, gradients and batch-norm updates are those of the slices (float rounding apart),
at the largest network's compute: on a GPU this is far faster, because cuDNN plans every
new convolution shape anew (measured on an H200: 23 s for the first sandwich step of
sliced shapes, against 58 ms for a step of the fixed-shape largest subnet).

The forward pass reads the same plan (`MBV3Space.plan`) as the static builder
(`hwnas.models.mbv3`), and uses the same operations in the same order, so a subnet's
outputs equal those of the static network with the sliced weights copied in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.errors import UnknownNameError
from hwnas.spaces._base import Architecture, SearchSpace
from hwnas.spaces._restrict import allowed_choices
from hwnas.spaces.mbv3 import DEPTHS, MAX_DEPTH, STAGES, BlockConfig, MBV3Space, make_divisible

#: the spaces whose every network is a slice of one elastic supernet
SUPERNET_SPACES: tuple[str, ...] = ("mbv3", "mbv3-tiny", "vit")
#: those of them `MBV3Supernet` holds
MBV3_SPACES: tuple[str, ...] = ("mbv3", "mbv3-tiny")


def supernet_space(name: str, restrict: Mapping[str, Sequence[Any]] | None = None) -> Any:
    """The space (or the sub-space `restrict` leaves of it) a supernet of this name holds;
    other names are refused, listing these."""
    from hwnas.spaces import get_space
    from hwnas.spaces._restrict import restrict_space

    if name not in SUPERNET_SPACES:
        raise UnknownNameError("space with a supernet", name, SUPERNET_SPACES)
    return restrict_space(get_space(name), restrict)


def _extreme(space: SearchSpace, largest: bool) -> Architecture:
    """Every dimension at the largest (or smallest) choice its space allows: numeric choices
    by value, the others by position (their dimensions list the largest first, as `vit`'s
    patch levels `fine`, `coarse`)."""
    allowed = allowed_choices(space, getattr(space, "restriction", None))
    genes = []
    for dim, ok in zip(space.dimensions, allowed):
        if all(isinstance(dim.choices[i], (int, float)) for i in ok):
            pick = max if largest else min
            genes.append(pick(ok, key=lambda i: dim.choices[i]))
        else:
            genes.append(min(ok) if largest else max(ok))
    return space.make(genes)


def largest_arch(space: SearchSpace) -> Architecture:
    """Widest, deepest, largest kernels and expand ratios, full resolution."""
    return _extreme(space, largest=True)


def smallest_arch(space: SearchSpace) -> Architecture:
    """Narrowest, shallowest, smallest kernels and expand ratios, lowest resolution."""
    return _extreme(space, largest=False)


def make_supernet(
    name: str,
    dataset: str,
    classes: int | None = None,
    restrict: Mapping[str, Sequence[Any]] | None = None,
) -> nn.Module:
    """The supernet of space `name` (restricted to `restrict`) for `dataset`, with `classes`
    outputs: an `MBV3Supernet` (its weights always the whole space's) or a `VitSupernet`
    (the sub-space's largest weights only: a CPU-sized transformer supernet)."""
    space = supernet_space(name, restrict)
    if name == "vit":
        from hwnas.supernet._vit import VitSupernet

        return VitSupernet(space, dataset, classes, largest_arch(space))
    return MBV3Supernet(dataset, classes, name)


def _pad_to(t: torch.Tensor, full: torch.Size, centred: int = 0) -> torch.Tensor:
    """`t`, a leading slice of a tensor of shape `full` whose last `centred` dimensions are a
    centre crop, zero-padded back to `full` (differentiable: gradients reach the slice)."""
    pad: list[int] = []
    for i in reversed(range(t.dim())):
        missing = full[i] - t.shape[i]
        assert missing >= 0, f"a slice of shape {tuple(t.shape)} does not fit in {tuple(full)}"
        pad += [missing // 2, missing - missing // 2] if i >= t.dim() - centred else [0, missing]
    return F.pad(t, pad) if any(pad) else t


def _act(x: torch.Tensor, name: str | None) -> torch.Tensor:
    if name is None:
        return x
    return F.hardswish(x) if name == "hswish" else F.relu(x)


class ElasticConvBN(nn.Module):
    """Conv (no bias) + BatchNorm at their largest size; `forward` uses the leading
    `cout` x `cin` channels and the centre `kernel` x `kernel` of the weights. Depthwise when
    `depthwise` (groups = channels)."""

    def __init__(self, cin: int, cout: int, kernel: int, depthwise: bool = False) -> None:
        super().__init__()
        self.depthwise = depthwise
        self.conv = nn.Conv2d(
            cin, cout, kernel, 1, kernel // 2, groups=cout if depthwise else 1, bias=False
        )
        self.bn = nn.BatchNorm2d(cout)

    def weight(self, cout: int, cin: int, kernel: int) -> torch.Tensor:
        w = self.conv.weight
        full = w.shape[-1]
        start = (full - kernel) // 2
        w = w[:cout] if self.depthwise else w[:cout, :cin]
        return w[:, :, start : start + kernel, start : start + kernel]

    def bn_tensors(self, cout: int) -> dict[str, torch.Tensor]:
        bn = self.bn
        assert bn.running_mean is not None and bn.running_var is not None
        return {
            "weight": bn.weight[:cout],
            "bias": bn.bias[:cout],
            "running_mean": bn.running_mean[:cout],
            "running_var": bn.running_var[:cout],
        }

    def forward(
        self,
        x: torch.Tensor,
        cout: int,
        kernel: int,
        stride: int,
        act: str | None,
        cin: int | None = None,
    ) -> torch.Tensor:
        """`cin` None: `x` holds just the active input channels and the weights are sliced;
        otherwise `x` has every channel (the first `cin` active, the rest zero) and the
        weights are zero-padded to their full size (static shapes)."""
        bn = self.bn
        momentum = _momentum(bn, self.training)
        if cin is None:
            groups = cout if self.depthwise else 1
            w = self.weight(cout, x.shape[1], kernel)
            x = F.conv2d(x, w, None, stride, kernel // 2, 1, groups)
            t = self.bn_tensors(cout)
            # the slices of the running statistics are views: training updates the buffers
            x = F.batch_norm(
                x, t["running_mean"], t["running_var"], t["weight"], t["bias"],
                self.training, momentum, bn.eps,
            )  # fmt: skip
            return _act(x, act)
        full = self.conv.weight
        w = _pad_to(self.weight(cout, cin, kernel), full.shape, centred=2)
        x = F.conv2d(x, w, None, stride, full.shape[-1] // 2, 1, self.conv.groups)
        assert bn.running_mean is not None and bn.running_var is not None
        mean, var = bn.running_mean, bn.running_var
        if self.training:  # update the active channels' statistics only
            mean, var = mean.clone(), var.clone()
        # zero scale and shift keep the inactive channels at zero
        scale = _pad_to(bn.weight[:cout], bn.weight.shape)
        shift = _pad_to(bn.bias[:cout], bn.bias.shape)
        x = F.batch_norm(x, mean, var, scale, shift, self.training, momentum, bn.eps)
        if self.training:
            with torch.no_grad():
                bn.running_mean[:cout] = mean[:cout]
                bn.running_var[:cout] = var[:cout]
        return _act(x, act)


def _momentum(bn: nn.BatchNorm2d, training: bool) -> float:
    """The factor `F.batch_norm` updates running statistics by, as `nn.BatchNorm2d` computes
    it: a training step counts a batch, and momentum None means the cumulative average
    over the batches counted (what batch-norm recalibration sets)."""
    if training and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
    if bn.momentum is not None:
        return bn.momentum
    if bn.num_batches_tracked is None:
        return 0.0
    return 1.0 / max(int(bn.num_batches_tracked), 1)


class ElasticSE(nn.Module):
    """Squeeze-excite at its largest size; a subnet with `c` channels squeezes to
    `make_divisible(c / 4)`, the leading rows and columns of both 1x1 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeeze = make_divisible(channels / 4)
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def tensors(self, channels: int) -> dict[str, torch.Tensor]:
        sq = make_divisible(channels / 4)
        assert self.reduce.bias is not None and self.expand.bias is not None
        return {
            "reduce.weight": self.reduce.weight[:sq, :channels],
            "reduce.bias": self.reduce.bias[:sq],
            "expand.weight": self.expand.weight[:channels, :sq],
            "expand.bias": self.expand.bias[:channels],
        }

    def forward(self, x: torch.Tensor, channels: int | None = None) -> torch.Tensor:
        """`channels` None: `x` holds the active channels; otherwise all, the first
        `channels` active (static shapes: the weights are zero-padded)."""
        t = self.tensors(x.shape[1] if channels is None else channels)
        if channels is not None:
            t = {k: _pad_to(v, self.get_parameter(k).shape) for k, v in t.items()}
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.relu(F.conv2d(s, t["reduce.weight"], t["reduce.bias"]))
        s = F.conv2d(s, t["expand.weight"], t["expand.bias"])
        return x * F.hardsigmoid(s)


class ElasticBlock(nn.Module):
    """An inverted-residual block at its largest configuration `cfg`."""

    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        mid = cfg.mid_ch
        self.has_expand = mid != cfg.in_ch
        self.expand = ElasticConvBN(cfg.in_ch, mid, 1) if self.has_expand else None
        self.depthwise = ElasticConvBN(mid, mid, cfg.kernel, depthwise=True)
        self.se = ElasticSE(mid) if cfg.se else None
        self.project = ElasticConvBN(mid, cfg.out_ch, 1)

    def forward(
        self, x: torch.Tensor, cfg: BlockConfig, static_shapes: bool = False
    ) -> torch.Tensor:
        out = x
        mid = cfg.mid_ch
        if mid != cfg.in_ch:
            assert self.expand is not None
            out = self.expand(out, mid, 1, 1, cfg.act, cfg.in_ch if static_shapes else None)
        out = self.depthwise(
            out, mid, cfg.kernel, cfg.stride, cfg.act, mid if static_shapes else None
        )
        if self.se is not None:
            out = self.se(out, mid if static_shapes else None)
        out = self.project(out, cfg.out_ch, 1, 1, None, mid if static_shapes else None)
        return x + out if cfg.residual else out


class ElasticHead(nn.Module):
    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.expand = ElasticConvBN(spec["in_ch"], spec["mid_ch"], 1)
        self.feature = nn.Linear(spec["mid_ch"], spec["last_ch"])
        self.classifier = nn.Linear(spec["last_ch"], spec["classes"])

    def tensors(self, mid: int, last: int) -> dict[str, torch.Tensor]:
        return {
            "feature.weight": self.feature.weight[:last, :mid],
            "feature.bias": self.feature.bias[:last],
            "classifier.weight": self.classifier.weight[:, :last],
            "classifier.bias": self.classifier.bias,
        }

    def forward(
        self, x: torch.Tensor, spec: dict[str, Any], static_shapes: bool = False
    ) -> torch.Tensor:
        cin = spec["in_ch"] if static_shapes else None
        x = self.expand(x, spec["mid_ch"], 1, 1, "hswish", cin)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        t = self.tensors(spec["mid_ch"], spec["last_ch"])
        if static_shapes:
            t = {k: _pad_to(v, self.get_parameter(k).shape) for k, v in t.items()}
        x = F.hardswish(F.linear(x, t["feature.weight"], t["feature.bias"]))
        return F.linear(x, t["classifier.weight"], t["classifier.bias"])


class MBV3Supernet(nn.Module):
    """Every network of the `mbv3` space (or `mbv3-tiny`) for one dataset, as slices of the
    largest.

    >>> net = MBV3Supernet("fashion-mnist")
    >>> logits = net(images, space.parse("w1|r0.75|k3e3,k3e3|..."))

    The input is given at the dataset's native side and resized to the architecture's; the
    classifier has `classes` outputs (default: the dataset's), those of the training data."""

    def __init__(self, dataset: str, classes: int | None = None, space: str = "mbv3") -> None:
        super().__init__()
        if space not in MBV3_SPACES:
            raise UnknownNameError("space of an MBV3 supernet", space, MBV3_SPACES)
        self.space: MBV3Space = supernet_space(space)
        self.dataset = dataset
        self.max_plan = self.space.plan(largest_arch(self.space), dataset, classes)
        self.classes: int = self.max_plan["head"]["classes"]
        self.stem = ElasticConvBN(
            self.max_plan["stem"]["in_ch"], self.max_plan["stem"]["out_ch"], 3
        )
        blocks = self.max_plan["blocks"]
        self.first = ElasticBlock(blocks[0])
        self.stages = nn.ModuleList()
        for s in range(len(STAGES)):
            cfgs = blocks[1 + s * MAX_DEPTH : 1 + (s + 1) * MAX_DEPTH]
            self.stages.append(nn.ModuleList([ElasticBlock(c) for c in cfgs]))
        self.head = ElasticHead(self.max_plan["head"])

    def layout(
        self, arch: Architecture
    ) -> tuple[dict[str, Any], list[tuple[ElasticBlock, BlockConfig]]]:
        """The architecture's plan and each of its blocks beside the supernet block whose
        weights it uses."""
        plan = self.space.plan(arch, self.dataset, self.classes)
        cfgs = plan["blocks"]
        pairs = [(self.first, cfgs[0])]
        i = 1
        for s in range(len(STAGES)):
            for b in range(DEPTHS[arch.genes[2 + s]]):
                pairs.append((self.stages[s][b], cfgs[i]))  # type: ignore[index]
                i += 1
        return plan, pairs

    def forward(
        self, x: torch.Tensor, arch: Architecture, static_shapes: bool = False
    ) -> torch.Tensor:
        """Logits of `arch`. `static_shapes`: run every layer at its largest size with
        zero-padded weights (the same outputs; one shape per resolution, for cuDNN)."""
        plan, pairs = self.layout(arch)
        side = plan["input"][1]
        if x.shape[-1] != side or x.shape[-2] != side:
            x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        stem = plan["stem"]
        cin = stem["in_ch"] if static_shapes else None
        x = self.stem(x, stem["out_ch"], 3, stem["stride"], "hswish", cin)
        for block, cfg in pairs:
            x = block(x, cfg, static_shapes)
        return self.head(x, plan["head"], static_shapes)
