"""`latency@remote:NAME` over loopback: the devices file, the target's contract, searches on
the in-process and process executors, refusals that fail one evaluation and not the search,
a dropped connection retried without measuring twice, and an agent killed and restarted
mid-search: nothing lost, nothing measured twice, and the run resumes."""

from __future__ import annotations

import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hwnas
from hwnas.cost import get_target
from hwnas.cost.agent import STATE_FILE
from hwnas.cost.remote import AgentClient, Device, RemoteSource, get_device, load_devices
from hwnas.errors import HwnasError, UnknownNameError
from hwnas.sources import EvalContext

QUICK = {"warmup": 1, "blocks": 2, "block_warmup": 0, "min_block_runs": 2, "min_block_s": 0}
OBJECTIVES = ["accuracy:max", "latency@remote:test:min"]


def write_devices(path: Path, monkeypatch: pytest.MonkeyPatch, **devices: dict) -> Path:
    path.write_text(json.dumps(devices))
    monkeypatch.setenv("HWNAS_DEVICES", str(path))
    return path


def nb201_archs(n: int, seed: int) -> list[hwnas.Architecture]:
    rng = np.random.default_rng(seed)
    return [hwnas.get_space("nb201").sample(rng) for _ in range(n)]


def state_ids(state_dir: Path) -> list[str]:
    path = state_dir / STATE_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["id"] for line in lines]


