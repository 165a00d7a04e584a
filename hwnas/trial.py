"""What one evaluation is, as every layer sees it: its status, the `Trial` the ledger
records and strategies are told, and the `Outcome` an evaluation returns (plain data, so
it crosses processes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hwnas.spaces import Architecture

#: an evaluation's status: evaluated and within every constraint, evaluated but violating a
#: constraint, or not evaluated (its `error` says why)
OK, INFEASIBLE, FAILED = "ok", "infeasible", "failed"
STATUSES: tuple[str, ...] = (OK, INFEASIBLE, FAILED)


@dataclass(frozen=True)
class Trial:
    """One evaluated architecture as the ledger recorded it."""

    number: int
    arch: Architecture
    status: str
    values: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of evaluating one architecture: plain data, so it crosses processes."""

    status: str
    values: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started: float = 0.0
    finished: float = 0.0
    #: the failure is the configuration's (a `SetupError`), not the architecture's: a study
    #: stops rather than record it
    stop: bool = False
