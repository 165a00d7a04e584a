"""The `hwnas` command line. Each feature adds its commands in a module of this package
(sharing `hwnas.cli._app`), imported here. Every `HwnasError` becomes a one-line message
and exit code 2: no traceback reaches the user for bad input."""

from __future__ import annotations

from hwnas.cli._app import app

# command modules register themselves on `app`, in the order `hwnas --help` lists them
# isort: off
from hwnas.cli import _search, _catalog, _report, _cost, _calibrate  # noqa: F401
from hwnas.cli import _proxies, _bench, _export, _supernet  # noqa: F401
from hwnas.cli import _device, _dnas  # noqa: F401
# isort: on


def main() -> None:
    app()


__all__ = ["app", "main"]
