"""The shipped NB201 table: contents match the published optima and provenance."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.cost import get_target
from hwnas.errors import UnknownNameError
from hwnas.evaluation import available_metrics, resolve_metric
from hwnas.metrics import parse_metric
from hwnas.sources import EvalContext
from hwnas.spaces import get_space
from hwnas.tabular.nb201 import DEVICES, load_frame


def ctx(dataset: str = "cifar10") -> EvalContext:
    return EvalContext(get_space("nb201"), dataset)


def test_table_rows_and_published_optima() -> None:
    frame = load_frame()
    assert len(frame) == 15_625 and frame["arch_str"].is_unique
    assert frame["arch_index"].tolist() == list(range(15_625))
    assert frame["cifar10_test_acc_200ep"].max() == pytest.approx(94.373333, abs=1e-5)
    assert frame["cifar100_test_acc_200ep"].max() == pytest.approx(73.513333, abs=1e-5)
    assert frame["imagenet16_test_acc_200ep"].max() == pytest.approx(47.311111, abs=1e-5)
    assert frame["cifar10valid_valid_acc_200ep"].max() == pytest.approx(91.606667, abs=1e-5)


def test_hw_nas_bench_spot_values_of_arch_0() -> None:
    arch = get_space("nb201").parse("0")
    expected = {
        "raspi4": 10.481976820010459,
        "pixel3": 3.60585,
        "eyeriss": 3.64562,
        "fpga": 2.57296,
    }
    for device, value in expected.items():
        m = resolve_metric(ctx(), parse_metric(f"latency@{device}")).evaluate([arch])[0]
        assert m.value == pytest.approx(value, rel=1e-12)
        assert m.provenance["unit"] == "ms" and "HW-NAS-Bench" in m.provenance["source"]


def test_accuracy_is_validation_on_cifar10_and_test_elsewhere() -> None:
    arch = get_space("nb201").parse("6111")
    acc = resolve_metric(ctx(), parse_metric("accuracy")).evaluate([arch])[0]
    assert acc.value == pytest.approx(91.606667, abs=1e-5)
    assert acc.provenance["column"] == "cifar10valid_valid_acc_200ep"
    test = resolve_metric(ctx(), parse_metric("test_accuracy")).evaluate([arch])[0]
    assert test.value == pytest.approx(94.373333, abs=1e-5)
    c100 = resolve_metric(ctx("cifar100"), parse_metric("accuracy")).evaluate([arch])[0]
    assert c100.provenance["column"] == "cifar100_test_acc_200ep"


def test_flops_and_params_follow_the_published_affine_law() -> None:
    arch = get_space("nb201").parse("6111")  # 4 conv3x3, 1 conv1x1, no pooling
    flops = resolve_metric(ctx(), parse_metric("flops")).evaluate([arch])[0].value
    params = resolve_metric(ctx(), parse_metric("params")).evaluate([arch])[0].value
    assert flops == pytest.approx(7.943872 + 35.81952 * 4 + 4.36224, rel=1e-9)
    assert params == pytest.approx(0.073306 + 0.24304 * 4 + 0.028, rel=1e-9)


def test_all_devices_have_complete_columns() -> None:
    assert len(DEVICES) == 27
    for device in DEVICES:
        source = resolve_metric(ctx(), parse_metric(f"latency@{device.name}"))
        keys, values = source.table()
        assert len(keys) == 15_625 and np.isfinite(values).all(), device.name
        assert get_target(device.name).source_ref


def test_unknown_metric_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_metric(ctx(), parse_metric("energy"))
    assert "latency@pixel3" in str(info.value) and "accuracy" in str(info.value)
    assert "flops" in available_metrics(ctx())
    with pytest.raises(UnknownNameError, match="valid: latency"):
        resolve_metric(ctx(), parse_metric("energy@pixel3"))


def test_table_values_say_when_the_search_builds_another_class_count(three_classes: str) -> None:
    """NB201's tables hold CIFAR networks; a search on 3-class data read them silently."""
    arch = get_space("nb201").parse("6111")
    data = EvalContext(get_space("nb201"), "cifar10", data=three_classes)
    for name, tabulated in (("latency@pixel3", 10), ("params", 10), ("flops", 10)):
        value = resolve_metric(data, parse_metric(name)).evaluate([arch])[0]
        assert value.provenance["classes_tabulated"] == tabulated, name
        assert value.provenance["classes_searched"] == 3, name
        plain = resolve_metric(ctx(), parse_metric(name)).evaluate([arch])[0]
        assert plain.value == value.value and "classes_searched" not in plain.provenance
    # the device tables timed CIFAR-10 networks only: a CIFAR-100 search builds 100 classes
    c100 = resolve_metric(ctx("cifar100"), parse_metric("latency@pixel3")).evaluate([arch])[0]
    assert (c100.provenance["classes_tabulated"], c100.provenance["classes_searched"]) == (10, 100)
