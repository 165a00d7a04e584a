"""Training the supernet in the BigNAS style: each step trains the largest subnet on the
labels, then the smallest and `n_random` random subnets on the largest's soft labels
(in-place distillation; with `distill=False`, on the labels too), accumulating the
gradients of all of them before one SGD step.

Resume gives the same weights as an uninterrupted run: every random choice of a step (the
subnets, the augmentation) comes from generators seeded by (seed, step) and the batch order
from one seeded by (seed, epoch), so the step number is the whole random state; the
checkpoint holds the weights, the momentum buffers and the schedule's state."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._io import number
from hwnas.errors import HwnasError
from hwnas.supernet._checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from hwnas.training import Progress, Schedule

#: learning rate and weight decay of each optimiser, unless given
OPTIMIZER_DEFAULTS: dict[str, dict[str, float]] = {
    "sgd": {"lr": 0.05, "weight_decay": 4e-5},
    "adamw": {"lr": 1e-3, "weight_decay": 0.05},
}


@dataclass(frozen=True)
class SupernetConfig(Schedule):
    """Everything that determines a trained supernet (the device excepted): the schedule
    `fit` uses, what is trained on, and the sandwich rule's settings. Stored flat in the
    checkpoint (`as_dict`), as it always was."""

    space: str = "mbv3"
    dataset: str = "fashion-mnist"
    data: str = "fashion-mnist"
    n_random: int = 2
    #: the smaller subnets learn the largest's soft labels (in-place distillation) rather
    #: than the labels; a teacher that is itself barely trained (short schedules) may
    #: teach them less than the labels do
    distill: bool = True
    #: train on the first N images of a seeded shuffle of the training split (None: all)
    train_images: int | None = None
    split_seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    #: also checkpoint every this many steps (None: at the end of each epoch only)
    checkpoint_every: int | None = None
    #: train the sub-space `{dimension pattern: [choices]}` only (the CLI's --restrict):
    #: a `vit` supernet then holds just that sub-space's largest weights
    restrict: dict[str, list[str]] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.restrict is not None:  # as JSON stores it, so a resume compares equal
            normal = {str(k): [str(v) for v in vs] for k, vs in sorted(self.restrict.items())}
            object.__setattr__(self, "restrict", normal or None)
        if self.n_random < 0:
            raise HwnasError(f"n_random must be at least 0, got {self.n_random}")
        if self.train_images is not None and self.train_images < 1:
            raise HwnasError(f"train_images must be at least 1, got {self.train_images}")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise HwnasError(f"checkpoint_every must be at least 1, got {self.checkpoint_every}")

    @classmethod
    def for_space(cls, space: str, **changes: Any) -> SupernetConfig:
        """A configuration with the optimiser a space trains with by default (AdamW at lr
        1e-3, weight decay 0.05 for `vit`; SGD at 0.05, 4e-5 for the convolutional spaces)
        and its learning rate and weight decay, unless `changes` give them. `vit` trains
        without augmentation by default: on short CPU schedules the flips and shifts slowed
        a ViT far more than they curbed over-fitting (docs/benchmarks/supernet.md)."""
        optimizer = changes.get("optimizer") or ("adamw" if space == "vit" else "sgd")
        base = {"space": space, "optimizer": optimizer, **OPTIMIZER_DEFAULTS[optimizer]}
        if space == "vit":  # shifts move a ViT's patch grid: 52% vs 73% after 375 steps
            base["augment"] = False
        return cls(**{**base, **{k: v for k, v in changes.items() if v is not None}})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SupernetConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@lru_cache(maxsize=4)
def dataset_split(data: str, val_fraction: float, test_fraction: float, seed: int) -> Any:
    """The loaded dataset `data`, split deterministically (cached: searches reuse it)."""
    from hwnas.datasets import load_dataset

    return load_dataset(data).split(val_fraction, test_fraction, seed)


def check_data(data: str, ds: Any, checkpoint: Path, classes: int) -> None:
    """The data must have the classes the supernet's classifier was trained for."""
    if ds.num_classes != classes:
        raise CheckpointError(
            f"data {data!r} has {ds.num_classes} classes but supernet {checkpoint} was trained "
            f"on {classes}; give data with {classes} classes or train a supernet on this data"
        )


