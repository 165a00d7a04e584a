"""Shared test helpers: running the CLI as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
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


def write_image_folder(root: Path, classes: int = 3, train: int = 10, test: int = 2) -> str:
    """A tiny `folder:` dataset of 8x8 grey PNGs (`train` + `test` per class, in train/ and
    test/), each class a different brightness; returns its dataset spec."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("test", test)):
        for c in range(classes):
            (root / split / f"c{c}").mkdir(parents=True)
            for i in range(n):
                level = 40 + 80 * c
                pixels = rng.integers(level, level + 40, (8, 8)).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / f"c{c}" / f"{i}.png")
    return f"folder:{root}"


@pytest.fixture(scope="session")
def three_classes(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The spec of a 3-class `folder:` dataset, written once per test session."""
    pytest.importorskip("PIL")
    return write_image_folder(tmp_path_factory.mktemp("three-classes"))


@pytest.fixture
def tiny_nb201(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """NB201 cells in a 1-cell-per-stage, 4-channel skeleton: the same code path as the
    real networks, a fraction of their training time (the export and QAT tests)."""
    torch = pytest.importorskip("torch")
    from hwnas.models.nb201 import TinyNetwork
    from hwnas.spaces.nb201 import NB201Space, cell

    monkeypatch.setattr(
        NB201Space,
        "build",
        lambda self, arch, dataset, classes=None: TinyNetwork(
            cell(arch.genes), classes or 10, C=4, N=1
        ),
    )
    # one thread: two test workers on two cores would otherwise fight over them
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
