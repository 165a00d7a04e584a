"""`hwnas.testing` is usable outside a test runner and without the torch extra: importing
it imports neither pytest nor torch."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_suites_imports_neither_pytest_nor_torch() -> None:
    code = (
        "import sys, hwnas.testing; "
        "print(sorted(m for m in ('pytest', 'torch') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
