"""Few-shot latency transfer: design, posterior, the predictor file, `latency@P.json`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwnas.cost import get_target
from hwnas.cost._transfer_data import shipped_pool, spearman
from hwnas.cost.transfer import KIND, LatencyTransfer, calibrate, load_transfer
from hwnas.errors import HwnasError, SpecError, UnknownNameError
from hwnas.spaces import get_space
from hwnas.study import Study


def _raspi4(keys: list[str]) -> np.ndarray:
    from hwnas.tabular.nb201 import load_frame

    frame = load_frame().set_index("arch_str")
    return frame.loc[keys, "cifar10_raspi4_latency_ms"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def model() -> LatencyTransfer:
    """Pretrained on nb201 with raspi4 left out of the pool."""
    return LatencyTransfer("nb201", exclude=["raspi4"]).pretrain()


@pytest.fixture(scope="module")
def fitted(model: LatencyTransfer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model fitted on 20 designed raspi4 measurements, saved."""
    archs = model.design(20)
    model.fit(archs, _raspi4([a.key for a in archs]))
    path = tmp_path_factory.mktemp("transfer") / "raspi4.json"
    model.save(path)
    return path


def test_design_is_deterministic_for_a_seed_and_informative(model: LatencyTransfer) -> None:
    first = [a.key for a in model.design(10, seed=3)]
    assert first == [a.key for a in model.design(10, seed=3)]
    assert first != [a.key for a in model.design(10, seed=4)]
    assert len(set(first)) == 10
    # each next pick is the most uncertain given the earlier ones: the std only falls
    assert all(a >= b for a, b in zip(model.design_std_, model.design_std_[1:]))


def test_a_held_out_pool_device_is_recovered_from_20_points(fitted: Path) -> None:
    predictor = load_transfer(fitted)
    from hwnas.tabular.nb201 import load_frame

    all_keys = load_frame()["arch_str"].tolist()
    measured = {m["arch"] for m in predictor.meta_["measured"]}
    held = [k for k in all_keys if k not in measured]
    median, std = predictor.predict(held)
    assert spearman(median, _raspi4(held)) > 0.9
    assert np.all(std > 0) and np.all(np.isfinite(median))


def test_the_predictor_file_round_trips_with_provenance(
    model: LatencyTransfer, fitted: Path
) -> None:
    data = json.loads(fitted.read_text())
    assert data["kind"] == KIND and data["schema_version"] == 1
    assert data["n"] == 20 and len(data["measured"]) == 20
    assert "latency@raspi4" not in data["pool"]["metrics"] and data["excluded"] == ["raspi4"]
    assert set(data["loo"]) == {"spearman", "median_ape", "within_10pct", "within_2std"}
    assert data["hwnas"] and data["created"]
    keys = [m["arch"] for m in data["measured"]][:5]
    loaded = load_transfer(fitted)
    np.testing.assert_allclose(loaded.predict(keys)[0], model.predict(keys)[0], rtol=1e-12)
    np.testing.assert_allclose(loaded.predict(keys)[1], model.predict(keys)[1], rtol=1e-12)


