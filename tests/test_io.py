"""The file helpers every layer uses: atomic writes, errors that say why a path is not
what was expected (issue 21 item 9: a directory given for a file read "does not exist"),
and the bounded JSON reader of user files (a deep or 5,000-digit file was a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwnas import _io
from hwnas._io import (
    atomic_path,
    atomic_write,
    loads_json,
    number,
    read_json,
    why_not_a_directory,
    why_not_a_file,
)
from hwnas.errors import HwnasError, SpecError


def test_why_a_path_is_not_a_file_or_directory(tmp_path: Path) -> None:
    (tmp_path / "f.json").write_text("{}")
    assert why_not_a_file(tmp_path / "f.json") is None
    assert why_not_a_file(tmp_path) == "is a directory, not a file"
    assert why_not_a_file(tmp_path / "nope") == "does not exist"
    assert why_not_a_directory(tmp_path) is None
    assert why_not_a_directory(tmp_path / "f.json") == "is a file, not a directory"
    assert why_not_a_directory(tmp_path / "nope") == "does not exist"


def test_a_directory_given_for_a_file_is_named_as_such(tmp_path: Path) -> None:
    from hwnas.cost.lut import LatencyPredictor
    from hwnas.cost.roofline import load_spec
    from hwnas.datasets import load_dataset

    folder = tmp_path / "oops.json"
    folder.mkdir()
    with pytest.raises(HwnasError, match="oops.json is a directory, not a file"):
        load_spec(str(folder))
    with pytest.raises(HwnasError, match="oops.json is a directory, not a file"):
        LatencyPredictor.load(folder)
    with pytest.raises(HwnasError, match="which is a directory, not a file"):
        load_dataset(f"npz:{folder}")
    (tmp_path / "file").write_text("x")
    with pytest.raises(HwnasError, match="which is a file, not a directory"):
        load_dataset(f"folder:{tmp_path / 'file'}")


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.csv"
    atomic_write(target, "a\n")
    atomic_write(target, b"b\n")
    assert target.read_bytes() == b"b\n"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed while writing")
    assert target.read_bytes() == b"b\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.csv"]


# --- the bounded JSON reader -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": "\xff"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 deep"),
        (b'{"a": ' * 65 + b"1" + b"}" * 65, "nested more than 64 deep"),
        (b'{"n": ' + b"1" * 5000 + b"}", "a number of 5000 characters"),
        (b'{"n": 0.' + b"1" * 5000 + b"}", "a number of 5002 characters"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_read_json_bounds_what_a_user_file_may_ask(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "user.json"
    path.write_bytes(content)
    with pytest.raises(SpecError, match=message):
        read_json(path)


def test_read_json_reads_ordinary_documents(tmp_path: Path) -> None:
    doc = {"a": [1, 2.5, {"b": "[[[ brackets in a string {{{"}], "c": None, "d": True}
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(doc))
    assert read_json(path) == doc
    deep = {"a": [[[[{"b": 1}]]]]}
    assert loads_json(json.dumps(deep), "x") == deep


def test_read_json_refuses_a_huge_file_before_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_io, "MAX_JSON_BYTES", 10)
    path = tmp_path / "big.json"
    path.write_text('{"a": "0123456789"}')
    with pytest.raises(SpecError, match="more than the 10 allowed"):
        read_json(path)


def test_number_is_not_a_bool() -> None:
    assert number(3) == 3.0
    for value in (True, False, "1", None):
        with pytest.raises(TypeError):
            number(value)
