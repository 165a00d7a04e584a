"""Finished runs as JSON lines, one appended and flushed per run, so a killed bench keeps
what it finished and a rerun with the same output directory resumes from it."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from hwnas.bench._run import RunResult
from hwnas.errors import SpecError

RUNS_FILE = "runs.jsonl"
SCHEMA_VERSION = 1
# unconfigured, a warning still reaches stderr through logging's last-resort handler
_log = logging.getLogger(__name__)


def append_run(path: str | Path, result: RunResult) -> None:
    """Append one finished run (with the file's schema version) in a single write and
    fsync it. A torn last line left by a kill is cut off first: appended to, it would
    become a damaged line in the middle, and the bench could never resume."""
    row = {"schema_version": SCHEMA_VERSION, **asdict(result)}
    data = (json.dumps(row) + "\n").encode("utf-8")
    with open(path, "a+b", buffering=0) as fh:
        size = fh.seek(0, os.SEEK_END)
        if size and fh.seek(size - 1) >= 0 and fh.read(1) != b"\n":
            fh.seek(0)
            fh.truncate(fh.read().rfind(b"\n") + 1)
        view = memoryview(data)
        while view:  # one write() per line (O_APPEND); the loop only finishes a short write
            view = view[fh.write(view) :]
        os.fsync(fh.fileno())


def load_runs(path: str | Path, budgets: Sequence[int]) -> list[RunResult]:
    """The runs recorded in `path` (none if it does not exist). An unterminated last line
    (the run being written when the bench was killed) is dropped with a warning, and that
    run runs again; a damaged line anywhere else is refused, and runs
    recorded for other budgets are refused, as they cannot be mixed."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if lines and not text.endswith("\n"):  # append_run cuts it too, so the two agree
        _log.warning(
            "warning: %s:%d: dropped a torn last line (a run cut short by a kill); "
            "it will run again",
            path,
            len(lines),
        )
        lines.pop()
    out: list[RunResult] = []
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except ValueError:
            raise SpecError(f"{path}:{number}: not a JSON line") from None
        if row.pop("schema_version", None) != SCHEMA_VERSION:
            raise SpecError(f"{path}:{number}: schema version is not {SCHEMA_VERSION}")
        at = {int(b): v for b, v in row.pop("at").items()}
        if sorted(at) != sorted(set(budgets)):
            raise SpecError(
                f"{path} holds runs for budgets {sorted(at)}, not {sorted(set(budgets))}; "
                "use the same --budget values to resume, or another --out"
            )
        curve = [(int(e), float(g)) for e, g in row.pop("curve")]
        out.append(RunResult(**row, at=at, curve=curve))
    return out
