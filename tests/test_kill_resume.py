"""A search SIGKILLed midway resumes to exactly the ledger of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

# A slow device: the pixel3 table with a delay, registered through the public registry.
SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import hwnas
    from hwnas.cost import Target, get_target, register_target
    from hwnas.sources import MetricSource

    DELAY = float(os.environ.get("DELAY", "0"))

    class Slow(MetricSource):
        cheap = False
        def __init__(self, inner):
            self.inner, self.metric = inner, "latency@slow-pixel3"
        def evaluate(self, archs):
            time.sleep(DELAY * len(archs))
            return self.inner.evaluate(archs)

    class SlowPixel3(Target):
        def source(self, ctx, metric):
            from hwnas.metrics import parse_metric
            return Slow(get_target("pixel3").source(ctx, parse_metric("latency@pixel3")))

    register_target(SlowPixel3("slow-pixel3", "pixel3 table, slowly", "test"))
    run_dir, mode = sys.argv[1], sys.argv[2]
    if mode == "resume":
        hwnas.Study.resume(run_dir).optimize()
    else:
        hwnas.Study(objectives=["accuracy:max", "latency@slow-pixel3:min"],
                    strategy="random", budget=120, seed=11, out_dir=run_dir).optimize()
    """
)


def ledger_rows(run: Path) -> list[tuple]:
    db = sqlite3.connect(run / "ledger.sqlite")
    try:
        return db.execute(
            "SELECT trial, arch, genes, status, metrics, error FROM evaluations ORDER BY trial"
        ).fetchall()
    finally:
        db.close()


def count(run: Path) -> int:
    try:
        return len(ledger_rows(run))
    except sqlite3.Error:
        return 0


def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    script = tmp_path / "slow_search.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "DELAY": "0.02"}
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(run), "new"], env=env)
    deadline = time.time() + 120
    while count(run) < 35 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = count(run)
    assert 0 < killed_at < 120, "the run must be killed midway"
    before = ledger_rows(run)

    resumed = subprocess.run(
        [sys.executable, str(script), str(run), "resume"], env=env, check=False
    )
    assert resumed.returncode == 0
    after = ledger_rows(run)
    assert after[:killed_at] == before  # nothing completed was lost or rewritten

    reference = tmp_path / "reference"
    done = subprocess.run(
        [sys.executable, str(script), str(reference), "new"],
        env={**os.environ, "DELAY": "0"},
        check=False,
    )
    assert done.returncode == 0
    assert after == ledger_rows(reference)
    assert len(after) == 120 and len({row[1] for row in after}) == 120
