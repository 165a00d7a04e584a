"""The one way hwnas imports an optional dependency (torch, onnxruntime, ray, ...): lazily,
where it is needed, and when it is missing with a `DependencyError` that names the extra
to install, so no module carries its own "pip install" message."""

from __future__ import annotations

import importlib
from types import ModuleType

from hwnas.errors import missing_dependency


def optional_import(module: str, needed_by: str) -> ModuleType:
    """`import module`, or a `DependencyError` saying `needed_by needs MODULE: pip install
    "hwnas[EXTRA]"`. A module that is installed but fails to import raises as it is."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or module.partition(".")[0] != exc.name.partition(".")[0]:
            raise
        raise missing_dependency(module, needed_by) from None
