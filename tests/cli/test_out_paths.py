"""`hwnas search --out` / `--resume` at a path the system refuses: `error:` and exit 2,
never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import hwnas
from hwnas.cli import app
from hwnas.errors import HwnasError


def _search(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["search", "--budget", "2", "-q", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stderr


def test_out_at_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_text("not a directory")
    code, err = _search("--out", str(target))
    assert code == 2
    assert err.startswith("error:") and "results.txt" in err and "a file is in the way" in err
    assert target.read_text() == "not a directory"


def test_out_below_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    code, err = _search("--out", str(tmp_path / "f" / "run"))
    assert code == 2 and "cannot create the run directory" in err


@pytest.mark.parametrize("flag", ["--out", "--resume"])
def test_a_path_too_long(tmp_path: Path, flag: str) -> None:
    code, err = _search(flag, str(tmp_path / ("x" * 300)))
    assert code == 2
    assert err.startswith("error:") and "File name too long" in err and "Traceback" not in err


def test_the_python_api_raises_hwnas_error_for_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(HwnasError, match="cannot create the run directory"):
        hwnas.Study(budget=2, out_dir=tmp_path / "f")


#: path pieces that systems treat specially: separators, parents, NUL, long names, spaces
PATH_PIECES = st.sampled_from(
    ["/", "..", ".", "\x00", " ", "~", "-", "x" * 260, "é", "\n", "*", "run", "a:b", "\\"]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(PATH_PIECES, st.text(max_size=12)), min_size=1, max_size=6))
def test_any_out_path_runs_or_is_an_error(tmp_path: Path, pieces: list[str]) -> None:
    """Fuzzed `--out` under a scratch folder (issue 21: the fuzzing covers output paths):
    the search runs (exit 0) or answers with one `error:` line and exit 2 (a path the system refuses, a file in the way, a run already
    there); never a traceback."""
    text = "".join(pieces)
    assume(not text.startswith("-"))  # an option, not a path
    code, err = _search("--out", str(tmp_path / "fuzz" / text))
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:  # hwnas's `error:` line, or Typer's usage box for what no shell can pass (NUL)
        assert err.startswith("error:") or "Invalid value for '--out'" in err, err
