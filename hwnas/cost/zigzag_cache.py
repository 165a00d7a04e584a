"""The persistent per-layer cache of ZigZag results: one SQLite file (never pickle) that
workers of one search, and later searches, share, so that each distinct layer shape is
evaluated once per accelerator. SQLite's write-ahead log and a busy timeout make it safe
under concurrent writers; two workers that price the same new layer at once both compute
it and the second write is ignored (the values are the same)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
#: where the default cache lives: $HWNAS_CACHE_DIR, else $XDG_CACHE_HOME/hwnas, else ~/.cache/hwnas
CACHE_ENV = "HWNAS_CACHE_DIR"
_QUIET = threading.RLock()  # re-entrant: a caller may wrap evaluate_layer, which takes it too


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hwnas"


class LayerCache:
    """(context, layer) -> (energy pJ, latency cycles); `context` is the accelerator's
    digest, the mapping-search options and ZigZag's version, as JSON."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS layers (context TEXT NOT NULL, layer TEXT NOT NULL, "
                "energy_pj REAL NOT NULL, cycles REAL NOT NULL, PRIMARY KEY (context, layer))"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS unmappable (context TEXT NOT NULL, layer TEXT NOT NULL, "
                "reason TEXT NOT NULL, PRIMARY KEY (context, layer))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            (version,) = db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        if version != str(SCHEMA_VERSION):
            from hwnas.errors import HwnasError

            raise HwnasError(
                f"ZigZag cache {self.path} has schema {version}, this hwnas reads "
                f"{SCHEMA_VERSION}: delete it (it is only a cache) or set {CACHE_ENV}"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        finally:
            db.close()

    def _lookup(self, sql: str, context: str, layers: set[str]) -> dict[str, tuple[Any, ...]]:
        """The row `sql` selects for each of `layers` that has one (one connection)."""
        found: dict[str, tuple[Any, ...]] = {}
        with self._connect() as db:
            for layer in layers:
                row = db.execute(sql, (context, layer)).fetchone()
                if row is not None:
                    found[layer] = tuple(row)
        return found

    def get_many(self, context: str, layers: set[str]) -> dict[str, tuple[float, float]]:
        rows = self._lookup(
            "SELECT energy_pj, cycles FROM layers WHERE context = ? AND layer = ?", context, layers
        )
        return {layer: (float(r[0]), float(r[1])) for layer, r in rows.items()}

    def put(self, context: str, layer: str, energy_pj: float, cycles: float) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO layers VALUES (?, ?, ?, ?)",
                (context, layer, energy_pj, cycles),
            )

    def failures(self, context: str, layers: set[str]) -> dict[str, str]:
        """The layers ZigZag found no mapping for on this context's accelerator, and why:
        an accelerator too small for a layer stays so, so the search is not paid twice."""
        rows = self._lookup(
            "SELECT reason FROM unmappable WHERE context = ? AND layer = ?", context, layers
        )
        return {layer: str(r[0]) for layer, r in rows.items()}

    def put_failure(self, context: str, layer: str, reason: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO unmappable VALUES (?, ?, ?)", (context, layer, reason)
            )

    def __len__(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM layers").fetchone()[0])


def default_cache() -> LayerCache:
    """The cache under `cache_dir()` (opened anew each call: the directory may change)."""
    return LayerCache(cache_dir() / "zigzag-layers.sqlite")


@contextlib.contextmanager
def quiet_zigzag(level: int = logging.ERROR) -> Iterator[None]:
    """ZigZag logs a warning for every spatial unrolling it reduces to fit an array: for a
    search these are noise, so its loggers say only `level` and above meanwhile."""
    with _QUIET:
        zz = logging.getLogger("zigzag")
        before = zz.level
        zz.setLevel(level)
        try:
            yield
        finally:
            zz.setLevel(before)
