"""Ray: evaluations as tasks on a cluster (`hwnas[ray]`). A device is a custom resource: a
node started with `--resources '{"device:rpi4": 1}'` owns the Raspberry Pi, so tasks that
measure on `rpi4` run only there and one at a time; device-free tasks go to any CPU."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from hwnas._imports import optional_import
from hwnas.errors import HwnasError
from hwnas.evaluation import ON_DEVICE
from hwnas.executors import register_executor
from hwnas.executors._base import Fault, PoolExecutor, Task, evaluate_one
from hwnas.trial import Outcome


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

    def _start(self) -> None:
        ray = self._ray = _import_ray()
        devices = self.job.devices
        if not ray.is_initialized():
            try:
                if self.address:
                    check_reachable(self.address)
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    # a local cluster is this machine: it owns the devices it measures on
                    ray.init(
                        num_cpus=self.workers or os.cpu_count() or 1,
                        resources={device_resource(d): 1 for d in devices},
                        include_dashboard=False,
                        log_to_driver=False,
                    )
            except ConnectionError as exc:
                raise HwnasError(
                    f"cannot connect to the Ray cluster at {self.address}: {exc}"
                ) from None
            self._owns_ray = True
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
