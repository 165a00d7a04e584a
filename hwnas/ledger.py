"""Append-only SQLite ledger of every evaluation: each row is committed the moment it
completes (WAL mode), so a run killed at any moment loses nothing and resumes by replay."""

from __future__ import annotations

import errno
import json
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hwnas.errors import HwnasError
from hwnas.spaces import SearchSpace
from hwnas.trial import Trial

SCHEMA_VERSION = 1
LEDGER_FILE = "ledger.sqlite"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS evaluations (
    trial INTEGER PRIMARY KEY,
    arch TEXT NOT NULL UNIQUE,
    genes TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'infeasible', 'failed')),
    metrics TEXT NOT NULL,
    provenance TEXT NOT NULL,
    error TEXT,
    started REAL NOT NULL,
    finished REAL NOT NULL
)""",
)


def _dump(obj: Any) -> str:
    """JSON with NaN/inf as null/strings, so the file stays standard JSON."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), sort_keys=True)


def _load_value(x: Any) -> float:
    if x is None:
        return math.nan
    if x == "inf":
        return math.inf
    if x == "-inf":
        return -math.inf
    return float(x)


#: what a damaged file or a hand-edited row raises while being read (`1e400` genes
#: overflow, a deeply nested provenance exhausts the JSON parser's recursion)
_DAMAGE = (
    sqlite3.DatabaseError, ValueError, TypeError, KeyError, AttributeError, OverflowError,
    RecursionError,
)  # fmt: skip


_SQLITE_FULL = 13  # SQLite's result code; sqlite3.SQLITE_FULL from Python 3.11 on


def disk_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk (or the file system's quota) is full."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL or (
            "disk is full" in str(exc)
        )
    return False


