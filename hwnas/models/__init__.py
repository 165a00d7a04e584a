"""PyTorch builders of the spaces' networks (the `torch` extra). Import the submodules only
from code that needs torch: `import hwnas` never does."""

from __future__ import annotations

import importlib.util

from hwnas.errors import DependencyError


def require_torch() -> None:
    """Raise a `DependencyError` naming the extra when torch is not installed."""
    if importlib.util.find_spec("torch") is None:
        raise DependencyError('building networks needs PyTorch: pip install "hwnas[torch]"')
