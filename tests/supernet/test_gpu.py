"""On a CUDA GPU: the supernet trains, checkpoints and resumes there, its checkpoint moves to
the CPU, subnets are extracted and recalibrated there, and the shared training loop learns
there. Skipped where PyTorch sees no GPU (CI); run on a lent GPU machine."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from hwnas.supernet import load_checkpoint, read_meta, subnet_from_checkpoint, train_supernet

from .conftest import tiny_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


class Killed(Exception):
    pass


def test_trains_and_resumes_on_the_gpu_like_on_the_cpu(checkpoint: Path, tmp_path: Path) -> None:
    path = tmp_path / "gpu.safetensors"
    config = tiny_config(checkpoint_every=1)

    def kill_after_first_step(done: int, total: int, loss: float) -> None:
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        train_supernet(config, path, device="cuda", on_step=kill_after_first_step)
    assert read_meta(path)["step"] == 1 and read_meta(path)["device"].startswith("cuda")
    meta = train_supernet(config, path, device="cuda", resume=True)
    assert meta["finished"] and meta["step"] == 2
    # the CPU run of the same settings: same batches and subnets, float rounding apart
    ref = load_checkpoint(checkpoint).meta
    assert math.isclose(meta["history"][0]["loss"], ref["history"][0]["loss"], rel_tol=1e-2)
    done = load_checkpoint(path)
    assert all(t.device.type == "cpu" for t in done.tensors.values())


def test_subnets_from_a_gpu_checkpoint_evaluate_on_either_device(tmp_path: Path) -> None:
    from hwnas.datasets import load_dataset
    from hwnas.spaces import get_space
    from hwnas.training import evaluate

    path = tmp_path / "gpu.safetensors"
    train_supernet(tiny_config(), path, device="cuda")
    space = get_space("mbv3")
    val = load_dataset("digits").split(0.2, 0.1, 0).val
    accs = {}
    for device in ("cuda", "cpu"):
        net, prov = subnet_from_checkpoint(path, "ofa-min", calib_images=40, device=device)
        assert prov["calibration"]["images"] == 40
        shape = space.arch_input_shape(space.parse("ofa-min"), "fashion-mnist")
        accs[device] = evaluate(net, val, shape, device=device)
    assert abs(accs["cuda"] - accs["cpu"]) <= 2.0, accs  # a few borderline images at most


def test_fit_learns_on_the_gpu() -> None:
    from torch import nn

    from hwnas.datasets import load_dataset
    from hwnas.training import TrainConfig, evaluate, fit

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(64, 10),
    )  # fmt: skip
    digits = load_dataset("digits").split(val_fraction=0.2, test_fraction=0.1, seed=0)
    cfg = TrainConfig(epochs=8, batch_size=64, lr=0.1, augment=False, device="cuda")
    fit(model, digits.train, (1, 8, 8), cfg)
    assert next(model.parameters()).device.type == "cuda"
    assert evaluate(model, digits.val, (1, 8, 8), device="cuda") > 80.0


def test_a_vit_supernet_trains_on_the_gpu_like_on_the_cpu(tmp_path: Path) -> None:
    from hwnas.supernet import SupernetConfig

    restrict = {"embed": ["64", "96"], "depth": ["1", "2"], "heads_*": ["1", "2"]}
    config = SupernetConfig.from_dict(
        {**tiny_config(space="vit", restrict=restrict).as_dict(), "optimizer": "adamw",  # type: ignore[attr-defined]
         "lr": 1e-3, "weight_decay": 0.05, "augment": False}
    )  # fmt: skip
    losses = {}
    for device in ("cuda", "cpu"):
        path = tmp_path / f"vit-{device}.safetensors"
        losses[device] = train_supernet(config, path, device=device)["history"][0]["loss"]
    assert math.isclose(losses["cuda"], losses["cpu"], rel_tol=1e-2), losses
    net, prov = subnet_from_checkpoint(
        tmp_path / "vit-cuda.safetensors", "e96|fine|h2m4,h1m2", data="digits", device="cuda"
    )
    assert prov["calibration"]["images"] == 0 and next(net.parameters()).device.type == "cpu"
