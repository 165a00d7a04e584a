"""Remote agent benchmark: NB201 networks measured over loopback by `latency@remote:NAME`
while the agent is SIGKILLed and restarted. The search runs in two halves (a study, then
`Study.resume` to the full budget) and the agent is killed once in each, when its state file
holds a third and two thirds of the budget. Counted: evaluations lost (not `ok`), models
measured twice (the agent's state file, by request id and by model), evaluations replayed
from the agent's store, client retries, and whether the resumed half measured only its own.

    PYTHONPATH=$PWD python benchmarks/remote_agent.py [--budget 200] [--executor inprocess]

Results go to benchmarks/results/remote_agent.json, rewritten after each half.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import hwnas
from hwnas._io import atomic_write
from hwnas.config import host_info
from hwnas.cost.agent import STATE_FILE

PROTOCOL = {"warmup": 2, "blocks": 3, "block_warmup": 1, "min_block_runs": 3, "min_block_s": 0.01}
METRIC = "latency@remote:bench"
OBJECTIVES = ["accuracy:max", f"{METRIC}:min"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AgentProcess:
    """`python -m hwnas.cost.agent` on a fixed port, killable and restartable."""

    def __init__(self, work: Path, port: int) -> None:
        self.work, self.port = work, port
        self.events: list[dict[str, Any]] = []
        self.proc = self._start()

    def _start(self) -> subprocess.Popen:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "hwnas.cost.agent", "--port", str(self.port),
                "--token-file", str(self.work / "agent.token"),
                "--state-dir", str(self.work / "state"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("hwnas agent on"):
                break
        self.events.append({"event": "started", "seconds": time.perf_counter() - t0})
        return proc

    def kill_when(self, lines: int) -> threading.Thread:
        """Kill the agent once its state file holds `lines` results, then restart it."""

        def run() -> None:
            while len(state_lines(self.work)) < lines:
                time.sleep(0.005)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.events.append({"event": "killed", "stored": len(state_lines(self.work))})
            time.sleep(0.5)  # the client meets a closed port meanwhile
            self.proc = self._start()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def state_lines(work: Path) -> list[dict[str, Any]]:
    path = work / "state" / STATE_FILE
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def tally(study: hwnas.Study, work: Path, budget: int) -> dict[str, Any]:
    results = study.results()
    rows = state_lines(work)
    ids = [r["id"] for r in rows]
    models = [r["result"].get("model_sha256") for r in rows]
    provs = [e.provenance.get(METRIC, {}) for e in results.rows]
    latencies = sorted(e.value(METRIC) for e in results.ok())
    return {
        "evaluations": len(results.rows),
        "lost": budget - len(results.ok()),
        "failed_errors": sorted({e.error or "" for e in results.rows if e.status != "ok"}),
        "agent_results": len(rows),
        "measured_twice_by_id": len(ids) - len(set(ids)),
        "measured_twice_by_model": len(models) - len(set(models)),
        "replayed_from_store": sum(bool(p.get("replayed")) for p in provs),
        # in-process only: a pool's workers hold their own clients
        "client_retries": getattr(getattr(study.sources[METRIC], "client", None), "retries", None),
        "noisy": sum(bool(p.get("noisy")) for p in provs),
        "median_latency_ms": latencies[len(latencies) // 2] if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--executor", default="inprocess", choices=["inprocess", "process"])
    parser.add_argument("--out", default="benchmarks/results/remote_agent.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hwnas-remote-bench-"))
    agent = AgentProcess(work, free_port())
    devices = {
        "bench": {
            "url": f"http://127.0.0.1:{agent.port}",
            "token_file": str(work / "agent.token"),
            "protocol": PROTOCOL,
            "retry_s": 120,
        }
    }
    (work / "devices.json").write_text(json.dumps(devices))
    os.environ["HWNAS_DEVICES"] = str(work / "devices.json")
    workers = 2 if args.executor == "process" else None
    out: dict[str, Any] = {
        "command": "PYTHONPATH=$PWD python benchmarks/remote_agent.py " + " ".join(sys.argv[1:]),
        "budget": args.budget,
        "executor": args.executor,
        "protocol": PROTOCOL,
        "host": host_info(),
        "phases": [],
    }
    half, run = args.budget // 2, work / "run"
    try:
        for phase, (budget, kill_at) in enumerate(
            [(half, args.budget // 3), (args.budget, 2 * args.budget // 3)]
        ):
            killer = agent.kill_when(kill_at)
            t0 = time.perf_counter()
            if phase == 0:
                study = hwnas.Study(
                    objectives=OBJECTIVES, strategy="random", budget=budget, seed=0, out_dir=run,
                    executor=args.executor, workers=workers,
                )  # fmt: skip
            else:
                study = hwnas.Study.resume(
                    run, budget=budget, executor=args.executor, workers=workers
                )
            study.optimize()
            wall = time.perf_counter() - t0
            killer.join()
            entry = {"phase": "start" if phase == 0 else "resume", "budget": budget,
                     "wall_s": wall, "load_1min": os.getloadavg()[0], **tally(study, work, budget)}  # fmt: skip
            out["phases"].append(entry)
            out["agent_events"] = agent.events
            atomic_write(args.out, json.dumps(out, indent=1, default=str) + "\n")
            print(json.dumps(entry, default=str), flush=True)
    finally:
        agent.stop()


if __name__ == "__main__":
    main()
