"""Quantisation-aware fine-tuning: it recovers what post-training quantisation loses, it is
repeatable, and the network it returns keeps the float network's structure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from torch import nn

from hwnas.errors import SpecError
from hwnas.models.qat import QatConfig, quantisation_aware, unfold_batchnorms
from hwnas.models.quant import fake_quantise, fold_batchnorms
from hwnas.spaces.quant import BlockBits


def _small_cnn(conv_bias: bool = False) -> nn.Module:
    def block(c_in: int, c_out: int) -> nn.Module:
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=conv_bias)
        return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU())

    return nn.Sequential(
        block(1, 16), block(16, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)
    )


@pytest.fixture(scope="module")
def digits() -> dict[str, Any]:
    """sklearn's digits (8x8), a small CNN trained on 1400 of them for 150 steps (about a
    second on one thread), and the other 397 to validate on."""
    from sklearn.datasets import load_digits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = load_digits()
    x = torch.tensor(data.images[:, None] / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target)
    order = np.random.default_rng(0).permutation(len(y))
    train, val = order[:1400], order[1400:]
    torch.manual_seed(0)
    net = _small_cnn().train()
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for step in range(150):
        idx = torch.from_numpy(np.random.default_rng(step).choice(train, 64))
        loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    return {"net": net.eval(), "x": x, "y": y, "train": train, "val": val}


def _accuracy(model: nn.Module, d: dict[str, Any]) -> float:
    with torch.no_grad():
        predicted = model(d["x"][d["val"]]).argmax(1)
    return 100.0 * float((predicted == d["y"][d["val"]]).float().mean())


def test_qat_recovers_the_accuracy_that_3_bit_weights_lose(digits: dict[str, Any]) -> None:
    d, bits = digits, [BlockBits("all", "", 3, 8)]
    calib, x, y = d["x"][d["train"][:256]], d["x"][d["train"]], d["y"][d["train"]]
    before = {k: v.clone() for k, v in d["net"].state_dict().items()}
    ptq = _accuracy(fake_quantise(d["net"], bits, calib), d)
    tuned, record = quantisation_aware(d["net"], bits, calib, x, y, QatConfig(50))
    qat = _accuracy(fake_quantise(tuned, bits, calib), d)
    # measured: float 91.4%, PTQ at 3 bits 51.1%, 50 QAT steps 95.5%
    assert _accuracy(d["net"], d) - ptq > 20
    assert qat > ptq + 20
    assert record["loss_last_steps"] < record["loss_first_steps"]
    assert record["steps"] == 50 and record["images"] == 1400 and record["seconds"] > 0
    # the float network it started from is untouched
    assert all(torch.equal(v, before[k]) for k, v in d["net"].state_dict().items())
    # repeatable from the seed
    again, _ = quantisation_aware(d["net"], bits, calib, x, y, QatConfig(50))
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in tuned.state_dict().items())
    # the weights it returns are on their 3-bit grid: quantising them again changes nothing
    folded = fold_batchnorms(tuned)
    weight = folded[0][0].weight.detach()
    from hwnas.models.quant import quantise_weight

    assert torch.allclose(quantise_weight(weight, 3), weight, atol=1e-6)
    assert len(torch.unique(weight[0])) <= 7


def test_zero_steps_is_post_training_quantisation(digits: dict[str, Any]) -> None:
    d, bits = digits, [BlockBits("all", "", 4, 8)]
    calib = d["x"][d["train"][:256]]
    tuned, record = quantisation_aware(
        d["net"], bits, calib, d["x"][:64], d["y"][:64], QatConfig(0)
    )
    # zero steps return the post-training-quantised weights themselves
    ptq_weights = fake_quantise(d["net"], bits, calib).state_dict()
    for key, value in fold_batchnorms(tuned).state_dict().items():
        if key.endswith("weight") and value.dim() > 1:
            assert torch.allclose(value, ptq_weights[key.replace(".weight", ".layer.weight")])
    # quantised again, only the activation ranges differ (calibrated on the rounded weights)
    with torch.no_grad():
        ptq = fake_quantise(d["net"], bits, calib)(d["x"][d["val"]])
        again = fake_quantise(tuned, bits, calib)(d["x"][d["val"]])
    assert (ptq.argmax(1) == again.argmax(1)).float().mean() > 0.97
    assert record["loss_first_steps"] is None


@pytest.mark.parametrize("conv_bias", [False, True])
def test_unfolding_keeps_the_folded_function_in_the_networks_own_structure(
    digits: dict[str, Any], conv_bias: bool
) -> None:
    torch.manual_seed(1)
    net = _small_cnn(conv_bias).train()
    with torch.no_grad():  # batch norms with real statistics
        net(digits["x"][:128])
    net.eval()
    folded = fold_batchnorms(net)
    with torch.no_grad():
        folded[0][0].weight.mul_(1.5)  # as training would move it
    unfolded = unfold_batchnorms(net, folded)
    assert list(unfolded.state_dict()) == list(net.state_dict())
    x = digits["x"][:32]
    with torch.no_grad():
        assert torch.allclose(unfolded(x), folded(x), atol=1e-5)
        assert not torch.allclose(unfolded(x), net(x), atol=1e-3)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"steps": -1}, "steps must be a whole number, 0 or more"),
        ({"steps": 1.5}, "steps must be a whole number"),
        ({"steps": 1, "lr": 0.0}, "learning rate must be a positive number"),
        ({"steps": 1, "lr": float("nan")}, "learning rate must be a positive number"),
        ({"steps": 1, "batch_size": 0}, "batch size must be at least 1"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], says: str) -> None:
    with pytest.raises(SpecError, match=says):
        QatConfig(**settings)
