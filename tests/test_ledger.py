from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from hwnas.errors import HwnasError
from hwnas.ledger import SCHEMA_VERSION, Ledger
from hwnas.spaces import get_space
from hwnas.trial import Trial


def test_record_and_read_back_with_special_floats(tmp_path: Path) -> None:
    space = get_space("nb201")
    ledger = Ledger(tmp_path / "l.sqlite")
    arch = space.parse("6111")
    values = {"a": 1.5, "b": math.inf, "c": math.nan}
    ledger.record(Trial(0, arch, "ok", values), {"a": {"source": "x"}}, started=1.0)
    ledger.record(Trial(1, space.parse("7"), "failed", {}, "boom"), {}, started=2.0)
    ledger.close()

    again = Ledger(tmp_path / "l.sqlite")
    rows = list(again.rows())
    assert [r["trial"] for r in rows] == [0, 1]
    assert rows[0]["metrics"]["a"] == 1.5 and rows[0]["metrics"]["b"] == math.inf
    assert math.isnan(rows[0]["metrics"]["c"])
    assert rows[0]["provenance"] == {"a": {"source": "x"}}
    assert rows[1]["error"] == "boom" and rows[1]["status"] == "failed"
    trials = again.trials(space)
    assert trials[arch.key].values["a"] == 1.5 and trials[arch.key].number == 0
    assert len(again) == 2


def test_wal_mode_and_duplicates_refused(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    mode = sqlite3.connect(tmp_path / "l.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    arch = get_space("nb201").parse("1")
    ledger.record(Trial(0, arch, "ok", {}), {}, started=0.0)
    with pytest.raises(HwnasError, match="already recorded"):  # one line on the CLI
        ledger.record(Trial(1, arch, "ok", {}), {}, started=0.0)


def test_meta_round_trip_and_schema_check(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.set_meta("config", {"seed": 3})
    assert ledger.get_meta("config") == {"seed": 3}
    assert ledger.get_meta("schema_version") == SCHEMA_VERSION
    ledger.set_meta("schema_version", 999)
    ledger.close()
    with pytest.raises(HwnasError, match="schema 999"):
        Ledger(tmp_path / "l.sqlite")


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "ledger.sqlite"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HwnasError, match="not a readable hwnas ledger"):
        Ledger(bogus)


def _one_row(tmp_path: Path) -> Path:
    path = tmp_path / "l.sqlite"
    ledger = Ledger(path)
    ledger.record(Trial(0, get_space("nb201").parse("6111"), "ok", {"a": 1.0}), {}, started=1.0)
    ledger.close()
    return path


@pytest.mark.parametrize(
    ("column", "raw", "what"),
    [
        ("genes", "[1e400, 0, 0, 0, 0, 0]", "OverflowError"),
        ("provenance", '{"a": ' * 100_000 + "{}" + "}" * 100_000, "RecursionError"),
    ],
)
def test_hand_edited_rows_are_a_damaged_ledger_not_a_traceback(
    tmp_path: Path, column: str, raw: str, what: str
) -> None:
    path = _one_row(tmp_path)
    db = sqlite3.connect(path)
    db.execute(f"UPDATE evaluations SET {column} = ?", (raw,))
    db.commit()
    db.close()
    with pytest.raises(HwnasError, match=f"damaged ledger \\(trial 0: {what}"):
        Ledger(path).trials(get_space("nb201"))


def test_a_full_disk_is_not_a_damaged_ledger(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    ledger = Ledger(tmp_path / "run" / "l.sqlite")
    space = get_space("nb201")
    pages = ledger._db.execute("PRAGMA page_count").fetchone()[0]
    ledger._db.execute(f"PRAGMA max_page_count = {pages}")  # what a full disk answers
    with pytest.raises(HwnasError) as info:
        for i in range(200):
            arch = space.make([i % 5, (i // 5) % 5, (i // 25) % 5, 0, 0, 0])
            ledger.record(Trial(i, arch, "ok", {"a": 1.0}), {"a": {"x": "y" * 500}}, 1.0)
    message = str(info.value)
    assert "the disk is full" in message and "damaged" not in message
    assert f"resume the run (hwnas search --resume {tmp_path / 'run'})" in message