@pytest.fixture
def device(
    start_agent: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """`device(**agent config, entry=...)`: an agent and the devices entry `test` for it."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")

    def make(entry: dict | None = None, **config: Any) -> Any:
        server = start_agent(**config)
        spec = {"url": server.url, "token_file": str(tmp_path / "agent.token"), "protocol": QUICK}
        write_devices(tmp_path / "devices.json", monkeypatch, test={**spec, **(entry or {})})
        return server

    return make


# --- the devices file (no agent needed) ------------------------------------------------------
def test_a_missing_devices_file_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HWNAS_DEVICES", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HwnasError, match=r"no devices file: looked at .*hwnas-devices.json"):
        get_target("remote:pi")
    (tmp_path / "hwnas-devices.json").write_text(
        json.dumps({"pi": {"url": "http://h:1", "token_env": "PI_TOKEN"}})
    )
    assert load_devices()[0] == Path("hwnas-devices.json")


def test_an_unknown_device_lists_the_defined_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_devices(
        tmp_path / "d.json",
        monkeypatch,
        pi={"url": "http://h:1", "token_env": "PI_TOKEN"},
        jetson={"url": "http://h:2", "token_env": "PI_TOKEN"},
    )
    with pytest.raises(
        UnknownNameError, match=r"unknown device 'pj' in .*d.json; valid: jetson, pi"
    ):
        get_target("remote:pj")
    monkeypatch.setenv("PI_TOKEN", " s3cret\n")
    assert get_device("pi").token() == "s3cret"
    assert get_target("remote:pi").kind == "measured"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"url": "h:1", "token_env": "T"}, "url must start with http"),
        ({"url": "http://h:1"}, "exactly one of token_file and token_env"),
        ({"url": "http://h:1", "token_env": "T", "token": "x"}, "unknown key 'token'"),
        ({"url": "http://h:1", "token_env": "T", "protocol": {"blocks": 0}}, "blocks"),
        ({"url": "http://h:1", "token_file": "/nonexistent/t"}, "token file .* does not exist"),
    ],
)
def test_a_bad_devices_entry_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: dict, message: str
) -> None:
    monkeypatch.setenv("T", "token")
    write_devices(tmp_path / "d.json", monkeypatch, pi=entry)
    with pytest.raises(HwnasError, match=message):
        get_target("remote:pi")


def test_a_server_that_is_not_an_agent_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server

    class Html(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>router login</html>")

        def log_message(self, *args: object) -> None: ...

    server = http.server.HTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("T", "token")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(HwnasError, match="is it an hwnas agent"):
            AgentClient(Device("box", url, token_env="T")).info()
    finally:
        server.shutdown()
        server.server_close()


# --- over loopback ---------------------------------------------------------------------------
def test_the_remote_target_keeps_the_target_contract(device: Callable) -> None:
    from hwnas.testing import check_target

    device()
    check_target(get_target("remote:test"), "nb201", n=2)


@pytest.mark.parametrize("executor", ["inprocess", "process"])
def test_a_search_measures_on_the_agent(device: Callable, tmp_path: Path, executor: str) -> None:
    server = device()
    study = hwnas.Study(
        objectives=OBJECTIVES,
        budget=3,
        strategy="random",
        executor=executor,
        workers=2 if executor == "process" else None,
    )
    results = study.optimize().results()
    assert [e.status for e in results.rows] == ["ok"] * 3
    prov = results.rows[0].provenance["latency@remote:test"]
    assert prov["kind"] == "measured" and prov["url"] == server.url and prov["blocks"] == 2
    assert prov["onnxruntime"] and prov["host"] and prov["median_ms"] > 0 and "drift" in prov
    assert server.agent.token not in json.dumps(prov)
    ids = state_ids(Path(server.agent.config.state_dir))
    assert len(ids) == len(set(ids)) == 3


def test_refusals_fail_the_evaluation_and_the_search_goes_on(device: Callable) -> None:
    device(max_model_mb=0.01)  # every NB201 network is larger
    results = hwnas.Study(objectives=OBJECTIVES, budget=2, strategy="random").optimize().results()
    errors = [e.error or "" for e in results.rows]
    assert len(errors) == 2 and all("accepts at most" in e for e in errors)


def test_a_wrong_token_stops_the_study_before_it_starts(
    device: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WRONG", "not-the-token")
    device(entry={"token_file": None, "token_env": "WRONG"})
    with pytest.raises(HwnasError, match=r"wrong or missing token .*\(HTTP 401\)"):
        hwnas.Study(objectives=OBJECTIVES, budget=2)


def test_an_agent_that_stays_down_fails_evaluations_after_bounded_retries(
    device: Callable,
) -> None:
    server = device(entry={"retry_s": 0.5})
    source = get_target("remote:test").resolve(
        EvalContext(hwnas.get_space("nb201"), "cifar10"), hwnas.parse_metric("latency@remote:test")
    )
    source.check()  # the agent answers
    server.shutdown()
    server.server_close()
    (arch,) = nb201_archs(1, seed=0)
    with pytest.raises(HwnasError, match="did not answer within 0.5 s"):
        source.evaluate([arch])
    assert isinstance(source, RemoteSource) and source.client.retries >= 1  # retried, then gave up


class _DropFirstAnswer(socketserver.ThreadingTCPServer):
    """A proxy to the agent that forwards every request but loses the first answer, as a
    connection dropped after the agent measured would."""

    daemon_threads = True

    def __init__(self, agent: tuple[str, int]) -> None:
        self.agent, self.dropped = agent, 0
        super().__init__(("127.0.0.1", 0), _Forward)


class _Forward(socketserver.StreamRequestHandler):
    server: _DropFirstAnswer

    def handle(self) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += self.rfile.read(1)
        length = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")]
        body = self.rfile.read(int(length[0].split(b":")[1])) if length else b""
        with socket.create_connection(self.server.agent) as upstream:
            upstream.sendall(head + body)
            answer = b"".join(iter(lambda: upstream.recv(65536), b""))
        if self.server.dropped == 0 and b"/measure" in head:
            self.server.dropped += 1
            return  # the connection closes with no answer
        self.wfile.write(answer)


def test_a_dropped_connection_is_retried_without_measuring_twice(
    device: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = device()
    proxy = _DropFirstAnswer(server.server_address[:2])
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        spec = {"url": f"http://127.0.0.1:{proxy.server_address[1]}", "protocol": QUICK}
        write_devices(
            tmp_path / "devices.json",
            monkeypatch,
            test={**spec, "token_file": str(tmp_path / "agent.token")},
        )
        results = (
            hwnas.Study(objectives=OBJECTIVES, budget=1, strategy="random").optimize().results()
        )
        (evaluation,) = results.rows
        assert evaluation.status == "ok" and proxy.dropped == 1
        assert evaluation.provenance["latency@remote:test"]["replayed"] is True
        assert len(state_ids(Path(server.agent.config.state_dir))) == 1
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_measurements_to_one_agent_are_serialised_on_the_client(device: Callable) -> None:
    """Two sources (two studies) measuring at once never meet a busy agent: the client
    holds the device first."""
    device(busy_timeout_s=0.0, entry={"protocol": {**QUICK, "min_block_s": 0.05}})
    ctx = EvalContext(hwnas.get_space("nb201"), "cifar10")
    metric = hwnas.parse_metric("latency@remote:test")
    sources = [get_target("remote:test").resolve(ctx, metric) for _ in range(2)]
    archs = nb201_archs(4, seed=1)
    measured: list[hwnas.Measurement] = []
    threads = [
        threading.Thread(
            target=lambda s=s, i=i: measured.extend(s.evaluate(archs[2 * i : 2 * i + 2]))
        )
        for i, s in enumerate(sources)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(measured) == 4 and all(m.value > 0 for m in measured)
    assert all(isinstance(s, RemoteSource) and s.client.retries == 0 for s in sources)


# --- the agent killed and restarted mid-search ----------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_agent(port: int, tmp_path: Path) -> subprocess.Popen:
    agent = subprocess.Popen(
        [
            sys.executable, "-m", "hwnas.cost.agent", "--port", str(port),
            "--token-file", str(tmp_path / "agent.token"), "--state-dir", str(tmp_path / "state"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert agent.stdout is not None
    for line in agent.stdout:
        if line.startswith("hwnas agent on"):
            return agent
    raise AssertionError(f"the agent did not start (exit code {agent.wait()})")


@pytest.fixture
def killable_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    port = _free_port()
    box = {"agent": _start_agent(port, tmp_path), "port": port}
    write_devices(
        tmp_path / "devices.json",
        monkeypatch,
        test={
            "url": f"http://127.0.0.1:{port}",
            "token_file": str(tmp_path / "agent.token"),
            "protocol": {**QUICK, "min_block_s": 0.02},
            "retry_s": 60,
        },
    )
    yield box
    box["agent"].kill()
    box["agent"].wait()


def test_an_agent_killed_and_restarted_mid_search_loses_nothing_and_measures_nothing_twice(
    killable_agent: dict, tmp_path: Path
) -> None:
    state = tmp_path / "state"

    def kill_and_restart() -> None:
        for after in (1, 3):
            while len(state_ids(state)) < after:
                time.sleep(0.01)
            killable_agent["agent"].send_signal(signal.SIGKILL)
            killable_agent["agent"].wait()
            time.sleep(0.3)
            killable_agent["agent"] = _start_agent(killable_agent["port"], tmp_path)

    chaos = threading.Thread(target=kill_and_restart)
    chaos.start()
    run = tmp_path / "run"
    results = (
        hwnas.Study(objectives=OBJECTIVES, budget=5, strategy="random", out_dir=run)
        .optimize()
        .results()
    )
    chaos.join()
    assert [e.status for e in results.rows] == ["ok"] * 5  # nothing lost
    ids = state_ids(state)
    assert len(ids) == len(set(ids)) == 5  # nothing measured twice
    resumed = hwnas.Study.resume(run, budget=6).optimize().results()
    assert [e.status for e in resumed.rows] == ["ok"] * 6
    assert len(state_ids(state)) == 6  # the resumed run measured only its new candidate
    assert os.environ["HWNAS_DEVICES"].endswith("devices.json")
