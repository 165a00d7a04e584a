"""`--quality train`: stand-alone training of each network, seeded, with its schedule in the
provenance; malformed options and spaces that cannot build are refused by name."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import hwnas
from hwnas.metrics import Metric
from hwnas.quality import get_quality
from hwnas.sources import EvalContext
from hwnas.spaces import Architecture, get_space
from hwnas.testing._common import TinySpace


@pytest.mark.parametrize(
    ("spec", "message"),
    [("epochs=0", "at least 1"), ("lr=3", "expected epochs=N"), ("images=5", "at least 10")],
)
def test_malformed_options_are_refused(spec: str, message: str) -> None:
    with pytest.raises(hwnas.SpecError, match=message):
        get_quality(f"train:{spec}")


def test_a_dataset_that_is_not_images_is_refused() -> None:
    ctx = EvalContext(get_space("hat"), get_space("hat").datasets[0], "train")
    with pytest.raises(hwnas.HwnasError, match="not an image dataset"):
        get_quality("train").source(ctx, Metric("accuracy"))


def test_training_is_repeatable_and_says_how_it_was_done() -> None:
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _check_repeatable()
    finally:
        torch.set_num_threads(threads)


def _check_repeatable() -> None:
    space = get_space("fbnet")
    ctx = EvalContext(space, "digits", "train:epochs=2,images=200,seed=1")
    source = get_quality(ctx.quality).source(ctx, Metric("accuracy"))
    arch = space.parse("-".join(["k3_e3"] * 22))
    first, second = source.evaluate([arch])[0], source.evaluate([arch])[0]
    assert first.value == second.value
    assert 0 <= first.value <= 100
    prov = first.provenance
    assert prov["kind"] == "training" and prov["train_images"] == 200
    assert prov["schedule"]["epochs"] == 2 and prov["schedule"]["seed"] == 1


class _LinearDigits(TinySpace):
    """TinySpace whose networks are small MLPs on 8x8 digits (gene a: hidden width), so
    that a test sees training work in seconds."""

    datasets: ClassVar[tuple[str, ...]] = ("digits",)

    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        return (1, 8, 8)

    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        from torch import nn

        hidden = 16 * (arch.genes[0] + 1)
        return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def test_training_learns() -> None:
    """After 1 epoch of the shared schedule the MLP is near chance (~10 %); after 20 on
    digits it is far above (65 % measured), so a training step that did nothing fails."""
    pytest.importorskip("torch")
    space = _LinearDigits()
    arch = space.parse("2-0-0")
    scores = {}
    for epochs in (1, 20):
        ctx = EvalContext(space, "digits", f"train:epochs={epochs}")
        scores[epochs] = get_quality(ctx.quality).source(ctx, Metric("accuracy")).evaluate([arch])
    assert scores[20][0].value > 40.0
    assert scores[20][0].value > scores[1][0].value + 20.0


def test_cheaper_fidelities_are_shorter_training_or_fewer_images() -> None:
    pytest.importorskip("sklearn")
    ctx = EvalContext(get_space("fbnet"), "digits", "train")
    full = get_quality("train:epochs=3")
    assert full.fidelity("epochs=1", ctx) == "train:epochs=1"
    assert full.fidelity("epochs=1, images=100", ctx) == "train:epochs=1,images=100"
    assert get_quality("train").fidelity("images=100", ctx) == "train:images=100"
    for option, message in [
        ("epochs=5", "not cheaper"),
        ("epochs=3", "not cheaper"),
        ("images=100000", "not cheaper"),  # the whole training split, or more
        ("seed=1", "epochs=N and images=N"),
        ("lr=1", "expected epochs=N"),
    ]:
        with pytest.raises(hwnas.SpecError, match=message):
            full.fidelity(option, ctx)
