"""What every command module shares: the Typer `app`, the consoles, `friendly` (every
`HwnasError` becomes a one-line message and exit code 2) and the one progress reporter."""

from __future__ import annotations

import functools
import importlib.util
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, final

import typer
from rich.console import Console
from rich.text import Text

from hwnas._version import __version__
from hwnas.errors import EXTRAS, HwnasError, missing_dependency

app = typer.Typer(
    name="hwnas",
    help="Hardware-aware neural architecture search: the most accurate network that meets "
    "a device's budget, and the accuracy-versus-cost Pareto front around it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# markup off: architecture keys, paths and messages are user text, never rich markup
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)
F = TypeVar("F", bound=Callable[..., Any])


def _print_version(value: bool) -> None:
    if value:
        console.print(f"hwnas {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the hwnas version and exit.",
    ),
) -> None:
    """The options before any command (`hwnas --version`)."""


def _fail(message: str) -> typer.Exit:
    err_console.print(
        Text.assemble(("error:", "bold red"), f" {message}"), highlight=False, soft_wrap=True
    )
    return typer.Exit(2)


def friendly(fn: F) -> F:
    """Turn hwnas errors, and a missing optional dependency (torch, pymoo, ...), into
    `error: ...` on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HwnasError as exc:
            raise _fail(str(exc)) from None
        except ModuleNotFoundError as exc:
            top = (exc.name or "").partition(".")[0]
            if top not in EXTRAS or importlib.util.find_spec(top) is not None:
                raise  # not optional, or a broken install: a fault to see
            raise _fail(str(missing_dependency(top, "this command"))) from None

    return wrapper  # type: ignore[return-value]


def progress_bar(stream: Console | None = None) -> Any:
    """The CLI's one progress reporter, on stderr so that stdout stays parseable: a Rich bar
    with M/N, elapsed time and ETA on a terminal, plain lines in a log (nohup, a pipe), so
    that long work always says how far it is. Both take Rich's `add_task` / `update`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    stream = stream or err_console
    if not stream.is_terminal:
        return PlainProgress(stream)
    return Progress(
        # markup off: a description holds user text (paths, keys), never Rich markup
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=stream,
        transient=True,
    )


def stage_reporter(bar: Any) -> Callable[[str, int, int], None]:
    """A `progress(stage, done, total)` callback for the library (profiling, a predictor's
    training, validation) drawn on `bar`: one task per stage, added when first reported."""
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return report


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0
    started: float = field(default_factory=time.monotonic)
    last_line: float = -math.inf
    last_tenth: int = -1
    printed: tuple[float, float | None] | None = None


@final
class PlainProgress:
    """Progress as plain lines for a log: `description: M/N (P%), elapsed Xs, ETA Ys`, at
    most one line per `every` seconds or per tenth of the total, and the last state at the
    end (not after an error, as the terminal's bar vanishes then); the subset of Rich's
    `Progress` API that the commands use."""

    def __init__(self, stream: Console, every: float = 10.0) -> None:
        self.stream = stream
        self.every = every
        self._tasks: list[_Task] = []

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            return  # the error says what happened; a stale count would only come before it
        for task in self._tasks:
            if task.printed != (task.completed, task.total):
                self._print(task)

    def add_task(self, description: str, total: float | None = None) -> int:
        self._tasks.append(_Task(description, total))
        return len(self._tasks) - 1

    def update(
        self,
        task_id: int,
        *,
        completed: float | None = None,
        total: float | None = None,
        description: str | None = None,
    ) -> None:
        task = self._tasks[task_id]
        task.completed = task.completed if completed is None else completed
        task.total = task.total if total is None else total
        task.description = task.description if description is None else description
        tenth = int(10 * task.completed / task.total) if task.total else -1
        if tenth > task.last_tenth or time.monotonic() - task.last_line >= self.every:
            self._print(task)

    def _print(self, task: _Task) -> None:
        now = time.monotonic()
        elapsed = now - task.started
        done, total = task.completed, task.total
        line = f"{task.description}: {done:g}"
        if total:
            eta = _duration(elapsed * (total - done) / done) if done else "unknown"
            line += f"/{total:g} ({100 * done / total:.0f}%)"
        line += f", elapsed {_duration(elapsed)}" + (f", ETA {eta}" if total else "")
        self.stream.print(line, highlight=False, soft_wrap=True)
        task.last_line, task.printed = now, (done, total)
        task.last_tenth = int(10 * done / total) if total else -1