def training_subset(config: SupernetConfig) -> tuple[Any, Any]:
    """(the split dataset, the training images used) for a configuration."""
    ds = dataset_split(config.data, config.val_fraction, config.test_fraction, config.split_seed)
    train = ds.train
    if config.train_images is not None and config.train_images < len(train):
        order = np.random.default_rng(config.split_seed).permutation(len(train))
        train = train.take(np.sort(order[: config.train_images]))
    return ds, train


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def _restore(
    out: Path, ckpt: Any, net: Any, opt: Any, schedule: Any, total: int
) -> tuple[int, list[Any], float, float]:
    """Load a checkpoint's weights, momentum and schedule into a fresh run; returns its
    step, history, elapsed seconds and running epoch loss. A tensor of the wrong shape or
    edited metadata is a `CheckpointError` (it was a traceback, or a crash steps later)."""
    meta = ckpt.meta
    try:
        net.load_state_dict(ckpt.model_state())
        opt.load_state_dict(ckpt.optimizer_state())
        for group in opt.param_groups:  # SGD would fail on a wrong-shaped buffer steps later
            for param in group["params"]:
                for key, value in opt.state.get(param, {}).items():
                    if key != "step" and getattr(value, "shape", param.shape) != param.shape:
                        raise ValueError(f"optimizer {key} of shape {tuple(value.shape)}")
        fresh, stored = schedule.state_dict(), meta["scheduler"]
        if not isinstance(stored, dict) or any(
            type(stored.get(k)) is not type(v) for k, v in fresh.items()
        ):
            raise ValueError(f"scheduler state {stored!r}")
        schedule.load_state_dict(stored)
        step, history = meta["step"], meta["history"]
        if type(step) is not int or not 0 <= step <= total or schedule.last_epoch != step:
            raise ValueError(f"step {step!r} (scheduler at {schedule.last_epoch}, of {total})")
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise ValueError(f"history {history!r} is not a list of epochs")
        elapsed, epoch_loss = (number(meta[k]) for k in ("elapsed_s", "epoch_loss_sum"))
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise _edited(out, exc) from None
    return step, list(history), elapsed, epoch_loss


def _edited(out: Path, exc: BaseException) -> CheckpointError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return CheckpointError(
        f"{out}: cannot resume from it: it was damaged or edited ({first}); train afresh "
        "with another --out"
    )