def test_fit_rejects_bad_measurements(model: LatencyTransfer) -> None:
    archs = model.design(4)
    with pytest.raises(SpecError, match="at least 3"):
        LatencyTransfer("nb201").fit(archs[:2], [1.0, 2.0])
    with pytest.raises(SpecError, match="not a positive number"):
        model.fit(archs, [1.0, 2.0, -1.0, 3.0])
    with pytest.raises(SpecError, match="not a positive number"):
        model.fit(archs, [1.0, float("nan"), 2.0, 3.0])
    with pytest.raises(SpecError, match="repeats measurement 1"):
        model.fit([archs[0], *archs[:3]], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(SpecError, match="4 architectures but 3"):
        model.fit(archs, [1.0, 2.0, 3.0])


def test_excluding_a_gpu_excludes_its_other_batch_sizes() -> None:
    pool = shipped_pool(get_space("nb201"), ["titan_rtx_256", "latency@pixel2"])
    assert sorted(pool.excluded) == ["pixel2", "titan_rtx_1", "titan_rtx_256", "titan_rtx_32"]
    assert len(pool.names) == 27 - 4
    fbnet = shipped_pool(get_space("fbnet"), ["titan_rtx_256"])  # fbnet's largest batch is 64
    assert sorted(fbnet.excluded) == ["titan_rtx_1", "titan_rtx_32", "titan_rtx_64"]
    with pytest.raises(UnknownNameError, match="did you mean 'raspi4'"):
        shipped_pool(get_space("nb201"), ["raspi5"])


def test_fbnet_transfers_from_helps_samples() -> None:
    model = LatencyTransfer("fbnet", exclude=["raspi4"], n_candidates=500).pretrain()
    assert not model.pool_.features and len(model.reference_) == 5000
    archs = model.design(10)
    from hwnas.tabular.fbnet import latency_ms

    model.fit(archs, [latency_ms("raspi4", a.genes) for a in archs])
    sample = model.reference_[::10]
    truth = [latency_ms("raspi4", a.genes) for a in sample]
    assert spearman(model.predict(sample)[0], truth) > 0.9


def test_a_space_without_tables_pretrains_on_named_metrics() -> None:
    pytest.importorskip("torch")
    model = LatencyTransfer("mbv3", "cifar10", pool=["macs", "params"], n_reference=8)
    archs = model.design(4)
    from hwnas.cost.targets import analytic_counts

    space = get_space("mbv3")
    truth = [0.5 + analytic_counts(space, a, "cifar10").macs / 1e7 for a in archs]
    model.fit(archs, truth)
    others = model.reference_
    pred, std = model.predict(others)
    expected = [0.5 + analytic_counts(space, a, "cifar10").macs / 1e7 for a in others]
    assert spearman(pred, expected) > 0.8 and np.all(std > 0)
    with pytest.raises(SpecError, match="--exclude-device applies to the shipped pool"):
        LatencyTransfer("mbv3", pool=["macs"], exclude=["raspi4"]).pretrain()


def test_a_space_without_tables_and_no_pool_says_what_to_do() -> None:
    with pytest.raises(HwnasError, match="--pool METRIC"):
        LatencyTransfer("mbv3").pretrain()


def test_the_file_is_checked_on_load(fitted: Path, tmp_path: Path) -> None:
    data = json.loads(fitted.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(SpecError, match="schema_version 99"):
        load_transfer(bad)
    bad.write_text(json.dumps({**data, "posterior": {**data["posterior"], "cov": [[1.0]]}}))
    with pytest.raises(SpecError, match="malformed transfer predictor"):
        load_transfer(bad)
    bad.write_text(json.dumps({"kind": "something-else"}))
    with pytest.raises(SpecError, match="is neither a latency profile"):
        get_target(str(bad))


def test_latency_at_the_predictor_in_a_short_study(fitted: Path, tmp_path: Path) -> None:
    metric = f"latency@{fitted}"
    study = Study(
        objectives=["accuracy:max", f"{metric}:min"],
        strategy="random",
        budget=6,
        out_dir=tmp_path / "run",
    ).optimize()
    frame = study.evaluations()
    assert (frame["status"] == "ok").all(), frame["error"].tolist()
    assert frame[metric].gt(0).all()
    prov = next(iter(study.ledger.rows()))["provenance"][metric]
    assert prov["kind"] == "predicted" and prov["predictor"] == str(fitted)
    assert prov["n_measured"] == 20 and prov["std_ms"] > 0 and "latency@pixel3" in prov["pool"]
    with pytest.raises(HwnasError, match="predicts nb201/cifar10, not nb201/cifar100"):
        Study(dataset="cifar100", objectives=["accuracy:max", f"{metric}:min"])


def test_calibrate_is_fit_in_one_call(model: LatencyTransfer) -> None:
    archs = model.design(5)
    fitted = calibrate("nb201", [a.key for a in archs], _raspi4([a.key for a in archs]))
    assert fitted.meta_["n"] == 5 and fitted.meta_["excluded"] == []


def test_the_prior_diagonal_is_scaled_apart_from_the_pool_span() -> None:
    from hwnas.cost.transfer import _scaled

    C = np.array([[100.0, 0.0, 0.0], [0.0, 2.0, 0.5], [0.0, 0.5, 3.0]])  # jitter 1 included
    out = _scaled(C, 2.0, 0.1, 1.0)
    # the pool's part doubles, the diagonal room is set to 0.1, the intercept kept
    assert np.allclose(out, [[100.0, 0.0, 0.0], [0.0, 2.1, 1.0], [0.0, 1.0, 4.1]])


def test_the_fit_records_the_chosen_prior_diagonal(fitted: Path) -> None:
    from hwnas.cost.transfer import DIAG_SCALES

    assert load_transfer(fitted).meta_["fit"]["diag_scale"] in DIAG_SCALES
