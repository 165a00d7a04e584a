"""`hwnas search --executor ...` as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import hwnas


def test_search_with_a_process_pool_then_resume_in_process(cli, tmp_path: Path) -> None:
    common = ["search", "--budget", "20", "--strategy", "random", "--seed", "4", "-q"]
    pooled = cli(*common, "--executor", "process", "--workers", "2", "--out", "pooled")
    assert pooled.returncode == 0, pooled.stderr
    evals = pd.read_csv(tmp_path / "pooled" / "evaluations.csv")
    plain = hwnas.Study(budget=20, strategy="random", seed=4).optimize().evaluations()
    assert evals["arch"].tolist() == plain["arch"].tolist()

    resumed = cli("search", "--resume", "pooled", "--budget", "30", "-q")
    assert resumed.returncode == 0, resumed.stderr
    longer = pd.read_csv(tmp_path / "pooled" / "evaluations.csv")
    assert len(longer) == 30 and longer["arch"].is_unique
    pd.testing.assert_frame_equal(longer.iloc[:20], evals)
