"""The one way a space reaches its torch builder: `builder("vit")` imports
`hwnas.models.vit` lazily, when a network is built, so spaces stay importable without
torch and each new space adds no upward import of its own (tests/test_architecture.py)."""

from __future__ import annotations

import importlib
from types import ModuleType

from hwnas._imports import optional_import


def builder(name: str) -> ModuleType:
    """The builder module `hwnas.models.NAME` (needs the `torch` extra)."""
    optional_import("torch", "building networks")
    from hwnas import models

    return importlib.import_module(f"{models.__name__}.{name}")
