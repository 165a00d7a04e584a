"""Profiles: the fit, JSON round trip, validation, and use as a target in a study."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from hwnas.cost.lut import LatencyPredictor, fit_correction
from hwnas.cost.validate import error_report, kendall_tau, noise_floor
from hwnas.errors import SpecError
from hwnas.spaces import LayeredSpace, get_space
from hwnas.study import Study

#: a tiny sub-space of mbv3 at CIFAR size: depth varies, nothing else (13 lookup entries)
TINY = {"width": [1.0], "resolution": [0.75], "kernel_*": [3], "expand_*": [3]}


def test_fit_recovers_a_linear_law() -> None:
    sums = np.array([1.0, 2.0, 3.5, 4.0, 7.0])
    layers = np.array([10, 12, 11, 15, 20])
    measured = 0.5 + 1.2 * sums + 0.03 * layers
    coef = fit_correction(sums, layers, measured)
    np.testing.assert_allclose(coef, [0.5, 1.2, 0.03], rtol=1e-4, atol=1e-4)
    assert len(fit_correction([2.0], [3], [4.0])) == 3  # one sample still gives an answer
    # with few samples only the scale is fitted, so no network is predicted below zero
    few = fit_correction([1.0, 1.1], [10, 30], [3.0, 2.0])
    assert few[0] == few[2] == 0.0 and few[1] > 0


def test_kendall_tau_and_errors() -> None:
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    rep = error_report([1.0, 2.19, 2.73], [1.0, 2.0, 3.0])
    assert rep["within_5pct"] == pytest.approx(1 / 3) and rep["within_10pct"] == pytest.approx(1.0)
    assert rep["mape"] == pytest.approx((0 + 0.095 + 0.09) / 3)
    floor = noise_floor([[1.0, 1.0, 1.2], [2.0, 2.0, 2.0]])
    assert floor["repeat_within_10pct"] == pytest.approx(5 / 6)
    # split halves: medians of [1.0, 1.2] and [1.0] differ by 0.1 / 1.0
    assert floor["split_half_mape"] == pytest.approx((0.1 + 0.0) / 2)
    assert floor["median_mape_est"] == pytest.approx(floor["split_half_mape"] / 2)


def _synthetic_profile(path: Path) -> LatencyPredictor:
    """A full-coverage profile with made-up table entries (no measuring)."""
    space = get_space("mbv3")
    assert isinstance(space, LayeredSpace)
    units = space.profile_units("cifar10")
    lut = {sig: 0.01 * (1 + i % 7) for i, (sig, _, _) in enumerate(units)}
    meta = {"space": "mbv3", "dataset": "cifar10", "host": "test", "target": "local-cpu"}
    predictor = LatencyPredictor(meta, lut, [0.1, 1.0, 0.0])
    predictor.save(path)
    return predictor


def test_json_round_trip_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    original = _synthetic_profile(path)
    data = json.loads(path.read_text())
    assert data["schema_version"] == 2 and data["kind"] == "hwnas-latency-predictor"
    loaded = LatencyPredictor.load(path)
    arch = get_space("mbv3").parse("mobilenetv3-large")
    assert loaded.predict(arch) == pytest.approx(original.predict(arch))
    # schema 1 (before the reference network) has the same predictor and still loads
    path.write_text(json.dumps({**data, "schema_version": 1}))
    assert LatencyPredictor.load(path).predict(arch) == pytest.approx(original.predict(arch))
    for version in (0, 3):
        path.write_text(json.dumps({**data, "schema_version": version}))
        with pytest.raises(SpecError, match="schema_version"):
            LatencyPredictor.load(path)


def test_the_predictor_and_validation_stay_importable_from_profile() -> None:
    """README and the CLI import them from `hwnas.cost.profile`, where they lived first."""
    from hwnas.cost import lut, profile, sampling, validate

    assert profile.LatencyPredictor is lut.LatencyPredictor
    assert profile.validate is validate.validate
    assert profile.parse_restrict is sampling.parse_restrict


def test_profile_is_a_target_in_a_study(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "p.json"
    _synthetic_profile(path)
    study = Study(
        space="mbv3",
        dataset="cifar10",
        objectives=[f"latency@{path}:min", "params:min"],
        strategy="random",
        budget=4,
    ).optimize()
    frame = study.evaluations()
    assert (frame["status"] == "ok").all(), frame["error"].tolist()
    assert frame[f"latency@{path}"].gt(0).all() and frame["params"].gt(0).all()
    prov = next(iter(study.ledger.rows()))["provenance"]
    assert prov[f"latency@{path}"]["kind"] == "predicted"
    assert prov["params"]["kind"] == "analytic"


def test_accuracy_on_mbv3_fails_clearly() -> None:
    from hwnas.errors import HwnasError

    with pytest.raises(HwnasError, match="no accuracy"):
        Study(space="mbv3", dataset="cifar10", objectives=["accuracy:max", "macs:min"])


def test_profile_and_validate_a_tiny_subspace(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from hwnas.cost.profile import profile
    from hwnas.cost.validate import validate

    predictor = profile("mbv3", "cifar10", samples=3, unit_repeats=2, net_repeats=2, restrict=TINY)
    assert predictor.meta["n_units"] == 13
    ref, training = predictor.meta["reference"], predictor.meta["training"]
    assert ref["arch"] == training["archs"][0] and ref["ms"] > 0
    assert ref["repeats"] == 2 * (2 + 1)  # 13 units in 2 chunks of 8, 3 networks in 1
    assert predictor.meta["threads"] == 1 and predictor.meta["runtime"] == "onnxruntime"
    for key in ("host", "created", "runtime_version", "restrict", "seconds"):
        assert key in predictor.meta
    path = tmp_path / "tiny.json"
    predictor.save(path)
    report = validate(path, n=2, repeats=2)
    assert report["n"] == 2
    assert not {a["arch"] for a in report["archs"]} & set(predictor.meta["training"]["archs"])
    for key in ("rmse_ms", "mape", "within_5pct", "within_10pct", "kendall_tau", "noise_floor"):
        assert key in report
    assert report["measurement"]["threads"] == 1
    assert report["drift"]["reference"] == ref["arch"] and report["drift"]["now_over_profiled"] > 0
    assert report["referenced"]["n"] == 2 and "noise_floor" in report["referenced"]
    for arch in report["archs"]:
        assert arch["referenced_ms"] > 0
    # outside the restriction, the error says why (not "profile again with this version")
    from hwnas.errors import EvaluationError
    from hwnas.spaces import get_space
    from hwnas.spaces.mbv3 import MBV3Space

    space = get_space("mbv3")
    assert isinstance(space, MBV3Space)
    big = space.make([len(d.choices) - 1 for d in space.dimensions])
    with pytest.raises(EvaluationError, match="covers only .*made with --restrict"):
        predictor.predict(big)


def test_profile_without_reference_validates_against_a_training_network(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from hwnas.cost.measure import MeasureConfig
    from hwnas.cost.profile import profile
    from hwnas.cost.validate import validate

    cold = MeasureConfig(block_warmup=0, min_block_runs=1)  # another protocol, recorded
    predictor = profile(
        "mbv3",
        "cifar10",
        samples=2,
        unit_repeats=1,
        net_repeats=1,
        restrict=TINY,
        reference=False,
        config=cold,
    )
    assert predictor.meta["reference"] is None
    assert predictor.meta["measure"]["protocol"]["block_warmup"] == 0
    assert predictor.meta["training"]["measured_ms"] == predictor.meta["training"]["raw_ms"]
    path = tmp_path / "plain.json"
    predictor.save(path)
    report = validate(path, n=1, repeats=1, config=cold)
    assert report["drift"]["reference"] == predictor.meta["training"]["archs"][0]
    assert report["measurement"]["block_warmup"] == 0


def test_old_profiles_without_classes_load_and_price_the_datasets_head(tmp_path: Path) -> None:
    """Profiles from before `classes` was recorded mean the dataset's; a bad count fails."""
    path = tmp_path / "old.json"
    original = _synthetic_profile(path)
    assert "classes" not in json.loads(path.read_text())
    loaded = LatencyPredictor.load(path)
    assert loaded.classes() == 10
    arch = get_space("mbv3").parse("mobilenetv3-large")
    assert loaded.predict(arch) == pytest.approx(original.predict(arch))
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "classes": 10}))  # recorded: the same table
    assert LatencyPredictor.load(path).predict(arch) == pytest.approx(original.predict(arch))
    path.write_text(json.dumps({**data, "classes": "three"}))
    with pytest.raises(SpecError, match="malformed latency profile .*'classes'"):
        LatencyPredictor.load(path)


