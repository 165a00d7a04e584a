"""Puts `fault_targets` (test-only targets) on the import path, under a plain module name
that worker processes and Ray workers can import as they would any plugin."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
