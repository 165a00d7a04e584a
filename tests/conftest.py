"""Shared test helpers: running the CLI as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`hwnas ARGS` in a fresh interpreter (as `python -m hwnas`), capturing output."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "hwnas", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli(tmp_path: Path):
    """Run the CLI with the test's temporary directory as working directory."""

    def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=tmp_path, timeout=timeout)

    return _run
