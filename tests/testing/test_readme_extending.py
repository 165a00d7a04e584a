"""README's "Extending" example runs as printed, so it cannot rot: its code block is taken
from README.md and run in a fresh interpreter (its registrations stay out of this one)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def extending_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Extending\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, f"expected one python block under ## Extending, found {len(blocks)}"
    return blocks[0]


def test_the_readme_extending_example_runs(tmp_path: Path) -> None:
    code = extending_example()
    for suite in ("check_space", "check_strategy", "check_target", "hwnas.Study("):
        assert suite in code
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "latency@toy-board" in done.stdout and "w8-d1-k3" in done.stdout
