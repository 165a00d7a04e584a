"""What every command module shares: the Typer `app`, the consoles, `friendly` (every
`HwnasError` becomes a one-line message and exit code 2) and the progress-bar style."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

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


def progress_bar() -> Any:
    """The CLI's one progress-bar style, on stderr so that stdout stays parseable."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
