"""`hwnas proxies` end to end in a subprocess: the CSV and its provenance file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


def _hwnas(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", "from hwnas.cli import main; main()", *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


def test_proxies_writes_csv_with_one_column_per_proxy(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    res = _hwnas(
        "proxies", "--space", "nb201", "--dataset", "imagenet16", "--proxy", "synflow",
        "--proxy", "nwot", "--sample", "2", "--seed", "1", "--data", "digits",
        "--batch-size", "8", "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["arch", "synflow", "nwot"]
    assert len(frame) == 2 and frame["arch"].str.startswith("|").all()
    meta = json.loads(out.with_name("p.csv.json").read_text())
    assert meta["data"]["dataset"] == "digits" and meta["batch_size"] == 8
    assert "digits" in res.stdout


def test_unknown_proxy_is_a_one_line_error(tmp_path: Path) -> None:
    res = _hwnas("proxies", "--proxy", "zenscore", "--out", str(tmp_path / "x.csv"))
    assert res.returncode == 2
    assert "unknown proxy 'zenscore'" in res.stderr and "synflow" in res.stderr
    assert "Traceback" not in res.stderr


def test_networks_get_the_classes_of_the_users_data(tmp_path: Path, three_classes: str) -> None:
    from hwnas.spaces import get_space

    out = tmp_path / "p.csv"
    res = _hwnas(
        "proxies", "--space", "nb201", "--dataset", "cifar10", "--proxy", "params",
        "--proxy", "snip", "--arch", "6111", "--data", three_classes, "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    space = get_space("nb201")
    three = space.build(space.parse("6111"), "cifar10", classes=3)
    row = pd.read_csv(out).iloc[0]
    assert row["params"] == pytest.approx(sum(p.numel() for p in three.parameters()) / 1e6)
    meta = json.loads(out.with_name("p.csv.json").read_text())
    assert meta["classes"] == 3 and meta["network_dataset"] == "cifar10"
