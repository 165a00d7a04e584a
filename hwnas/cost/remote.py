"""`latency@remote:NAME`: latency measured on a board by its agent (`hwnas device serve`,
`hwnas.cost.agent`). NAME is an entry of the devices file (URL, and the token's file or
environment variable, never the token itself):

    {"pi": {"url": "http://192.168.1.20:8765", "token_file": "~/.config/hwnas/pi.token"}}

found at $HWNAS_DEVICES, else ./hwnas-devices.json, else ~/.config/hwnas/devices.json.
Each candidate is exported by the one ONNX exporter (the graph `hwnas export` ships) and
sent with a request id derived from the model, the protocol and this source's nonce, so a
retry after a dropped connection or a restarted agent gets the stored result."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hwnas.cost import Target, register_target_resolver
from hwnas.cost.measure import device_lock
from hwnas.cost.protocol import Protocol
from hwnas.cost.targets import _NetworkTarget, network_classes
from hwnas.errors import EvaluationError, HwnasError, UnknownNameError
from hwnas.metrics import Metric
from hwnas.models.onnx import to_onnx
from hwnas.sources import EvalContext, Measurement, MetricSource
from hwnas.spaces import Architecture

DEVICES_ENV = "HWNAS_DEVICES"
LOCAL_DEVICES = "hwnas-devices.json"
USER_DEVICES = "~/.config/hwnas/devices.json"
PREFIX = "remote:"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Device:
    """One entry of the devices file. `protocol` overrides the agent's measurement protocol
    (e.g. {"blocks": 3}); connection errors and a busy agent are retried for `retry_s`;
    one request waits at most `timeout_s` for its answer."""

    name: str
    url: str
    token_file: str | None = None
    token_env: str | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    retry_s: float = 120.0
    timeout_s: float = 600.0

    def token(self) -> str:
        """The token, read now from its file or environment variable."""
        if self.token_file:
            path = Path(self.token_file).expanduser()
            if not path.is_file():
                raise HwnasError(
                    f"device {self.name!r}: token file {path} does not exist (copy the agent's "
                    "token file there)"
                )
            token = path.read_text(encoding="utf-8").strip()
        else:
            token = os.environ.get(str(self.token_env), "").strip()
        if not token:
            where = f"file {self.token_file}" if self.token_file else f"${self.token_env}"
            raise HwnasError(f"device {self.name!r}: the token in {where} is empty")
        return token


def devices_file() -> Path:
    """The devices file in use: $HWNAS_DEVICES, ./hwnas-devices.json, ~/.config/hwnas/..."""
    env = os.environ.get(DEVICES_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise HwnasError(f"${DEVICES_ENV} names {path}, which is not a file")
        return path
    for candidate in (Path(LOCAL_DEVICES), Path(USER_DEVICES).expanduser()):
        if candidate.is_file():
            return candidate
    raise HwnasError(
        f"no devices file: looked at ${DEVICES_ENV} (unset), ./{LOCAL_DEVICES} and "
        f"{USER_DEVICES}; see README, 'Measuring on a board'"
    )


def load_devices(path: Path | None = None) -> tuple[Path, dict[str, Device]]:
    """The devices file's path and its entries, checked."""
    path = path or devices_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HwnasError(f"{path}: not a readable JSON devices file ({exc})") from None
    if not isinstance(data, dict):
        raise HwnasError(f'{path}: expected an object of devices, e.g. {{"pi": {{...}}}}')
    keys = [f.name for f in fields(Device) if f.name != "name"]
    devices = {}
    for name, entry in data.items():
        where = f"{path}, device {name!r}"
        if not _NAME.fullmatch(name) or not isinstance(entry, dict):
            raise HwnasError(f"{where}: a name of letters, digits, '.', '_', '-' and an object")
        unknown = sorted(set(entry) - set(keys))
        if unknown:
            raise HwnasError(f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(keys)}")
        try:
            device = Device(name, **entry)
            Protocol(**device.protocol)
        except (TypeError, HwnasError) as exc:
            raise HwnasError(f"{where}: {exc}") from None
        if not str(device.url).startswith(("http://", "https://")):
            raise HwnasError(f"{where}: url must start with http:// or https://")
        if bool(device.token_file) == bool(device.token_env):
            raise HwnasError(f"{where}: give exactly one of token_file and token_env")
        devices[name] = device
    return path, devices


def get_device(name: str) -> Device:
    path, devices = load_devices()
    if name not in devices:
        raise UnknownNameError("device", name, devices, where=f"in {path}")
    return devices[name]


# --- the client ------------------------------------------------------------------------------
#: what a restarting or unreachable agent looks like: retried
_CONNECTION_ERRORS = (OSError, http.client.HTTPException)