def train_supernet(
    config: SupernetConfig,
    out: str | Path,
    *,
    resume: bool = False,
    device: str = "auto",
    on_step: Progress[[float]] | None = None,
    static_shapes: bool | None = None,
) -> dict[str, Any]:
    """Train (or, with `resume`, continue) a supernet, checkpointing to `out`; returns the
    final checkpoint's metadata. `resume` with no checkpoint at `out` starts afresh; a
    checkpoint trained with another configuration is refused. `static_shapes` (default: on
    a GPU) runs each subnet at the largest layer shapes with zero-padded weights: the same
    training, without cuDNN planning every new shape (see `MBV3Supernet.forward`)."""
    import torch
    import torch.nn.functional as F

    from hwnas.supernet._elastic import largest_arch, make_supernet, smallest_arch, supernet_space
    from hwnas.training import augment, batch_indices, image_tensors, make_optimizer, resolve_device

    out = Path(out)
    space = supernet_space(config.space, config.restrict)
    space.input_shape(config.dataset)  # unknown dataset -> clear error
    stored: dict[str, Any] | None = None
    if out.exists():
        if not resume:
            raise HwnasError(f"{out} exists; pass --resume to continue it or choose another --out")
        ckpt = load_checkpoint(out)
        stored = ckpt.meta
        # a field added since the checkpoint was written takes its default there
        try:
            stored["config"] = SupernetConfig.from_dict(stored["config"]).as_dict()
        except (TypeError, ValueError, AttributeError) as exc:
            raise _edited(out, exc) from None
        if stored["config"] != config.as_dict():
            diff = [
                f"{k}: {stored['config'].get(k)!r} -> {v!r}"
                for k, v in config.as_dict().items()
                if stored["config"].get(k) != v
            ]
            raise CheckpointError(
                f"{out} was trained with another configuration: {'; '.join(diff)}"
            )
        if stored.get("finished"):
            return stored

    dev = resolve_device(device)
    ds, train = training_subset(config)
    classes = ds.num_classes  # the classifier follows the data, whatever the dataset's shape
    if stored is not None:
        check_data(config.data, ds, out, ckpt.classes)
    x, y = image_tensors(train, space.input_shape(config.dataset))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # the initial weights depend on the seed alone
        net = make_supernet(config.space, config.dataset, classes, config.restrict)
    steps_per_epoch = -(-len(y) // config.batch_size)
    total = steps_per_epoch * config.epochs
    opt, schedule = make_optimizer(net.parameters(), config, total)
    history: list[Any] = []
    step, elapsed, epoch_loss = 0, 0.0, 0.0
    if stored is not None:
        step, history, elapsed, epoch_loss = _restore(out, ckpt, net, opt, schedule, total)
    net.to(dev).to(memory_format=torch.channels_last).train()  # type: ignore[call-overload]
    # optimizer tensors follow their parameters to the device
    for state in opt.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                state[key] = value.to(dev)

    big, small = largest_arch(space), smallest_arch(space)
    static = dev.type == "cuda" if static_shapes is None else static_shapes
    start = time.perf_counter()

    def save(finished: bool) -> dict[str, Any]:
        meta = {
            "space": config.space,
            "dataset": config.dataset,
            "classes": classes,
            "config": config.as_dict(),
            "step": step,
            "epoch": step / steps_per_epoch,
            "steps_per_epoch": steps_per_epoch,
            "total_steps": total,
            "train_images": len(y),
            "finished": finished,
            "scheduler": schedule.state_dict(),
            "history": history,
            "epoch_loss_sum": epoch_loss,
            "elapsed_s": elapsed + time.perf_counter() - start,
            "device": str(dev),
            "static_shapes": static,
            "torch": torch.__version__,
            "data_provenance": ds.provenance,
            "rng": "per-step generators seeded from (seed, step); batch order from (seed, epoch)",
        }
        save_checkpoint(out, net, opt, meta)
        return meta

    while step < total:
        epoch, within = divmod(step, steps_per_epoch)
        order = torch.Generator().manual_seed(_seed(config.seed, epoch))
        batches = list(batch_indices(len(y), config.batch_size, order))[within:]
        for idx in batches:
            gen = torch.Generator().manual_seed(_seed(config.seed, step, 1))
            xb = augment(x[idx], gen) if config.augment else x[idx]
            xb = xb.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
            yb = y[idx].to(dev)
            rng = np.random.default_rng(_seed(config.seed, step, 2))
            archs = [small] + [space.sample(rng) for _ in range(config.n_random)]
            opt.zero_grad(set_to_none=True)
            logits = net(xb, big, static)
            loss = F.cross_entropy(logits, yb, label_smoothing=config.label_smoothing)
            loss.backward()
            losses = [float(loss.detach())]
            soft = F.softmax(logits.detach(), dim=1)
            for arch in archs:
                sub_logits = net(xb, arch, static)
                if config.distill:
                    sub = -(soft * F.log_softmax(sub_logits, dim=1)).sum(1).mean()
                else:
                    sub = F.cross_entropy(sub_logits, yb, label_smoothing=config.label_smoothing)
                sub.backward()
                losses.append(float(sub.detach()))
            opt.step()
            schedule.step()
            step += 1
            epoch_loss += sum(losses) / len(losses)
            if step % steps_per_epoch == 0:
                history.append({"epoch": step // steps_per_epoch, "loss": epoch_loss / steps_per_epoch,
                                "elapsed_s": elapsed + time.perf_counter() - start})  # fmt: skip
                epoch_loss = 0.0
                save(step == total)
            elif config.checkpoint_every and step % config.checkpoint_every == 0:
                save(False)
            if on_step is not None:
                on_step(step, total, sum(losses) / len(losses))
    return load_checkpoint(out).meta
