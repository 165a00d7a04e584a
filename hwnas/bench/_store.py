"""Finished runs as JSON lines, one appended and flushed per run, so a killed bench keeps
what it finished and a rerun with the same output directory resumes from it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from hwnas.bench._run import RunResult
from hwnas.errors import SpecError

RUNS_FILE = "runs.jsonl"
SCHEMA_VERSION = 1


def append_run(path: str | Path, result: RunResult) -> None:
    """Append one finished run (with the file's schema version) and flush it to disk."""
    row = {"schema_version": SCHEMA_VERSION, **asdict(result)}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()


def load_runs(path: str | Path, budgets: Sequence[int]) -> list[RunResult]:
    """The runs recorded in `path` (none if it does not exist). A last line cut short by a
    kill is dropped; runs recorded for other budgets are refused, as they cannot be mixed."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[RunResult] = []
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except ValueError:
            if number == len(lines):
                break  # the run being written when the bench was killed
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
