"""A tiny supernet trained once per test session: scikit-learn's digits as the images,
mbv3's fashion-mnist networks (1x28x28, 10 classes), two steps of eight images."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")
pytest.importorskip("sklearn")


def tiny_config(**changes: object) -> object:
    from hwnas.supernet import SupernetConfig

    base = {
        "data": "digits", "dataset": "fashion-mnist", "epochs": 1, "batch_size": 8,
        "train_images": 16, "n_random": 1, "lr": 0.1,
    }  # fmt: skip
    return SupernetConfig(**{**base, **changes})


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from hwnas.supernet import train_supernet

    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("supernet") / "tiny.safetensors"
    train_supernet(tiny_config(), path, device="cpu")
    return path
