"""Every registered quality estimator passes `hwnas.testing.check_quality` on a space it
serves: the table, the proxy predictor (without proxies it needs no torch; with them it
does), a supernet (a tiny one trained here, on scikit-learn's digits), and stand-alone
training (fbnet networks on digits, one short epoch each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwnas.quality import list_quality
from hwnas.testing import check_quality


def test_every_estimator_is_checked_here() -> None:
    assert list_quality() == ["predictor", "supernet", "tabular", "train"]


def test_tabular() -> None:
    check_quality("tabular", "nb201")


def test_predictor_on_encodings_alone() -> None:
    check_quality("predictor:n=30,proxies=", "nb201")


def test_predictor_with_proxies() -> None:
    pytest.importorskip("torch")
    check_quality("predictor:n=10,proxies=params", "nb201", n=3)


def test_supernet(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from hwnas.supernet import SupernetConfig, train_supernet

    checkpoint = tmp_path / "tiny.safetensors"
    config = SupernetConfig(
        data="digits", dataset="fashion-mnist", epochs=1, batch_size=8, train_images=16,
        n_random=1, lr=0.1,
    )  # fmt: skip
    train_supernet(config, checkpoint, device="cpu")
    spec = f"supernet:{checkpoint},calib=8,val=16"
    check_quality(spec, "mbv3", "fashion-mnist", n=2, data="digits")


def test_train() -> None:
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is the fastest on a loaded machine
    try:
        check_quality("train:epochs=1,images=64", "fbnet", "digits", n=2)
    finally:
        torch.set_num_threads(threads)