class AgentClient:
    """Requests to one agent: connection errors and 503 (busy) are retried with backoff for
    the device's `retry_s`, then fail clearly; any other refusal is final."""

    def __init__(self, device: Device) -> None:
        self.device = device
        #: attempts that failed and were retried, over this client's life
        self.retries = 0

    def info(self, retry_s: float | None = None) -> dict[str, Any]:
        """The agent's host, runtime, limits; `retry_s` bounds the retries (default: the
        device's)."""
        return self._request("/info", retry_s=retry_s)

    def measure(self, model: bytes, request_id: str) -> dict[str, Any]:
        query = urlencode({"id": request_id, **self.device.protocol})
        return self._request(f"/measure?{query}", model)

    def _request(
        self, path: str, body: bytes | None = None, retry_s: float | None = None
    ) -> dict[str, Any]:
        d = self.device
        retry_s = d.retry_s if retry_s is None else retry_s
        deadline = time.monotonic() + retry_s
        delay = 0.25
        while True:
            request = urllib.request.Request(
                d.url.rstrip("/") + path,
                data=body,
                headers={"Authorization": f"Bearer {d.token()}"},
                method="POST" if body is not None else "GET",
            )
            try:
                with urllib.request.urlopen(request, timeout=d.timeout_s) as response:
                    return _answer(d, response.read())
            except urllib.error.HTTPError as exc:
                reason = _error_of(exc)
                if exc.code != 503:
                    raise HwnasError(
                        f"agent {d.name!r} at {d.url} refused: {reason} (HTTP {exc.code})"
                    ) from None
                last = f"busy: {reason}"
            except _CONNECTION_ERRORS as exc:
                last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            if time.monotonic() + delay > deadline:
                raise EvaluationError(
                    f"agent {d.name!r} at {d.url} did not answer within {retry_s:g} s; last: {last}"
                )
            self.retries += 1
            time.sleep(delay)
            delay = min(2 * delay, 5.0)


def _answer(device: Device, body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "error" in answer:
        raise HwnasError(f"{device.url} answered {body[:60]!r}: is it an hwnas agent?")
    return answer


def _error_of(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["error"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)


def request_id(model: bytes, protocol: dict[str, Any], nonce: str) -> str:
    """sha256 of the model, the protocol and the run's nonce: the same request when retried,
    another for another run that measures the same model."""
    digest = hashlib.sha256(model)
    digest.update(json.dumps(protocol, sort_keys=True).encode())
    digest.update(nonce.encode())
    return digest.hexdigest()


# --- the target ------------------------------------------------------------------------------
@dataclass
class RemoteTarget(_NetworkTarget):
    device: Device | None = None

    def source(self, ctx: EvalContext, metric: Metric) -> MetricSource:
        self._check(ctx, metric)
        assert self.device is not None  # set by the resolver
        return RemoteSource(ctx, metric.name, self.device, self.name)


class RemoteSource(MetricSource):
    """Exports each candidate to ONNX and has the device's agent time it, one at a time."""

    cheap = False
    requires = ("torch", "onnx")  # the network is built and exported here

    def __init__(self, ctx: EvalContext, metric: str, device: Device, target: str) -> None:
        self.ctx = ctx
        self.metric = metric
        self.target = target
        self.device = f"{PREFIX}{device.name}"  # the executors' resource name
        self.client = AgentClient(device)
        #: one per source: a retry repeats the request id, another run's request does not
        self.nonce = secrets.token_hex(8)
        self._info: dict[str, Any] | None = None

    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.client.info()
        return self._info

    def check(self) -> None:
        """A missing token, a wrong one or an agent that stays down stops the study before
        it starts, rather than failing every evaluation."""
        super().check()
        try:
            self.info()
        except HwnasError as exc:
            raise HwnasError(f"{self.metric}: {exc}") from None

    def evaluate_one(self, arch: Architecture) -> Measurement:
        space, dataset = self.ctx.space, self.ctx.dataset
        classes, head = network_classes(self.ctx)  # the head of the search's data
        shape = space.arch_input_shape(arch, dataset)
        model = to_onnx(space.build(arch, dataset, classes), shape)
        limit = int(self.info()["limits"]["max_model_bytes"])
        if len(model) > limit:
            raise EvaluationError(
                f"the ONNX model is {len(model) / 2**20:.3g} MiB; agent "
                f"{self.client.device.name!r} accepts at most {limit / 2**20:.3g} MiB"
            )
        rid = request_id(model, self.client.device.protocol, self.nonce)
        with device_lock(f"remote-{self.client.device.name}"):  # other studies here wait
            result = self.client.measure(model, rid)
        return Measurement(float(result["value_ms"]), {**self._provenance(result), **head})

    def _provenance(self, result: dict[str, Any]) -> dict[str, Any]:
        """All the agent said (host facts, protocol, median, IQR, drift, noisy, request id),
        its runtime's versions flat, and where it is (never the token)."""
        runtime = result.get("runtime", {})
        return {
            **{k: v for k, v in result.items() if k != "runtime"},
            **runtime,
            "kind": "measured",
            "target": self.target,
            "url": self.client.device.url,
            "runtime": "onnxruntime",
            "version": runtime.get("onnxruntime"),
            "unit": "ms",
        }


@register_target_resolver("remote:NAME")
def _remote(name: str) -> Target | None:
    if not name.startswith(PREFIX):
        return None
    device = get_device(name[len(PREFIX) :])  # an unknown name lists the defined ones
    device.token()  # a missing token fails now, not mid-search
    return RemoteTarget(
        name,
        f"measured by the agent at {device.url}",
        device.url,
        kind="measured",
        device=device,
    )
