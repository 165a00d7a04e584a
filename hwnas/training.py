"""Training and evaluating plain PyTorch image classifiers on a dataset split (the `torch`
extra). One loop serves stand-alone training, fine-tuning an exported network and the
stand-alone baselines the supernet is validated against, so they share one schedule:
SGD with Nesterov momentum (or AdamW, for transformers), cosine learning rate per step,
label smoothing, light augmentation (random flips and shifts), `channels_last` memory
format."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

from hwnas.errors import HwnasError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from hwnas.datasets import Split

_Reported = ParamSpec("_Reported")
#: called after each optimiser step with (steps done, total steps) and what else the loop
#: reports: the supernet's training takes a `Progress[[float]]` (the step's mean loss)
Progress = Callable[Concatenate[int, int, _Reported], None]
#: what `fit` calls after each step: (steps done, total steps)
StepCallback = Progress[[]]


#: the optimisers a schedule can name
OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw")
#: share of an AdamW schedule's steps spent warming the learning rate up linearly
ADAMW_WARMUP = 0.05


@dataclass(frozen=True)
class Schedule:
    """One training schedule, shared by `TrainConfig` and the supernet's configuration.
    The defaults suit a few epochs on 28-32 px images."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 4e-5
    label_smoothing: float = 0.1
    augment: bool = True
    seed: int = 0
    #: `sgd` (Nesterov, as OFA and BigNAS train convolutional networks) or `adamw` (as
    #: DeiT and AutoFormer train transformers: SGD barely moves a ViT in a few epochs)
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise HwnasError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise HwnasError(f"lr must be positive, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise HwnasError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig(Schedule):
    """A schedule and the device it runs on."""

    device: str = "auto"


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when PyTorch sees a GPU, else the CPU; asking for a device that is
    not there is an error rather than a silent fallback."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise HwnasError(f"device {name!r} requested but PyTorch sees no CUDA GPU")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise HwnasError(f"unknown device {name!r} (use auto, cpu or cuda[:N])") from exc


def image_tensors(split: Split, input_shape: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A split as float inputs of `input_shape` (C, H, W) and int64 labels, on the CPU."""
    import torch

    from hwnas.datasets import to_float_images

    c, h, w = input_shape
    if h != w:
        raise HwnasError(f"square inputs only, got {h}x{w}")
    return to_float_images(split.x, c, h), torch.from_numpy(split.y).long()


def batch_indices(
    n: int, batch_size: int, generator: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    """Index batches over `n` items, shuffled when a generator is given, in order otherwise."""
    import torch

    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def augment(x: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random horizontal flips per image and one random shift (zero-padded) per batch:
    cheap enough not to slow a CPU run, enough to curb over-fitting on small images."""
    import torch
    import torch.nn.functional as F

    flip = torch.rand(len(x), generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if max_shift:
        dy, dx = (
            int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=generator)
        )
        h, w = x.shape[2:]
        padded = F.pad(x, (max_shift,) * 4)
        x = padded[:, :, max_shift + dy : max_shift + dy + h, max_shift + dx : max_shift + dx + w]
    return x


def make_optimizer(
    params: Any, config: Schedule, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """SGD (Nesterov) with a per-step cosine schedule, as OFA and BigNAS train; or AdamW
    with a linear warm-up over the first 5% of the steps, then cosine, the schedule DeiT
    and AutoFormer train transformers with (`momentum` unused). Weight decay applies to
    every parameter: DeiT's exemption of norms, biases and embeddings is not made."""
    import math

    import torch

    total = max(1, total_steps)
    if config.optimizer == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(
            params, lr=config.lr, weight_decay=config.weight_decay
        )
        warm = max(1, round(ADAMW_WARMUP * total))

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

        return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)
    opt = torch.optim.SGD(
        params,
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        nesterov=config.momentum > 0,
    )
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)


def fit(
    model: nn.Module,
    train: Split,
    input_shape: Sequence[int],
    config: TrainConfig = TrainConfig(),
    on_step: StepCallback | None = None,
) -> nn.Module:
    """Train `model` in place on `train` with `config`'s schedule; returns it in eval mode.
    The same seed and data give the same batches and augmentations."""
    import torch
    import torch.nn.functional as F

    device = resolve_device(config.device)
    x, y = image_tensors(train, input_shape)
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = -(-len(y) // config.batch_size)
    total = steps_per_epoch * config.epochs
    model.to(device).to(memory_format=torch.channels_last).train()  # type: ignore[call-overload]
    opt, schedule = make_optimizer(model.parameters(), config, total)
    done = 0
    for _ in range(config.epochs):
        for idx in batch_indices(len(y), config.batch_size, generator):
            xb = augment(x[idx], generator) if config.augment else x[idx]
            xb = xb.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(
                model(xb), y[idx].to(device), label_smoothing=config.label_smoothing
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            done += 1
            if on_step is not None:
                on_step(done, total)
    return model.eval()


def predict_logits(
    model: nn.Module, x: torch.Tensor, batch_size: int = 512, device: str = "auto"
) -> torch.Tensor:
    """The model's logits for inputs `x`, in eval mode without gradients, on the CPU."""
    import torch

    dev = resolve_device(device)
    model.to(dev).eval()
    out = []
    with torch.no_grad():
        for idx in batch_indices(len(x), batch_size):
            xb = x[idx].to(dev).contiguous(memory_format=torch.channels_last)
            out.append(model(xb).float().cpu())
    return torch.cat(out)


def evaluate(
    model: nn.Module,
    split: Split,
    input_shape: Sequence[int],
    batch_size: int = 512,
    device: str = "auto",
) -> float:
    """Top-1 accuracy in percent of `model` on `split`."""
    x, y = image_tensors(split, input_shape)
    logits = predict_logits(model, x, batch_size, device)
    return float((logits.argmax(1) == y).float().mean()) * 100.0
