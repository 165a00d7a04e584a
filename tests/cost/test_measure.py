"""Measurement: statistics and provenance, backends, the per-device lock."""

from __future__ import annotations

import threading

import pytest

from hwnas.cost.measure import MeasureConfig, device_lock, lock_path
from hwnas.errors import HwnasError, UnknownNameError

torch = pytest.importorskip("torch")


def _tiny() -> tuple[torch.nn.Module, tuple[int, int, int]]:
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten()
    )
    return net, (3, 8, 8)


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_measurement_statistics_and_provenance(backend: str) -> None:
    from hwnas.cost.measure import measure

    cfg = MeasureConfig(backend=backend, warmup=1, repeats=5)
    a, b = measure([_tiny(), _tiny()], cfg)
    for t in (a, b):
        assert len(t.block_medians_ms) == 5 and t.runs_per_block >= 5
        assert 0 < t.q1_ms <= t.median_ms <= t.q3_ms
        assert t.noisy == (t.rel_iqr > cfg.noise_threshold)
        prov = t.provenance
        assert prov["threads"] == 1 and prov["runtime"] == backend and prov["device"] == "cpu"
        assert prov["host"] and prov["version"] and prov["median_ms"] == t.median_ms
    assert torch.get_num_threads() >= 1  # restored after the pinned measurement


def test_min_statistic_reports_the_fastest_repeat() -> None:
    from hwnas.cost.measure import measure

    (t,) = measure([_tiny()], MeasureConfig(warmup=0, repeats=3, statistic="min"))
    assert t.value == t.min_ms <= min(t.block_medians_ms) <= t.median_ms
    assert t.provenance["statistic"] == "min"


def test_referenced_measurement_pairs_each_round_with_the_reference() -> None:
    from hwnas.cost.measure import measure_referenced

    cfg = MeasureConfig(warmup=0, repeats=3, chunk=2)
    timings, ref_ms = measure_referenced([_tiny(), _tiny(), _tiny()], _tiny(), cfg)
    assert len(timings) == 3 and len(ref_ms) == 2 * 3  # two chunks, three rounds each
    for i, t in enumerate(timings):
        chunk_ref = ref_ms[3 * (i // 2) : 3 * (i // 2) + 3]
        assert t.ratios == pytest.approx([a / b for a, b in zip(t.block_medians_ms, chunk_ref)])
        assert t.ratio == pytest.approx(sorted(t.ratios)[1])


def test_ratio_needs_a_reference() -> None:
    from hwnas.cost.measure import measure

    (t,) = measure([_tiny()], MeasureConfig(warmup=0, repeats=1))
    with pytest.raises(HwnasError, match="reference"):
        _ = t.ratio


def test_bad_configurations() -> None:
    with pytest.raises(UnknownNameError):
        MeasureConfig(statistic="mean")
    with pytest.raises(UnknownNameError):
        MeasureConfig(backend="tflite")
    with pytest.raises(UnknownNameError):
        MeasureConfig(device="tpu")
    with pytest.raises(HwnasError):
        MeasureConfig(repeats=0)


def test_cuda_is_refused_clearly_without_a_gpu() -> None:
    from hwnas.cost.measure import measure

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(HwnasError, match="CUDA"):
        measure([_tiny()], MeasureConfig(backend="torch", device="cuda", warmup=0, repeats=1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_torch_measures_on_the_gpu_with_the_kernels_inside_the_span() -> None:
    from hwnas.cost.measure import measure

    heavy = torch.nn.Sequential(
        torch.nn.Conv2d(3, 512, 3, padding=1), torch.nn.Conv2d(512, 512, 3, padding=1),
        torch.nn.Conv2d(512, 512, 3, padding=1), torch.nn.Flatten(),
    )  # fmt: skip
    cfg = MeasureConfig(backend="torch", device="cuda", warmup=2, repeats=5)
    tiny, big = measure([_tiny(), (heavy, (3, 128, 128))], cfg)
    assert tiny.provenance["device"] == "cuda" and tiny.provenance["gpu"]
    # ~230 GFLOP cannot hide behind an asynchronous launch: even at 400 TFLOP/s 0.5 ms
    assert 0 < tiny.median_ms < big.median_ms and big.median_ms > 0.2


def test_one_measurement_per_device_at_a_time() -> None:
    entered = threading.Event()

    def other() -> None:
        with device_lock("cpu"):
            entered.set()

    with device_lock("cpu"):
        assert lock_path("cpu").exists()
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.2)
        assert not entered.is_set()  # waits while the device is held
    thread.join()
    assert entered.is_set()


def test_measured_sources_occupy_their_device() -> None:
    from hwnas.cost.targets import MeasuredSource
    from hwnas.sources import EvalContext
    from hwnas.spaces import get_space

    ctx = EvalContext(get_space("mbv3"), "cifar10")
    cpu = MeasuredSource(ctx, "latency@local-cpu-torch", MeasureConfig(backend="torch"), "x")
    assert cpu.device == "local-cpu"  # shared by both CPU backends
    assert MeasuredSource(ctx, "m", MeasureConfig(device="cuda"), "x").device == "local-cuda"


def test_onnxruntime_on_cuda_names_what_to_install_and_passes_other_errors_through(
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    ort = pytest.importorskip("onnxruntime")
    import hwnas.cost.measure as m

    cuda = MeasureConfig(device="cuda", warmup=0, repeats=1)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(HwnasError, match="install onnxruntime-gpu"):
        m._ort_runner(*_tiny(), cuda)

    # with a CUDA provider, a model ONNX Runtime cannot load is reported as that, not as a
    # missing provider (every error on cuda read "no CUDA execution provider")
    def refuse(*a: object) -> None:
        raise HwnasError("ONNX Runtime cannot load the model: bad graph")

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider"])
    monkeypatch.setattr(m, "ort_runner", refuse)
    with pytest.raises(HwnasError, match="cannot load the model"):
        m._ort_runner(*_tiny(), cuda)