class Ledger:
    """`Ledger(path)` opens or creates a ledger; `Ledger(None)` keeps it in memory;
    `read_only=True` opens an existing one without writing a byte (reading a run). A new
    ledger gets its tables and `meta` (e.g. the run's configuration) in one transaction,
    so a run killed as it starts leaves either nothing or a complete start."""

    def __init__(
        self,
        path: str | Path | None,
        *,
        read_only: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        target = str(self.path) if self.path is not None else ":memory:"
        try:
            if read_only:
                if self.path is None:
                    raise HwnasError("a read-only ledger needs a file")
                # a cleanly closed ledger is whole in its file: read it as immutable, which
                # creates no -wal/-shm beside it; a live or killed run's newest rows are in
                # its -wal, read through SQLite's shared-memory index (-shm) as usual
                live = self.path.with_name(self.path.name + "-wal").exists()
                uri = f"{self.path.resolve().as_uri()}?{'mode=ro' if live else 'immutable=1'}"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
            else:
                self._db = sqlite3.connect(target, isolation_level=None, timeout=30)
                if self.path is not None:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                self._create(meta or {})
        except sqlite3.DatabaseError as exc:
            if disk_full(exc):
                raise self.full_disk_error(exc) from None
            raise HwnasError(f"{target}: not a readable hwnas ledger ({exc})") from None
        version = self.get_meta("schema_version")
        if version != SCHEMA_VERSION:
            raise HwnasError(
                f"{target}: ledger schema {version}, this hwnas reads {SCHEMA_VERSION}; "
                "use the hwnas version that wrote it"
            )

    def _create(self, meta: dict[str, Any]) -> None:
        """Create the tables, the schema version and `meta` unless the ledger has them."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                self._db.execute(statement)
            if self._db.execute("SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone():
                self._db.execute("COMMIT")
                return
            for key, value in {"schema_version": SCHEMA_VERSION, **meta}.items():
                self.set_meta(key, value)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @staticmethod
    def holds_run(path: str | Path) -> bool:
        """Whether the ledger file at `path` holds a run (a configuration or an evaluation):
        one killed before its first commit does not, and a new run may take it over."""
        try:
            db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        except sqlite3.DatabaseError:
            return True  # unreadable: never silently taken over
        try:
            config = db.execute("SELECT 1 FROM meta WHERE key = 'config'").fetchone()
            return config is not None or bool(
                db.execute("SELECT 1 FROM evaluations LIMIT 1").fetchone()
            )
        except sqlite3.OperationalError as exc:
            return "no such table" not in str(exc)
        except sqlite3.DatabaseError:
            return True
        finally:
            db.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """Turn a damaged file or row into one clear error naming the file and the part."""
        try:
            yield
        except _DAMAGE as exc:
            if disk_full(exc):
                raise self.full_disk_error(exc) from None
            raise HwnasError(
                f"{self.path or ':memory:'}: damaged ledger ({what}: {type(exc).__name__}: "
                f"{exc}); restore it from a backup or start a new run"
            ) from None

    def full_disk_error(self, exc: BaseException) -> HwnasError:
        """A full disk is no damage: what was committed stays, and the run goes on."""
        where = self.path or ":memory:"
        resume = f" (hwnas search --resume {self.path.parent})" if self.path is not None else ""
        return HwnasError(
            f"{where}: the disk is full ({exc}); every evaluation committed so far is kept: "
            f"free some space and resume the run{resume}"
        )

    # --- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        with self._reading(f"meta {key!r}"):
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self._reading(f"meta {key!r}"):
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, _dump(value)),
            )

    # --- evaluations ----------------------------------------------------------------------
    def record(
        self,
        trial: Trial,
        provenance: dict[str, Any],
        started: float,
        finished: float | None = None,
    ) -> None:
        """Commit one evaluation (a single autocommitted INSERT: all or nothing)."""
        with self._reading(f"trial {trial.number}"):
            try:
                self._insert(trial, provenance, started, finished)
            except sqlite3.IntegrityError:
                raise HwnasError(
                    f"{self.path or ':memory:'}: trial {trial.number} ({trial.arch.key}) is "
                    "already recorded; is another hwnas process running this run?"
                ) from None

    def _insert(
        self, trial: Trial, provenance: dict[str, Any], started: float, finished: float | None
    ) -> None:
        self._db.execute(
            "INSERT INTO evaluations(trial, arch, genes, status, metrics, provenance, error, "
            "started, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                trial.number,
                trial.arch.key,
                json.dumps(list(trial.arch.genes)),
                trial.status,
                _dump(trial.values),
                _dump(provenance),
                trial.error,
                started,
                finished if finished is not None else time.time(),
            ),
        )

    def __len__(self) -> int:
        with self._reading("evaluations"):
            return int(self._db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])

    def rows(self) -> Iterator[dict[str, Any]]:
        with self._reading("evaluations"):
            cur = self._db.execute(
                "SELECT trial, arch, genes, status, metrics, provenance, error, started, "
                "finished FROM evaluations ORDER BY trial"
            )
            rows = cur.fetchall()
        for trial, arch, genes, status, metrics, prov, error, started, finished in rows:
            with self._reading(f"trial {trial}"):
                genes, prov = json.loads(genes), json.loads(prov)
                if not isinstance(genes, list) or not isinstance(arch, str):
                    raise TypeError(f"genes {genes!r} / arch {arch!r}")
                if not isinstance(prov, dict) or not all(
                    isinstance(v, dict) for v in prov.values()
                ):
                    raise TypeError(f"provenance {prov!r} is not an object of objects")
                if error is not None and not isinstance(error, str):
                    raise TypeError(f"error {error!r} is not text")
                yield {
                    "trial": int(trial),
                    "arch": arch,
                    "genes": tuple(genes),
                    "status": status,
                    "metrics": {k: _load_value(v) for k, v in json.loads(metrics).items()},
                    "provenance": prov,
                    "error": error,
                    "started": float(started),
                    "finished": float(finished),
                }

    def trials(self, space: SearchSpace) -> dict[str, Trial]:
        """Every recorded trial by architecture key."""
        out: dict[str, Trial] = {}
        for row in self.rows():
            with self._reading(f"trial {row['trial']}"):
                arch = space.restore(row["genes"])
                if arch.key != row["arch"]:
                    raise ValueError(f"genes {row['genes']} are {arch.key}, not {row['arch']}")
            out[arch.key] = Trial(row["trial"], arch, row["status"], row["metrics"], row["error"])
        return out
