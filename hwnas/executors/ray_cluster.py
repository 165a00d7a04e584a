"""Ray: evaluations as tasks on a cluster (`hwnas[ray]`). A device is a custom resource: a
node started with `--resources '{"device:rpi4": 1}'` owns the Raspberry Pi, so tasks that
measure on `rpi4` run only there and one at a time; device-free tasks go to any CPU.

Without an address hwnas starts a private local cluster (never another job's, which Ray's
own default would join); a cluster it joins is named (address, nodes, hwnas version) and
refused when a node runs another hwnas version or cannot resolve the study's plugins."""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hwnas import _version
from hwnas._imports import optional_import
from hwnas.errors import HwnasError
from hwnas.evaluation import ON_DEVICE
from hwnas.executors import register_executor
from hwnas.executors._base import (
    Fault,
    PoolExecutor,
    Task,
    WorkerSetup,
    evaluate_one,
    worker_evaluator,
)
from hwnas.trial import Outcome

_log = logging.getLogger(__name__)

#: how long each node may take to import hwnas and resolve the study before the run stops
PROBE_TIMEOUT_S = 300.0

#: Ray's advice names its own flag; hwnas's is --ray-address (`address=` in Python)
_RAY_ADDRESS_ADVICE = re.compile(
    r"(?:by )?setting (?:the )?`--address` flag(?: or `RAY_ADDRESS` environment variable)?"
    r"|`--address`"
)


def in_hwnas_terms(message: str) -> str:
    """A Ray message with Ray's flag names replaced by hwnas's."""
    return _RAY_ADDRESS_ADVICE.sub(
        "by giving --ray-address HOST:PORT (make_executor(..., address=...) in Python)", message
    )


class _InHwnasTerms(logging.Filter):
    """Rewrites what Ray logs while hwnas connects (e.g. "Found multiple active Ray
    instances ... setting the `--address` flag") into hwnas's flag names."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = in_hwnas_terms(record.getMessage()), ()
        return True


#: the Ray loggers that give connection advice naming Ray's flags
_RAY_ADVICE_LOGGERS = ("ray._private.services", "ray._private.worker", "ray.worker")


@contextmanager
def ray_advice_in_hwnas_terms() -> Iterator[None]:
    """While connecting, Ray's logged advice names hwnas's flags, not Ray's."""
    rewrite = _InHwnasTerms()
    loggers = [logging.getLogger(name) for name in _RAY_ADVICE_LOGGERS]
    for logger in loggers:
        logger.addFilter(rewrite)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(rewrite)


def device_resource(device: str) -> str:
    """The Ray custom resource that stands for one device."""
    return f"device:{device}"


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a wrong `HOST:PORT` (Ray itself retries for minutes)."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise HwnasError(f"Ray address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise HwnasError(f"cannot reach the Ray cluster at {address}: {exc}") from None


def _import_ray() -> Any:
    return optional_import("ray", "the ray executor")


@dataclass(frozen=True)
class Node:
    """One node of a Ray cluster as hwnas found it."""

    host: str
    ip: str
    resources: dict[str, float]
    hwnas: str

    def describe(self) -> str:
        cpus = self.resources.get("CPU", 0)
        owned = sorted(r for r in self.resources if r.startswith("device:"))
        return f"{self.host} at {self.ip} ({', '.join([f'{cpus:g} CPUs', *owned])})"


@dataclass(frozen=True)
class Cluster:
    """The Ray cluster a run uses: its address, its nodes, and whether hwnas started it
    (a private local one) or joined it."""

    address: str
    nodes: tuple[Node, ...]
    started: bool

    def describe(self) -> str:
        versions = " / ".join(sorted({n.hwnas for n in self.nodes}))
        how = "started a private local" if self.started else "joined the"
        count = f"{len(self.nodes)} node" + ("s" if len(self.nodes) != 1 else "")
        shown = "; ".join(n.describe() for n in self.nodes[:8])
        more = f"; and {len(self.nodes) - 8} more" if len(self.nodes) > 8 else ""
        return (
            f"{how} Ray cluster at {self.address}, hwnas {versions} on its {count}: {shown}{more}"
        )

    def check_version(self, version: str) -> None:
        """Refuse a cluster whose nodes run another hwnas than the driver: its workers
        would evaluate with other code than the run records."""
        other = [n for n in self.nodes if n.hwnas != version]
        if other:
            nodes = ", ".join(f"{n.host} ({n.ip}) has hwnas {n.hwnas}" for n in other)
            raise HwnasError(
                f"the Ray cluster at {self.address} runs another hwnas than this driver "
                f"({version}): {nodes}; install hwnas {version} on every node, or run "
                "without a Ray address for a private local cluster"
            )


def _probe(setup: WorkerSetup) -> tuple[str, str | None]:
    """On one node: its hwnas version, and why the study cannot be resolved there (the
    plugins' modules, tables, ...), or None when it can."""
    try:
        worker_evaluator(setup)
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which stops the run
        return _version.__version__, f"{type(exc).__name__}: {exc}"
    return _version.__version__, None


