"""The shared training loop: it learns, it is repeatable, its evaluation counts right."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from torch import nn

from hwnas.datasets import Split, load_dataset
from hwnas.errors import HwnasError
from hwnas.training import TrainConfig, evaluate, fit, resolve_device

SHAPE = (1, 8, 8)


def _small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits").split(val_fraction=0.2, test_fraction=0.1, seed=0)


def test_fit_learns_digits_well_above_chance(digits) -> None:
    cfg = TrainConfig(epochs=8, batch_size=64, lr=0.1, augment=False, device="cpu")
    before = evaluate(_small_cnn(), digits.val, SHAPE, device="cpu")
    model = fit(_small_cnn(), digits.train, SHAPE, cfg)
    after = evaluate(model, digits.val, SHAPE, device="cpu")
    assert after > 80.0 > before + 30


def test_fit_is_repeatable_with_one_seed(digits) -> None:
    cfg = TrainConfig(epochs=1, batch_size=64, seed=3, device="cpu")
    a = fit(_small_cnn(), digits.train, SHAPE, cfg)
    b = fit(_small_cnn(), digits.train, SHAPE, cfg)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_fit_reports_every_step(digits) -> None:
    seen: list[tuple[int, int]] = []
    cfg = TrainConfig(epochs=2, batch_size=500, device="cpu")
    fit(_small_cnn(), digits.train, SHAPE, cfg, on_step=lambda d, t: seen.append((d, t)))
    steps = 2 * -(-len(digits.train) // 500)
    assert seen == [(i, steps) for i in range(1, steps + 1)]


class _Oracle(nn.Module):
    """Predicts class 0 for images whose first pixel is dark, else class 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dark = (x[:, 0, 0, 0] < 0).float()
        return torch.stack([dark, 1 - dark], 1)


def test_evaluate_counts_top1_accuracy() -> None:
    x = np.zeros((4, 1, 8, 8), np.uint8)
    x[2:, :, 0, 0] = 255
    split = Split(x, np.array([0, 0, 1, 0]))
    assert evaluate(_Oracle(), split, SHAPE, device="cpu") == pytest.approx(75.0)


def test_bad_devices_and_configs_are_clear_errors() -> None:
    if not torch.cuda.is_available():
        with pytest.raises(HwnasError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(HwnasError, match="unknown device"):
        resolve_device("tpu7")
    with pytest.raises(HwnasError, match="epochs"):
        TrainConfig(epochs=0)
