"""The bench's incremental store: each finished run is a JSON line, a killed bench keeps
them, and a rerun with the same output directory skips them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hwnas.bench import parse_task, run_many
from hwnas.bench._store import append_run, load_runs
from hwnas.errors import SpecError


def test_runs_round_trip_and_a_cut_last_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    runs = run_many(["random"], [parse_task("cifar10:fpga")], range(2), (5, 10), workers=1)
    for r in runs:
        append_run(path, r)
    with open(path, "a") as fh:
        fh.write('{"schema_version": 1, "method": "ran')  # killed mid-write
    back = load_runs(path, (5, 10))
    assert back == runs
    with pytest.raises(SpecError, match="budgets"):
        load_runs(path, (5, 20))
    assert load_runs(tmp_path / "none.jsonl", (5,)) == []


def test_run_many_reuses_done_runs_and_reports_only_new_ones() -> None:
    task = parse_task("cifar10:fpga")
    first = run_many(["random"], [task], range(2), (5,), workers=1)
    seen = []
    both = run_many(["random"], [task], range(3), (5,), workers=1, done=first[:2],
                    on_result=seen.append)  # fmt: skip
    assert both[:2] == first
    assert [r.seed for r in seen] == [2]


def test_cli_bench_resumes_from_its_runs_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = ("bench", "-t", "cifar10:fpga", "-m", "random", "-b", "10", "--out", "b")
    assert cli(*args, "--seeds", "1").returncode == 0
    lines = (tmp_path / "b" / "runs.jsonl").read_text().splitlines()
    res = cli(*args, "--seeds", "2")
    assert res.returncode == 0, res.stderr
    assert "Resuming: 1 finished run" in res.stdout
    after = (tmp_path / "b" / "runs.jsonl").read_text().splitlines()
    assert after[:1] == lines and len(after) == 2
    bad = cli("bench", "-t", "cifar10:fpga", "-m", "random", "-b", "20", "--out", "b")
    assert bad.returncode == 2 and "budgets" in bad.stderr


def test_a_torn_last_line_is_dropped_with_a_warning_and_cut_before_the_next_append(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.jsonl"
    runs = run_many(["random"], [parse_task("cifar10:fpga")], range(3), (5,), workers=1)
    append_run(path, runs[0])
    with open(path, "a") as fh:
        fh.write('{"schema_version": 1, "method": "ran')  # killed mid-write
    assert load_runs(path, (5,)) == runs[:1]
    # in a fresh interpreter, as `hwnas bench` meets it: the warning reaches stderr
    code = f"from hwnas.bench._store import load_runs; load_runs({str(path)!r}, (5,))"
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert f"warning: {path}:2: dropped a torn last line" in res.stderr
    append_run(path, runs[1])  # the resumed bench appends: the torn tail must not stay
    append_run(path, runs[2])
    assert load_runs(path, (5,)) == runs
    assert path.read_text().count("\n") == 3
    # a whole line torn just before its newline is dropped too, as append_run cuts it
    path.write_text(path.read_text()[:-1])
    assert load_runs(path, (5,)) == runs[:2]
    append_run(path, runs[2])
    assert load_runs(path, (5,)) == runs


def test_a_damaged_line_in_the_middle_or_a_terminated_last_line_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.jsonl"
    runs = run_many(["random"], [parse_task("cifar10:fpga")], range(2), (5,), workers=1)
    append_run(path, runs[0])
    good = path.read_text()
    path.write_text(good + "{not json\n")  # complete, so not a kill mid-write
    with pytest.raises(SpecError, match=r":2: not a JSON line"):
        load_runs(path, (5,))
    path.write_text("{not json\n" + good)
    with pytest.raises(SpecError, match=r":1: not a JSON line"):
        load_runs(path, (5,))