@register_executor("ray")
class RayExecutor(PoolExecutor):
    description = "tasks on a Ray cluster (--ray-address, or a local one); devices as resources"

    def __init__(
        self,
        workers: int | None = None,
        timeout: float | None = None,
        retries: int = 1,
        address: str | None = None,
        imports: Sequence[str] = (),
    ) -> None:
        super().__init__(workers, timeout, retries, imports)
        if address:  # fail before a run directory is created, not at the first batch
            check_reachable(address)
        self.address = address
        self._ray: Any = None
        self._owns_ray = False
        self._in_flight: dict[Any, tuple[Task, float | None]] = {}
        #: the cluster the run uses, once its first evaluation started it
        self.cluster: Cluster | None = None

    def _start(self) -> None:
        ray = self._ray = _import_ray()
        devices = self.job.devices
        started = not ray.is_initialized()
        if started:
            self._init(ray, devices)
            self._owns_ray = True
        self.cluster = self._inspect(ray, started)
        (_log.info if started else _log.warning)(self.cluster.describe())
        available = ray.cluster_resources()
        for device in devices:
            if available.get(device_resource(device), 0) < 1:
                raise HwnasError(
                    f"no node of the Ray cluster owns device {device!r}: start the node that "
                    f"has it with ray start --resources '{{\"{device_resource(device)}\": 1}}'"
                )
        self._cluster = available
        # device-free parts go to any CPU; device parts only where the device is
        remote = ray.remote(evaluate_one)
        self._free = remote.options(num_cpus=1, max_retries=0)
        self._on_device = remote.options(
            num_cpus=1, max_retries=0, resources={device_resource(d): 1 for d in devices}
        )
        self._setup_ref = ray.put(self.job.setup)

    def _init(self, ray: Any, devices: Sequence[str]) -> None:
        """Join the named cluster, or start a private local one: Ray's `address=None`
        would join a cluster that another job started on this machine (or RAY_ADDRESS)."""
        try:
            with ray_advice_in_hwnas_terms():
                if self.address:
                    check_reachable(self.address)
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    # a local cluster is this machine: it owns the devices it measures on
                    ray.init(
                        address="local",
                        num_cpus=self.workers or os.cpu_count() or 1,
                        resources={device_resource(d): 1 for d in devices},
                        include_dashboard=False,
                        log_to_driver=False,
                    )
        except ConnectionError as exc:
            raise HwnasError(
                f"cannot connect to the Ray cluster at {self.address}: {in_hwnas_terms(str(exc))}"
            ) from None

    def _inspect(self, ray: Any, started: bool) -> Cluster:
        """Run a probe on every node: its hwnas version, and whether it can resolve the
        study; a node that cannot stops the run here, before any evaluation fails."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = [n for n in ray.nodes() if n.get("Alive")]
        probe = ray.remote(_probe)
        refs = [
            probe.options(
                num_cpus=0,
                max_retries=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
            ).remote(self.job.setup)
            for n in nodes
        ]
        address = ray.get_runtime_context().gcs_address
        try:
            found = ray.get(refs, timeout=PROBE_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise HwnasError(
                f"the nodes of the Ray cluster at {address} did not start hwnas within "
                f"{PROBE_TIMEOUT_S:g} s"
            ) from None
        except ray.exceptions.RayError as exc:
            first = in_hwnas_terms(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
            raise HwnasError(
                f"a node of the Ray cluster at {address} cannot run hwnas ({first}): install "
                f"hwnas {_version.__version__} and the study's plugins on every node"
            ) from None
        cluster = Cluster(
            address,
            tuple(
                Node(n["NodeManagerHostname"], n["NodeManagerAddress"], n["Resources"], v)
                for n, (v, _) in zip(nodes, found)
            ),
            started,
        )
        cluster.check_version(_version.__version__)
        for node, (_, error) in zip(cluster.nodes, found):
            if error is not None:
                raise HwnasError(
                    f"a Ray worker on {node.host} could not resolve the study: {error} (a "
                    "plugin registered in __main__ or outside the module of its class, or "
                    "not installed on that node? name its module in the executor's imports)"
                )
        return cluster

    def _slots(self) -> int:
        if self.workers:
            return self.workers
        return max(int(self._cluster.get("CPU", 1)), 1)

    def _capacity(self, device: str) -> int:
        return int(self._cluster.get(device_resource(device), 0))

    def _submit(self, task: Task) -> None:
        remote = self._on_device if task.part == ON_DEVICE else self._free
        ref = remote.remote(self._setup_ref, task.arch.key, task.arch.genes, task.part, task.prior)
        deadline = time.monotonic() + self.timeout if self.timeout else None
        self._in_flight[ref] = (task, deadline)

    def _wait(self) -> list[tuple[Task, Outcome | Fault]]:
        ray = self._ray
        while True:
            deadlines = [d for _, d in self._in_flight.values() if d is not None]
            timeout = max(min(deadlines) - time.monotonic(), 0.0) if deadlines else None
            done, _ = ray.wait(list(self._in_flight), num_returns=1, timeout=timeout)
            results: list[tuple[Task, Outcome | Fault]] = []
            for ref in done:
                task, _ = self._in_flight.pop(ref)
                try:
                    results.append((task, ray.get(ref)))
                except ray.exceptions.RayError as exc:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    first = in_hwnas_terms(first)
                    results.append((task, Fault(f"worker lost ({type(exc).__name__}: {first})")))
            now = time.monotonic()
            for ref, (task, deadline) in list(self._in_flight.items()):
                if deadline is not None and now >= deadline:
                    ray.cancel(ref, force=True)
                    del self._in_flight[ref]
                    results.append((task, Fault(f"timed out after {self.timeout:g} s")))
            if results:
                return results

    def close(self) -> None:
        if self._ray is not None:
            for ref in self._in_flight:
                self._ray.cancel(ref, force=True)
            self._in_flight = {}
            if self._owns_ray:
                self._ray.shutdown()
                self._owns_ray = False
        self._started = False
