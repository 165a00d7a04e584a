"""The file helpers every layer uses: atomic writes, and errors that say why a path is not
what was expected (issue 21 item 9: a directory given for a file read "does not exist")."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwnas._io import atomic_path, atomic_write, why_not_a_directory, why_not_a_file
from hwnas.errors import HwnasError


def test_why_a_path_is_not_a_file_or_directory(tmp_path: Path) -> None:
    (tmp_path / "f.json").write_text("{}")
    assert why_not_a_file(tmp_path / "f.json") is None
    assert why_not_a_file(tmp_path) == "is a directory, not a file"
    assert why_not_a_file(tmp_path / "nope") == "does not exist"
    assert why_not_a_directory(tmp_path) is None
    assert why_not_a_directory(tmp_path / "f.json") == "is a file, not a directory"
    assert why_not_a_directory(tmp_path / "nope") == "does not exist"


def test_a_directory_given_for_a_file_is_named_as_such(tmp_path: Path) -> None:
    from hwnas.cost.analytic import load_spec
    from hwnas.cost.lut import LatencyPredictor
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
