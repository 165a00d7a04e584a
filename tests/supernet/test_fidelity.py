"""The supernet estimator's cheaper fidelities (`SupernetQuality.fidelity`, in
hwnas/quality/supernet.py) and `hwnas search --fidelity` end to end; here beside the
session's tiny checkpoint (digits images, fashion-mnist networks), which they need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwnas.errors import SpecError
from hwnas.export import pick_evaluation
from hwnas.quality import get_quality
from hwnas.results import load_results
from hwnas.sources import EvalContext
from hwnas.spaces import get_space

SEARCH = ["search", "--space", "mbv3", "--dataset", "fashion-mnist", "--data", "digits",
          "-o", "accuracy:max", "-o", "macs:min", "--strategy", "random", "--option",
          "batch_size=4"]  # fmt: skip


def context() -> EvalContext:
    return EvalContext(get_space("mbv3"), "fashion-mnist", data="digits")


def test_fidelity_specs(checkpoint: Path) -> None:
    full = get_quality(f"supernet:{checkpoint},calib=64")
    assert full.fidelity("val=50", context()) == f"supernet:{checkpoint},calib=64,val=50"
    assert full.fidelity("calib=16, val=50", context()).endswith(",calib=16,val=50")
    subset = get_quality(f"supernet:{checkpoint},val=100")
    assert subset.fidelity("val=40", context()).endswith(",val=40")


@pytest.mark.parametrize(
    ("spec", "option", "message"),
    [
        ("calib=64", "val=100000", "not cheaper"),  # as many as the whole split
        ("calib=64", "calib=128", "not cheaper"),
        ("calib=64", "calib=64", "not cheaper"),
        ("val=100", "val=100", "not cheaper"),
        ("calib=64", "val=0", "at least one image"),
        ("calib=64", "epochs=1", "val=N and calib=N"),
    ],
)
def test_fidelities_not_cheaper_or_unknown_are_refused(
    checkpoint: Path, spec: str, option: str, message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        get_quality(f"supernet:{checkpoint},{spec}").fidelity(option, context())


def test_search_with_a_fidelity_from_the_command_line(cli, checkpoint: Path) -> None:
    args = [*SEARCH, "--quality", f"supernet:{checkpoint},calib=32", "--budget", "4",
            "--fidelity", "val=40", "--eta", "2", "--promote", "2", "--out", "run"]  # fmt: skip
    result = cli(*args, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Run files in run" in result.stdout
    again = cli(*args, timeout=300)  # the same command again: nothing redone
    assert again.returncode == 0, again.stderr
    shown = cli("show", "run")
    assert shown.returncode == 0 and "budget 4" in shown.stdout
    assert "multi-fidelity: val=40 promoted to the full fidelity (eta 2, 2 per round)" in (
        " ".join(shown.stdout.split())
    )


def test_run_directory_holds_full_fidelity_values_with_links(
    cli, checkpoint: Path, tmp_path: Path
) -> None:
    args = [*SEARCH, "--quality", f"supernet:{checkpoint},calib=32", "--budget", "4",
            "--fidelity", "val=40", "--eta", "2", "--promote", "2", "--out", "run", "-q"]  # fmt: skip
    assert cli(*args, timeout=300).returncode == 0
    run = tmp_path / "run"
    results, low = load_results(run), load_results(run / "fidelity" / "val=40")
    assert len(results) == 4 and len(low) == 8
    for e in results.rows:
        prov = e.provenance["accuracy"]
        assert prov["images_evaluated"] > 40 and prov["subset"] == "whole split"
        link = prov["promoted_from"]
        below = next(r for r in low.rows if r.arch == e.arch)
        assert link["values"]["accuracy"] == below.value("accuracy")
        assert below.provenance["accuracy"]["images_evaluated"] == 40
    picked = pick_evaluation(results, "best:accuracy").evaluation
    assert picked.arch in {e.arch for e in results.rows}
    assert json.loads((run / "config.json").read_text())["config"]["budget"] == 4
    more = cli("search", "--resume", "run", "--budget", "6", "-q", timeout=300)
    assert more.returncode == 0, more.stderr
    assert len(load_results(run)) == 6 and len(load_results(run / "fidelity" / "val=40")) == 12


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fidelity", "val=0"], "at least one image"),
        (["--fidelity", "epochs=2"], "val=N and calib=N"),
        (["--fidelity", "val=100000"], "not cheaper"),
        (["--eta", "2"], "need --fidelity"),
        (["--fidelity", "val=40", "--eta", "1"], "eta must be an integer of at least 2"),
    ],
)
def test_bad_fidelities_exit_2(cli, checkpoint: Path, extra: list[str], message: str) -> None:
    result = cli(*SEARCH, "--quality", f"supernet:{checkpoint}", "--out", "run", *extra)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_table_estimator_has_no_fidelity_and_runs_stay_what_they_are(cli) -> None:
    result = cli("search", "--budget", "4", "--fidelity", "val=5", "--out", "run")
    assert result.returncode == 2
    assert "offers no cheaper fidelity" in result.stderr
    assert cli("search", "--budget", "4", "--out", "single", "-q").returncode == 0
    added = cli("search", "--resume", "single", "--fidelity", "val=5")
    assert added.returncode == 2 and "not a multi-fidelity run" in added.stderr
