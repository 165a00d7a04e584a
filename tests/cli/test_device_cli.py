"""`hwnas device serve|list|info`: the devices file listed with where it was found, an
agent queried through it, bad input as one line with exit code 2, and `serve` stopped
cleanly by Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hwnas.cli import app

runner = CliRunner()


def test_list_shows_the_entries_and_where_the_file_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"pi": {"url": "http://10.0.0.2:8765", "token_env": "PI_TOK"}}))
    monkeypatch.setenv("HWNAS_DEVICES", str(path))
    result = runner.invoke(app, ["device", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"devices file: {path}\n") and "pi" in result.output
    assert "$PI_TOK" in result.output and "10.0.0.2" in result.output


def test_no_devices_file_is_one_line_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HWNAS_DEVICES", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for args in (["device", "list"], ["device", "info", "pi"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert result.output.startswith("error: no devices file: looked at")


def test_info_queries_the_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    from hwnas.cost.agent import AgentConfig, make_server

    server, _ = make_server(
        AgentConfig(port=0, token_file=str(tmp_path / "t"), state_dir=str(tmp_path / "s"))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        devices = {"box": {"url": server.url, "token_file": str(tmp_path / "t")}}
        (tmp_path / "devices.json").write_text(json.dumps(devices))
        monkeypatch.setenv("HWNAS_DEVICES", str(tmp_path / "devices.json"))
        result = runner.invoke(app, ["device", "info", "box", "--json"])
        assert result.exit_code == 0, result.output
        answer = json.loads(result.stdout)
        assert answer["limits"]["max_model_bytes"] > 0 and answer["runtime"]["onnxruntime"]
        table = runner.invoke(app, ["device", "info", "box"])
        assert table.exit_code == 0 and "limits.max_seconds" in table.output
    finally:
        server.shutdown()
        server.server_close()


def test_serve_prints_where_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    token_file = tmp_path / "agent.token"
    args = [
        "device", "serve", "--port", "0", "--token-file", str(token_file),
        "--state-dir", str(tmp_path / "state"), "--host", "0.0.0.0",
    ]  # fmt: skip
    # a test worker may ignore SIGINT and its children inherit that; a shell's Ctrl-C does not
    script = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        f"sys.argv = ['hwnas', *{args!r}]; runpy.run_module('hwnas', run_name='__main__')"
    )
    serve = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert serve.stdout is not None
    lines = []
    for line in serve.stdout:
        lines.append(line)
        if line.startswith("hwnas agent on"):
            break
    serve.send_signal(signal.SIGINT)
    out, err = serve.communicate(timeout=60)
    text = "".join(lines) + out
    assert serve.returncode == 0, text + err
    assert f"created a token in {token_file}" in text and "warning: listening on 0.0.0.0" in text
    assert token_file.read_text().strip() not in text  # the path is printed, never the token
    assert "stopped" in out and "Traceback" not in err


def test_serve_with_bad_limits_is_one_line() -> None:
    result = runner.invoke(app, ["device", "serve", "--max-seconds", "0"])
    assert result.exit_code == 2 and "max_seconds must be positive" in result.output
