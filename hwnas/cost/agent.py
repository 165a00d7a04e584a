"""The measurement agent: a small HTTP server on a board that receives ONNX models and
returns their latency, timed with `hwnas.cost.protocol` (the protocol local measurement
uses). It imports only the standard library, numpy, ONNX Runtime and that protocol, so a
board needs `pip install numpy onnxruntime` and `pip install --no-deps hwnas`; then
`python -m hwnas.cost.agent --token-file F` (or `hwnas device serve`) starts it.

Safety: it listens on 127.0.0.1 unless told otherwise, every request needs the token,
bodies above a size limit are refused before they are read, sockets time out, a model
slower than the limits is refused, and one measurement runs at a time. Each result is
appended to a JSON-lines state file under its request id, so a retry after a dropped
connection or a restart of the agent gets the stored result: nothing is measured twice."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from hwnas.cost.protocol import Protocol, host_facts, ort_runner, time_runners
from hwnas.errors import HwnasError

API_VERSION = 1
DEFAULT_PORT = 8765
DEFAULT_TOKEN_FILE = "~/.config/hwnas/agent.token"
DEFAULT_STATE_DIR = "~/.local/state/hwnas/agent"
STATE_FILE = "measurements.jsonl"
#: a request id: what the client derives from the model, the protocol and its run
REQUEST_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
PROVIDER = "CPUExecutionProvider"


@dataclass(frozen=True)
class AgentConfig:
    """Where the agent listens, where it keeps its token and results, and its limits."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token_file: str = DEFAULT_TOKEN_FILE
    state_dir: str = DEFAULT_STATE_DIR
    max_model_mb: float = 64.0
    #: one whole measurement (warm-up and every block)
    max_seconds: float = 120.0
    #: one call of the model, warm
    max_call_seconds: float = 5.0
    threads: int = 1
    #: how long a request waits for the measurement in progress before it gets 503
    busy_timeout_s: float = 30.0
    #: a client silent this long mid-request is dropped
    read_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.port < 65536:
            raise HwnasError(f"port must be 0-65535, got {self.port}")
        for name in ("max_model_mb", "max_seconds", "max_call_seconds", "read_timeout_s"):
            if not getattr(self, name) > 0:  # NaN is not a limit either
                raise HwnasError(f"{name} must be positive, got {getattr(self, name)}")
        if self.threads < 1 or self.busy_timeout_s < 0:
            raise HwnasError("threads must be >= 1 and busy_timeout_s >= 0")

    @property
    def max_model_bytes(self) -> int:
        return int(self.max_model_mb * 2**20)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_token(path: str | Path) -> tuple[str, bool]:
    """The agent's token and whether it was just created: a missing file gets a fresh
    random token, written readable by its owner only (0600)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise HwnasError(f"token file {path} is a directory, not a file")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
        return token, True
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise HwnasError(f"token file {path} is empty; delete it to have a token generated")
    return token, False


class Refused(Exception):
    """A request the agent answers with an error status and `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Overrun(Exception):
    """The measurement ran past the agent's time limit."""


class ResultStore:
    """Results by request id, appended to a JSON-lines file (fsynced before the reply is
    sent) and read back at start, so a restarted agent still knows what it measured."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._results: dict[str, dict[str, Any]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):  # killed mid-write: that result never went out
            data = data[: data.rfind(b"\n") + 1]
            os.truncate(self.path, len(data))
        for line in data.splitlines():
            try:
                row = json.loads(line)
                self._results[str(row["id"])] = row["result"]
            except (ValueError, KeyError, TypeError):
                continue  # a damaged line costs one re-measurement, not the agent

    def __len__(self) -> int:
        return len(self._results)

    def get(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._results.get(request_id)

    def put(self, request_id: str, result: dict[str, Any]) -> None:
        line = json.dumps({"id": request_id, "result": result}, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
            self._results[request_id] = result


def parse_protocol(query: dict[str, str]) -> Protocol:
    """The default protocol with the overrides named in the query (`blocks=3`, ...)."""
    kinds: dict[str, Any] = {f.name: type(f.default) for f in fields(Protocol)}
    values: dict[str, Any] = {}
    for name, text in query.items():
        if name == "id":
            continue
        if name not in kinds:
            raise Refused(400, f"unknown parameter {name!r}; valid: id, {', '.join(kinds)}")
        kind = kinds[name]
        try:
            values[name] = kind(text)
        except ValueError:
            raise Refused(400, f"parameter {name}={text!r} is not a {kind.__name__}") from None
    try:
        return Protocol(**values)
    except HwnasError as exc:
        raise Refused(400, str(exc)) from None


def _deadline(limit_s: float) -> Callable[[], float]:
    """`time.perf_counter` that raises `_Overrun` once `limit_s` have passed: the protocol
    reads the clock around every run, so an overlong measurement stops at the next run."""
    start = time.perf_counter()

    def now() -> float:
        t = time.perf_counter()
        if t - start > limit_s:
            raise _Overrun
        return t

    return now


class Agent:
    """What the server does, apart from HTTP: info, and measuring one model at a time."""

    def __init__(self, config: AgentConfig, token: str) -> None:
        self.config = config
        self.token = token
        try:
            import onnxruntime as ort
        except ModuleNotFoundError:
            raise HwnasError(
                "the agent measures with ONNX Runtime: pip install onnxruntime"
            ) from None
        self._runtime = {
            "onnxruntime": ort.__version__,
            "provider": PROVIDER,
            "threads": config.threads,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        }
        self.store = ResultStore(Path(config.state_dir).expanduser() / STATE_FILE)
        self._measuring = threading.Lock()

    def authorized(self, header: str | None) -> bool:
        scheme, _, given = (header or "").partition(" ")
        return scheme == "Bearer" and hmac.compare_digest(given.encode(), self.token.encode())

    def runtime(self) -> dict[str, Any]:
        return dict(self._runtime)

    def info(self) -> dict[str, Any]:
        c = self.config
        return {
            "api": API_VERSION,
            "host": host_facts(),
            "runtime": self.runtime(),
            "protocol_defaults": asdict(Protocol()),
            "limits": {
                "max_model_bytes": c.max_model_bytes,
                "max_seconds": c.max_seconds,
                "max_call_seconds": c.max_call_seconds,
                "busy_timeout_s": c.busy_timeout_s,
                "read_timeout_s": c.read_timeout_s,
            },
            "stored_results": len(self.store),
            "busy": self._measuring.locked(),
        }

    def measure(self, model: bytes, query: dict[str, str]) -> dict[str, Any]:
        """The timing of `model`, or the stored one when its request id was measured."""
        protocol = parse_protocol(query)
        request_id = query.get("id")
        if request_id is not None and not REQUEST_ID.fullmatch(request_id):
            raise Refused(400, "request id: 1-128 letters, digits, '.', '_' or '-'")
        stored = self.store.get(request_id) if request_id else None
        if stored is not None:
            return {**stored, "replayed": True}
        if not self._measuring.acquire(timeout=self.config.busy_timeout_s):
            raise Refused(
                503,
                f"busy: another measurement is running (waited {self.config.busy_timeout_s:g} "
                "s); retry later",
            )
        try:
            stored = self.store.get(request_id) if request_id else None
            if stored is not None:  # the same request, retried while it was being measured
                return {**stored, "replayed": True}
            result = self._measure(model, protocol)
            result["request_id"] = request_id
            if request_id:
                self.store.put(request_id, result)
            return {**result, "replayed": False}
        finally:
            self._measuring.release()

    def _measure(self, model: bytes, protocol: Protocol) -> dict[str, Any]:
        c = self.config
        started = time.perf_counter()
        try:
            run = ort_runner(model, threads=c.threads, provider=PROVIDER)
        except HwnasError as exc:
            raise Refused(400, str(exc)) from None
        try:
            single = min(self._timed(run) for _ in range(2))
            if single > c.max_call_seconds:
                raise Refused(
                    422,
                    f"one call of the model takes {single:.1f} s, over the agent's limit of "
                    f"{c.max_call_seconds:g} s (--max-call-seconds)",
                )
            timing = time_runners([run], protocol, now=_deadline(c.max_seconds))[0]
        except _Overrun:
            raise Refused(
                422,
                f"the measurement ran past the agent's limit of {c.max_seconds:g} s "
                "(--max-seconds); ask for fewer or shorter blocks",
            ) from None
        except Refused:
            raise
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's errors have no common type
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise Refused(400, f"the model failed to run: {first}") from None
        # the protocol's provenance: host facts, protocol, median, min, IQR, drift, noisy
        return {
            **timing.provenance,
            "value_ms": timing.value,
            "q1_ms": timing.q1_ms,
            "q3_ms": timing.q3_ms,
            "block_medians_ms": timing.block_medians_ms,
            "noise_threshold": protocol.noise_threshold,
            "runtime": self.runtime(),
            "model_bytes": len(model),
            "model_sha256": hashlib.sha256(model).hexdigest(),
            "seconds": time.perf_counter() - started,
        }

    @staticmethod
    def _timed(run: Callable[[], Any]) -> float:
        t0 = time.perf_counter()
        run()
        return time.perf_counter() - t0


class AgentServer(ThreadingHTTPServer):
    """One thread per connection, so a slow or silent client never blocks another."""

    daemon_threads = True

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        super().__init__((agent.config.host, agent.config.port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-request is one log line, not a traceback."""
        exc = sys.exc_info()[1]
        sys.stderr.write(f"{client_address[0]}: connection dropped ({type(exc).__name__}: {exc})\n")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    server_version = "hwnas-agent"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.agent.config.read_timeout_s)  # every read

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Each request is logged once, with its outcome, by `_reply`."""

    def _reply(self, status: int, payload: dict[str, Any], note: str = "") -> None:
        body = json.dumps(payload, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.log_message("%s %s -> %d %s", self.command, self.path.split("?")[0], status, note)

    def _guarded(self, handle: Callable[[], tuple[dict[str, Any], str]]) -> None:
        """Run `handle` after the token check; every refusal becomes JSON `{"error": ...}`."""
        try:
            if not self.server.agent.authorized(self.headers.get("Authorization")):
                raise Refused(401, "wrong or missing token (Authorization: Bearer TOKEN)")
            payload, note = handle()
            self._reply(200, payload, note)
        except Refused as exc:
            self.close_connection = True
            self._reply(exc.status, {"error": str(exc)}, str(exc))
        except TimeoutError:
            self.close_connection = True
            self._reply(408, {"error": "the request body did not arrive in time"}, "timeout")

    def do_GET(self) -> None:  # http.server's name
        def handle() -> tuple[dict[str, Any], str]:
            if urlsplit(self.path).path != "/info":
                raise Refused(404, f"no such endpoint {self.path!r}: GET /info, POST /measure")
            return self.server.agent.info(), ""

        self._guarded(handle)

    def do_POST(self) -> None:  # http.server's name
        def handle() -> tuple[dict[str, Any], str]:
            url = urlsplit(self.path)
            if url.path != "/measure":
                raise Refused(404, f"no such endpoint {url.path!r}: GET /info, POST /measure")
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise Refused(411, "POST /measure needs a Content-Length header")
            limit = self.server.agent.config.max_model_bytes
            if int(length) > limit:
                raise Refused(
                    413,
                    f"the model is {int(length) / 2**20:.3g} MiB, over the agent's limit of "
                    f"{limit / 2**20:.3g} MiB (--max-model-mb)",
                )
            model = self.rfile.read(int(length))
            if len(model) < int(length):
                raise Refused(400, "the connection closed before the whole model arrived")
            result = self.server.agent.measure(model, dict(parse_qsl(url.query)))
            note = f"{result['median_ms']:.3f} ms" + (" (stored)" if result["replayed"] else "")
            return result, note

        self._guarded(handle)


def make_server(config: AgentConfig) -> tuple[AgentServer, bool]:
    """The server, bound and ready for `serve_forever`, and whether its token was created."""
    token, created = load_token(config.token_file)
    try:
        return AgentServer(Agent(config, token)), created
    except OSError as exc:
        raise HwnasError(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None


def serve(config: AgentConfig, say: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C, saying where it listens and where the token is (never the token)."""
    server, created = make_server(config)
    token_file = Path(config.token_file).expanduser()
    try:  # from here on, Ctrl-C at any moment stops it cleanly
        if created:
            say(
                f"created a token in {token_file} (mode 0600): copy that file to the searching side"
            )
        if not is_loopback(config.host):
            say(
                f"warning: listening on {config.host}, not only this machine: whoever reaches "
                "the port with the token can run models here, and plain HTTP carries the token "
                "in clear; use a trusted network or an SSH tunnel"
            )
        state = server.agent.store.path
        say(f"hwnas agent on {server.url} (token: {token_file}; results: {state}); Ctrl-C stops it")
        server.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    """`python -m hwnas.cost.agent`: the agent without the hwnas command line."""
    d = AgentConfig()
    p = argparse.ArgumentParser(prog="python -m hwnas.cost.agent", description=__doc__)
    p.add_argument("--host", default=d.host, help="address to listen on (default: loopback)")
    p.add_argument("--port", type=int, default=d.port)
    p.add_argument("--token-file", default=d.token_file, help="created (0600) if missing")
    p.add_argument("--state-dir", default=d.state_dir, help="where results are remembered")
    p.add_argument("--max-model-mb", type=float, default=d.max_model_mb)
    p.add_argument("--max-seconds", type=float, default=d.max_seconds, help="per measurement")
    p.add_argument("--max-call-seconds", type=float, default=d.max_call_seconds)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--busy-timeout", type=float, default=d.busy_timeout_s)
    p.add_argument("--read-timeout", type=float, default=d.read_timeout_s)
    a = p.parse_args(argv)
    try:
        config = AgentConfig(
            a.host, a.port, a.token_file, a.state_dir, a.max_model_mb, a.max_seconds,
            a.max_call_seconds, a.threads, a.busy_timeout, a.read_timeout,
        )  # fmt: skip
        serve(config, lambda line: print(line, flush=True))
    except HwnasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
