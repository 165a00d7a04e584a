"""Differentiable-search tests run their tiny supernets on one torch thread: hundreds of
small kernels per step, which two threads on a loaded 2-core machine (pytest -n 2) make
several times slower, not faster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    try:
        import torch
    except ImportError:  # the core-only suite: nothing to pin
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
