"""The measurement protocol: warm blocks interleaved, on a simulated clock."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from hwnas.cost import protocol as proto
from hwnas.cost.protocol import Protocol, host_facts, ort_runner, time_runners
from hwnas.errors import HwnasError, UnknownNameError


class Machine:
    """A simulated CPU: each network costs `warm_ms` when it ran last, `cold_ms` right
    after another network ran (cold caches), times `1 + drift_per_s * elapsed`."""

    def __init__(self, drift_per_s: float = 0.0) -> None:
        self.t = 0.0
        self.last: int | None = None
        self.drift_per_s = drift_per_s
        self.calls: list[int] = []

    def now(self) -> float:
        return self.t

    def runner(self, i: int, warm_ms: float, cold_ms: float) -> Callable[[], None]:
        def run() -> None:
            ms = warm_ms if self.last == i else cold_ms
            self.t += ms / 1e3 * (1 + self.drift_per_s * self.t)
            self.last = i
            self.calls.append(i)

        return run


def test_blocks_are_interleaved_and_counted() -> None:
    m = Machine()
    p = Protocol(warmup=3, blocks=4, block_warmup=2, min_block_runs=5, min_block_s=0.0)
    a, b = time_runners([m.runner(0, 1.0, 1.0), m.runner(1, 2.0, 2.0)], p, m.now)
    # warm-up + one probe call each, then 4 rounds of (2 untimed + 5 timed) per network
    assert len(m.calls) == 2 * (3 + 1) + 4 * 2 * (2 + 5)
    assert m.calls[8:15] == [0] * 7 and m.calls[15:22] == [1] * 7  # one block at a time
    assert a.median_ms == pytest.approx(1.0) and b.median_ms == pytest.approx(2.0)
    assert len(a.block_medians_ms) == 4 and a.runs_per_block == 5
    assert a.drift == pytest.approx(0.0) and not a.noisy
    assert a.provenance["protocol"] == "warm blocks, interleaved"
    assert a.provenance["blocks"] == 4 and "load_1min" in a.provenance


def test_warm_blocks_measure_steady_state_where_single_interleaved_calls_read_cold() -> None:
    def read(p: Protocol) -> float:
        m = Machine()
        nets = [m.runner(i, 1.0, 1.6) for i in range(3)]  # cold calls 60% slower
        return time_runners(nets, p, m.now)[0].median_ms

    assert read(Protocol(blocks=5, block_warmup=1, min_block_s=0.0)) == pytest.approx(1.0)
    # one untimed call per block is what makes it steady-state: without, the first timed
    # call of every block is cold, and single interleaved calls are all cold
    single = Protocol(blocks=5, block_warmup=0, min_block_runs=1, min_block_s=0.0)
    assert read(single) == pytest.approx(1.6)


def test_block_length_follows_min_block_s() -> None:
    m = Machine()
    p = Protocol(warmup=0, blocks=2, block_warmup=0, min_block_runs=1, min_block_s=0.01)
    (t,) = time_runners([m.runner(0, 0.5, 0.5)], p, m.now)
    assert t.runs_per_block == 20  # 20 x 0.5 ms = 10 ms


def test_drift_is_estimated_from_the_block_medians() -> None:
    m = Machine(drift_per_s=0.5)  # the machine slows down as time passes
    p = Protocol(warmup=0, blocks=5, block_warmup=0, min_block_runs=10, min_block_s=0.0)
    a, b = time_runners([m.runner(0, 10.0, 10.0), m.runner(1, 10.0, 10.0)], p, m.now)
    assert a.block_medians_ms == sorted(a.block_medians_ms)
    assert a.drift > 0.2 and b.drift > 0.2
    # interleaving keeps the two identical networks comparable despite the drift
    assert a.median_ms == pytest.approx(b.median_ms, rel=0.1)


def test_min_statistic_and_noise_flag() -> None:
    m = Machine()
    slow = {"n": 0}

    def jittery() -> None:
        slow["n"] += 1
        m.t += (1.0 if slow["n"] % 2 else 1.5) / 1e3

    p = Protocol(
        warmup=0, blocks=3, block_warmup=0, min_block_runs=10, min_block_s=0.0, statistic="min"
    )
    (t,) = time_runners([jittery], p, m.now)
    assert t.value == t.min_ms == pytest.approx(1.0)
    assert t.noisy and t.rel_iqr > p.noise_threshold
    assert t.provenance["statistic"] == "min"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"blocks": 0},
        {"warmup": -1},
        {"min_block_runs": 0},
        {"blocks": True},
        {"blocks": 2.5},
        {"min_block_s": math.nan},
        {"min_block_s": -1.0},
        {"noise_threshold": math.inf},
    ],
)
def test_bad_protocol_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(HwnasError, match="measurement protocol"):
        Protocol(**kwargs)
    with pytest.raises(UnknownNameError, match="median"):
        Protocol(statistic="mean")


def test_host_facts_flag_a_machine_busier_than_its_cores(monkeypatch) -> None:
    monkeypatch.setattr(proto.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(proto.os, "getloadavg", lambda: (5.0, 4.0, 3.0))
    facts = host_facts()
    assert facts["busy"] and facts["load_1min"] == 5.0 and facts["cpus"] == 2
    monkeypatch.setattr(proto.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert not host_facts()["busy"]


def test_ort_runner_times_an_onnx_model_and_refuses_garbage() -> None:
    pytest.importorskip("onnxruntime")
    torch = pytest.importorskip("torch")
    from hwnas.models.onnx import to_onnx

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten())
    run = ort_runner(to_onnx(net, (3, 8, 8)))
    (out,) = run()
    assert out.shape == (1, 4 * 6 * 6)  # the symbolic batch axis is fed a batch of 1
    (t,) = time_runners([run], Protocol(warmup=1, blocks=2))
    assert t.median_ms > 0 and t.provenance["onnxruntime"]
    with pytest.raises(HwnasError, match="ONNX Runtime cannot load the model"):
        ort_runner(b"not an onnx model")
