"""The measurement agent over loopback: a real measurement, every refusal as JSON with the
agent still serving after it, sockets that time out, one measurement at a time, results
remembered across dropped connections and restarts, and its import hygiene."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hwnas.cost.agent import STATE_FILE, load_token
from hwnas.errors import HwnasError

QUICK = "warmup=1&blocks=2&block_warmup=0&min_block_runs=2&min_block_s=0"


def call(
    server: Any, path: str, body: bytes | None = None, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) of one request to the agent, with its token by default."""
    token = token if token is not None else server.agent.token
    request = urllib.request.Request(
        server.url + path, data=body, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def state_ids(server: Any) -> list[str]:
    lines = (Path(server.agent.config.state_dir) / STATE_FILE).read_text().splitlines()
    return [json.loads(line)["id"] for line in lines]


def _stored(server: Any) -> list[str]:
    """`state_ids`, or [] while the state file is absent or its line half-written."""
    try:
        return state_ids(server)
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def raw_request(server: Any, path: str, body: bytes, sent: int) -> socket.socket:
    """A POST whose headers announce `body` but of which only `sent` bytes go out."""
    host, port = server.server_address[:2]
    sock = socket.create_connection((host, port), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.agent.token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body[:sent])
    return sock


def test_measures_a_model_and_describes_itself(start_agent: Callable, onnx_model: Callable) -> None:
    server = start_agent()
    status, info = call(server, "/info")
    assert status == 200
    assert info["limits"]["max_model_bytes"] == 64 * 2**20
    assert info["protocol_defaults"]["blocks"] >= 1 and info["runtime"]["onnxruntime"]
    assert info["host"]["cpus"] >= 1 and not info["busy"]
    status, out = call(server, f"/measure?id=a1&{QUICK}", onnx_model())
    assert status == 200, out
    assert 0 < out["q1_ms"] <= out["median_ms"] <= out["q3_ms"]
    assert out["iqr_ms"] == pytest.approx(out["q3_ms"] - out["q1_ms"])
    assert len(out["block_medians_ms"]) == 2 and out["runs_per_block"] >= 2
    assert out["blocks"] == 2 and isinstance(out["noisy"], bool) and out["drift"] >= 0
    assert out["value_ms"] == out["median_ms"] and out["runtime"]["onnxruntime"]
    assert out["host"] and out["load_1min"] >= 0 and out["replayed"] is False
    assert out["request_id"] == "a1"
    assert state_ids(server) == ["a1"]


@pytest.mark.parametrize("path", ["/info", f"/measure?{QUICK}"])
def test_wrong_token_is_401_and_the_agent_keeps_serving(
    start_agent: Callable, onnx_model: Callable, path: str
) -> None:
    server = start_agent()
    body = onnx_model() if path.startswith("/measure") else None
    assert call(server, path, body, token="wrong")[0] == 401
    status, out = call(server, path, body, token="")
    assert status == 401 and "token" in out["error"]
    assert call(server, path, body)[0] == 200


def test_oversized_model_is_413_before_the_body_is_read(
    start_agent: Callable, onnx_model: Callable
) -> None:
    server = start_agent(max_model_mb=0.01)
    status, out = call(server, f"/measure?{QUICK}", onnx_model(128))  # 64 kB of weights
    assert status == 413 and "--max-model-mb" in out["error"]
    assert call(server, f"/measure?{QUICK}", onnx_model(8))[0] == 200


def test_malformed_onnx_is_400_with_the_runtimes_reason(start_agent: Callable) -> None:
    server = start_agent()
    status, out = call(server, f"/measure?{QUICK}", b"not a model")
    assert status == 400 and out["error"].startswith("ONNX Runtime cannot load the model")
    assert "\n" not in out["error"]
    assert call(server, "/info")[0] == 200


def test_bad_parameters_and_paths_are_refused(start_agent: Callable, onnx_model: Callable) -> None:
    server = start_agent()
    status, out = call(server, "/measure?blocks=two", onnx_model())
    assert status == 400 and "blocks" in out["error"]
    status, out = call(server, "/measure?nonsense=1", onnx_model())
    assert status == 400 and "valid: id" in out["error"]
    assert call(server, "/measure?blocks=0", onnx_model())[0] == 400  # the protocol refuses it
    assert call(server, "/measure?id=../../x", onnx_model())[0] == 400
    assert call(server, "/elsewhere")[0] == 404


def test_run_time_limits_refuse_the_model_and_the_agent_keeps_serving(
    start_agent: Callable, onnx_model: Callable
) -> None:
    server = start_agent(max_seconds=0.2)
    # enough runs to overrun whatever the first call's time: a slow cold first call made
    # the protocol size its blocks by min_block_runs alone and finish within the limit
    over = "/measure?blocks=4&min_block_s=0.1&min_block_runs=100000"
    status, out = call(server, over, onnx_model())
    assert status == 422 and "--max-seconds" in out["error"]
    assert call(server, f"/measure?{QUICK}", onnx_model())[0] == 200
    slow = start_agent(max_call_seconds=1e-9)
    status, out = call(slow, f"/measure?{QUICK}", onnx_model())
    assert status == 422 and "--max-call-seconds" in out["error"]


def test_a_half_sent_body_does_not_block_the_next_client(
    start_agent: Callable, onnx_model: Callable
) -> None:
    server = start_agent(read_timeout_s=3.0)
    model = onnx_model()
    stalled = raw_request(server, f"/measure?{QUICK}", model, sent=len(model) // 2)
    assert call(server, f"/measure?{QUICK}", model)[0] == 200
    stalled.setblocking(False)
    with pytest.raises(BlockingIOError):  # no answer yet: served while the other one hangs
        stalled.recv(1)
    stalled.settimeout(10)
    data = b""  # the agent gives up on it after its read timeout, and says so
    while chunk := stalled.recv(4096):
        data += chunk
    answer = data.decode()
    assert " 408 " in answer.splitlines()[0] and "did not arrive" in answer
    stalled.close()


def test_a_second_measurement_waits_then_gets_503_busy(
    start_agent: Callable, onnx_model: Callable
) -> None:
    server = start_agent(busy_timeout_s=0.1)
    slow = threading.Thread(
        target=call, args=(server, "/measure?id=slow&blocks=3&min_block_s=0.3", onnx_model())
    )
    slow.start()
    while not call(server, "/info")[1]["busy"]:
        time.sleep(0.01)
    status, out = call(server, f"/measure?id=other&{QUICK}", onnx_model())
    assert status == 503 and out["error"].startswith("busy")
    slow.join()
    assert call(server, f"/measure?id=other&{QUICK}", onnx_model())[0] == 200


def test_a_dropped_connection_is_answered_from_the_store_on_retry(
    start_agent: Callable, onnx_model: Callable
) -> None:
    server = start_agent()
    model = onnx_model()
    raw_request(server, f"/measure?id=r1&{QUICK}", model, sent=len(model)).close()  # gone
    # the agent measures and stores r1 although nobody waits for the answer (waiting here:
    # under load a retry could otherwise reach the agent before the dropped request did)
    deadline = time.time() + 60
    while not _stored(server):
        assert time.time() < deadline, "the dropped request was never measured"
        time.sleep(0.01)
    status, out = call(server, f"/measure?id=r1&{QUICK}", model)
    assert status == 200 and out["replayed"] is True
    assert state_ids(server) == ["r1"]  # measured once


def test_a_restarted_agent_remembers_what_it_measured(
    start_agent: Callable, onnx_model: Callable
) -> None:
    first = start_agent()
    status, measured = call(first, f"/measure?id=k1&{QUICK}", onnx_model())
    assert status == 200
    first.shutdown()
    first.server_close()
    state = Path(first.agent.config.state_dir) / STATE_FILE
    with open(state, "a") as fh:
        fh.write('{"id": "k2", "resu')  # killed mid-write: that result never went out
    second = start_agent()
    status, again = call(second, f"/measure?id=k1&{QUICK}", onnx_model())
    assert again["replayed"] is True and again["median_ms"] == measured["median_ms"]
    assert call(second, f"/measure?id=k2&{QUICK}", onnx_model())[1]["replayed"] is False
    assert state_ids(second) == ["k1", "k2"]


def test_the_token_file_is_created_private_and_never_printed(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "agent.token"
    token, created = load_token(path)
    assert created and len(token) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_token(path) == (token, False)
    path.write_text("\n")
    with pytest.raises(HwnasError, match="is empty"):
        load_token(path)


def test_an_agent_without_onnx_runtime_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hwnas.cost.agent import AgentConfig, make_server

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    config = AgentConfig(port=0, token_file=str(tmp_path / "t"), state_dir=str(tmp_path / "s"))
    with pytest.raises(HwnasError, match="pip install onnxruntime"):
        make_server(config)


def test_the_agent_runs_as_a_module_and_imports_no_search_stack(
    tmp_path: Path, onnx_model: Callable
) -> None:
    """What a board has: numpy and onnxruntime; nothing of pandas, torch, scikit-learn,
    typer, rich or matplotlib may be imported, serving and measuring included."""
    pytest.importorskip("onnxruntime")
    (tmp_path / "model.onnx").write_bytes(onnx_model())
    script = f"""
import sys, threading, urllib.request, json
from hwnas.cost import agent
server, _ = agent.make_server(agent.AgentConfig(port=0, token_file={str(tmp_path / "t")!r},
                                                state_dir={str(tmp_path / "s")!r}))
threading.Thread(target=server.serve_forever, daemon=True).start()
request = urllib.request.Request(server.url + "/measure?{QUICK}",
    data=open({str(tmp_path / "model.onnx")!r}, "rb").read(),
    headers={{"Authorization": "Bearer " + server.agent.token}})
assert json.load(urllib.request.urlopen(request))["median_ms"] > 0
heavy = {{"pandas", "torch", "sklearn", "typer", "rich", "matplotlib"}}
print(sorted(heavy & {{m.partition(".")[0] for m in sys.modules}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "hwnas.cost.agent", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "--token-file" in help_text and "--max-model-mb" in help_text


@pytest.mark.parametrize("limit", ["max_model_mb", "max_seconds", "max_call_seconds"])
def test_a_limit_that_is_not_a_positive_number_is_refused(limit: str) -> None:
    from hwnas.cost.agent import AgentConfig

    for bad in (0.0, -1.0, float("nan")):  # NaN compared as "not <= 0" and was accepted
        with pytest.raises(HwnasError, match=f"{limit} must be positive"):
            AgentConfig(**{limit: bad})