def test_a_profile_of_another_class_count_is_refused_before_any_evaluation(
    tmp_path: Path, three_classes: str
) -> None:
    """A cifar10 profile priced a 10-class head in a search whose data has 3 classes."""
    pytest.importorskip("torch")
    path = tmp_path / "ten.json"
    _synthetic_profile(path)
    out = tmp_path / "run"
    with pytest.raises(SpecError) as refused:
        Study(
            space="mbv3",
            dataset="cifar10",
            data=three_classes,
            objectives=[f"latency@{path}:min"],
            strategy="random",
            budget=2,
            out_dir=out,
        )
    assert str(refused.value) == (
        f"{path} was measured with a 10-class head, but the search's data {three_classes} has "
        f"3 classes: profile again with hwnas profile --space mbv3 --dataset cifar10 --data "
        f"{three_classes} --out PROFILE.json"
    )
    assert not (out / "ledger.sqlite").exists()


def test_a_profile_of_the_datas_classes_predicts_its_search(
    tmp_path: Path, three_classes: str
) -> None:
    pytest.importorskip("onnxruntime")
    from hwnas.cost.profile import profile

    predictor = profile(
        "mbv3", "cifar10", samples=2, unit_repeats=1, net_repeats=1, restrict=TINY,
        data=three_classes,
    )  # fmt: skip
    assert predictor.meta["classes"] == 3 and predictor.meta["data"] == three_classes
    heads = [sig for sig in predictor.lut if sig.startswith("head")]
    assert heads and all(":c3:" in sig for sig in heads)
    path = tmp_path / "three.json"
    predictor.save(path)
    study = Study(
        space="mbv3",
        dataset="cifar10",
        data=three_classes,
        objectives=[f"latency@{path}:min"],
        strategy="random",
        budget=2,
        restrict=TINY,
    ).optimize()
    frame = study.evaluations()
    assert (frame["status"] == "ok").all(), frame["error"].tolist()
    for row in study.ledger.rows():
        assert row["provenance"][f"latency@{path}"]["classes"] == 3
    # without the data, the search builds cifar10's 10 classes: refused, saying what to do
    with pytest.raises(
        SpecError, match=f"without --data .* give --data {re.escape(three_classes)}"
    ):
        Study(space="mbv3", dataset="cifar10", objectives=[f"latency@{path}:min"], budget=2)
