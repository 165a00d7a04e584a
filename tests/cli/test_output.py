"""What the CLI prints for people: progress on a terminal and in a log, the version,
counts in words, Ctrl-C, and tables whose names and keys stay whole."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, final

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hwnas._version import __version__
from hwnas.cli import _search, app
from hwnas.cli._app import progress_bar
from hwnas.report.console import front_table, plural

PLAIN_LINE = re.compile(r"^(.+): (\d+)/(\d+) \((\d+)%\), elapsed \d+s, ETA (\d+s|unknown)$")


def test_terminal_bar_shows_count_and_eta_without_markup() -> None:
    out = io.StringIO()
    stream = Console(file=out, force_terminal=True, markup=False, width=120)
    with progress_bar(stream) as bar:
        task = bar.add_task("linas on nb201/cifar10 [bold]", total=300)
        bar.update(task, completed=280)
        bar.refresh()
    text = out.getvalue()
    assert "[progress" not in text
    assert "linas on nb201/cifar10 [bold]" in text  # user text printed as given
    assert "280/300" in text and "ETA" in text


def test_plain_lines_in_a_log_at_a_sensible_rate() -> None:
    out = io.StringIO()
    with progress_bar(Console(file=out, markup=False, width=120)) as bar:
        task = bar.add_task("random on nb201/cifar10", total=300)
        for done in range(1, 301):
            bar.update(task, completed=done)
        other = bar.add_task("fine-tuning", total=None)
        bar.update(other, completed=7)
    lines = out.getvalue().splitlines()
    counted = [m for m in map(PLAIN_LINE.match, lines) if m]
    assert 10 <= len(counted) <= 11, lines  # about one line per tenth, not one per update
    assert all(m.group(1) == "random on nb201/cifar10" for m in counted)
    assert counted[-1].group(2, 3, 4) == ("300", "300", "100")
    assert lines[-1] == "fine-tuning: 7, elapsed 0s"


def test_search_in_a_pipe_prints_plain_progress(cli) -> None:
    result = cli("search", "--budget", "20", "--strategy", "random", "--out", "run")
    assert result.returncode == 0, result.stderr
    assert "[progress" not in result.stderr
    assert "random on nb201/cifar10: 20/20 (100%), elapsed" in result.stderr


def test_version(cli) -> None:
    result = cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"hwnas {__version__}\n"


def test_counts_are_pluralised(cli) -> None:
    assert plural(1, "architecture") == "1 architecture"
    assert plural(0, "architecture") == "0 architectures"
    assert plural(2, "proxy", "proxies") == "2 proxies"
    result = cli("search", "--budget", "1", "--strategy", "random", "--out", "run")
    assert result.returncode == 0, result.stderr
    assert re.search(r"Pareto front: 1 architecture\s*\n", result.stdout)
    assert "1 evaluation (1 ok" in result.stdout
    assert not re.search(r"\b1 (architectures|evaluations)\b", result.stdout)


@final
class _InterruptAfter:
    """A progress reporter whose second update is Ctrl-C, as if the user pressed it."""

    def __init__(self) -> None:
        self.updates = 0

    def __enter__(self) -> _InterruptAfter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None) -> int:
        return 0

    def update(self, task_id: int, **kwargs: Any) -> None:
        self.updates += 1
        if self.updates == 2:
            raise KeyboardInterrupt


def test_ctrl_c_says_what_is_saved_and_how_to_resume(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_search, "progress_bar", _InterruptAfter)
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["search", "--budget", "200", "--strategy", "random", "--out", str(run)]
    )
    assert result.exit_code == 130, result.output
    message = re.search(r"interrupted: (\d+) evaluations saved in (.+); continue with: (.+)\n",
                        result.output)  # fmt: skip
    assert message is not None, result.output
    assert 0 < int(message.group(1)) < 200
    assert message.group(2) == str(run / "ledger.sqlite")
    assert message.group(3) == f"hwnas search --resume {run}"
    resumed = cli("search", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert "200 evaluations" in resumed.stdout


def _results(budget: int = 40) -> Any:
    from hwnas.study import Study

    study = Study(strategy="random", budget=budget, seed=3)
    return study.optimize().results()


def test_front_table_prints_each_key_whole_on_one_line() -> None:
    run = _results()
    keys = list(run.pareto_front()["arch"])
    wide = io.StringIO()
    Console(file=wide, width=200, markup=False).print(front_table(run))
    assert all(any(key in line for line in wide.getvalue().splitlines()) for key in keys)
    narrow = io.StringIO()
    Console(file=narrow, width=80, markup=False).print(front_table(run))
    rows = [line for line in narrow.getvalue().splitlines() if line.startswith("│")]
    assert len(rows) == len(keys), narrow.getvalue()  # one line per row: nothing folds


def test_targets_keeps_names_whole_at_80_columns() -> None:
    from hwnas.cost import TARGETS
    from hwnas.cost.roofline import builtin_specs

    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "hwnas", "targets"],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # the built-in targets only: a test in this process may have registered its own
    builtin = [n for n in TARGETS.names() if type(TARGETS.get(n)).__module__.startswith("hwnas.")]
    names = builtin + [f"roofline:{s}" for s in builtin_specs()]
    for name in names:
        assert re.search(rf"^│ {re.escape(name)} +│", result.stdout, re.MULTILINE), name


# `hwnas search` with a slow device (the pixel3 table, 50 ms a network), as a user runs it
SLOW_SEARCH = """
import signal, sys, time
from hwnas.cli import main

# Ctrl-C raises KeyboardInterrupt even when this test runs under a process that ignores
# SIGINT (a command started with & by a non-interactive shell, as CI may be): an ignored
# SIGINT is inherited, and the search would never see the interrupt
signal.signal(signal.SIGINT, signal.default_int_handler)
from hwnas.cost import Target, get_target, register_target
from hwnas.metrics import parse_metric
from hwnas.sources import MetricSource

class Slow(MetricSource):
    cheap = False
    def __init__(self, inner):
        self.inner, self.metric = inner, "latency@slow-pixel3"
    def evaluate(self, archs):
        time.sleep(0.05 * len(archs))
        return self.inner.evaluate(archs)

class SlowPixel3(Target):
    def source(self, ctx, metric):
        return Slow(get_target("pixel3").source(ctx, parse_metric("latency@pixel3")))

register_target(SlowPixel3("slow-pixel3", "pixel3 table, slowly", "test"))
sys.argv = ["hwnas", "search", "-o", "accuracy:max", "-o", "latency@slow-pixel3:min",
            "--strategy", "random", "--budget", "400", "--out", sys.argv[1]]
main()
"""


def test_sigint_during_search_exits_130_with_the_resume_command(tmp_path: Path) -> None:
    import signal
    import sqlite3
    import time

    script = tmp_path / "slow_search.py"
    script.write_text(SLOW_SEARCH)
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(run)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 120
    rows = 0
    while rows < 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
        try:
            with sqlite3.connect(run / "ledger.sqlite") as db:
                rows = db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        except sqlite3.Error:
            rows = 0
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert re.search(
        rf"interrupted: \d+ evaluations saved in {re.escape(str(run))}/ledger.sqlite; "
        rf"continue with: hwnas search --resume {re.escape(str(run))}\n",
        stderr,
    ), stderr
