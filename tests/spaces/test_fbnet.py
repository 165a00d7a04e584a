"""The FBNet space and HW-NAS-Bench's per-layer CIFAR-100 latency table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwnas.errors import SpecError
from hwnas.evaluation import resolve_metric
from hwnas.metrics import parse_metric
from hwnas.sources import EvalContext
from hwnas.spaces import get_space
from hwnas.study import Study
from hwnas.tabular.fbnet import DEVICES, layer_table

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "fbnet_cifar100_hwnasbench_samples.csv.gz"


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_table_reproduces_the_published_samples(device: str) -> None:
    frame = pd.read_csv(SAMPLES)
    genes = np.array([[int(x) for x in s.split("-")] for s in frame["op_idx_list"]])
    base, delta = layer_table(device)
    predicted = base + delta[np.arange(22)[None, :], genes].sum(axis=1)
    np.testing.assert_allclose(predicted, frame[f"{device}_latency_ms"], rtol=0, atol=1e-9)


def test_hw_nas_bench_example_values() -> None:
    """Printed in HW-NAS-Bench's example notebook for [0]*22."""
    space = get_space("fbnet")
    ctx = EvalContext(space, "cifar100")
    arch = space.make([0] * 22)
    source = resolve_metric(ctx, parse_metric("latency@raspi4"))
    value = source.evaluate([arch])[0]
    assert value.value == pytest.approx(17.618579145142576, abs=1e-9)
    assert value.provenance["unit"] == "ms"
    # a table lookup occupies no device: executors must not serialise it per device
    assert source.device is None


def test_metrics_listing_offers_accuracy_only_where_the_estimator_serves_it() -> None:
    from hwnas.errors import UnknownNameError
    from hwnas.evaluation import available_metrics

    fbnet = available_metrics(EvalContext(get_space("fbnet"), "cifar100"))
    assert "accuracy" not in fbnet and "latency@raspi4" in fbnet  # no accuracy table
    nb201 = available_metrics(EvalContext(get_space("nb201"), "cifar10"))
    assert nb201[:2] == ["accuracy", "test_accuracy"]
    with pytest.raises(UnknownNameError, match="quality estimator"):
        available_metrics(EvalContext(get_space("nb201"), "cifar10", "bogus"))


def test_device_names_still_mean_nb201_on_nb201() -> None:
    space = get_space("nb201")
    value = resolve_metric(EvalContext(space, "cifar10"), parse_metric("latency@raspi4"))
    assert value.evaluate([space.parse("0")])[0].value == pytest.approx(10.481976820010459)


def test_keys_and_parsing() -> None:
    space = get_space("fbnet")
    arch = space.parse("7-8-1-8-4-8-8-8-7-4-1-4-7-3-2-7-3-2-4-2-4-5")
    assert arch.key.startswith("k5_e6-skip-k3_e1_g2-skip-")
    assert space.parse(arch.key) == arch
    with pytest.raises(SpecError, match="22 ops"):
        space.parse("0-1-2")
    with pytest.raises(SpecError, match="layer 0"):
        space.parse("-".join(["k9_e1"] + ["0"] * 21))


def test_search_on_fbnet_latencies() -> None:
    study = Study(
        space="fbnet",
        dataset="cifar100",
        objectives=["latency@raspi4:min", "latency@eyeriss:min"],
        strategy="random",
        budget=20,
    ).optimize()
    frame = study.evaluations()
    assert (frame["status"] == "ok").all() and frame["latency@raspi4"].gt(0).all()
