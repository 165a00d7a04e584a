"""Six and more objectives: the true front's hypervolume (summary, report) must not hang;
past the exact algorithm's size it is a seeded estimate and the summary says so."""

from __future__ import annotations

import time

import pytest
from rich.console import Console

import hwnas
from hwnas.report.console import print_results
from hwnas.report.data import report_payload

SEVEN = [
    "accuracy:max",
    "params:min",
    "flops:min",
    "latency@pixel3:min",
    "latency@eyeriss:min",
    "latency@fpga:min",
    "latency@raspi4:min",
]


def test_seven_objective_summary_and_report_finish_and_say_how() -> None:
    results = hwnas.Study(objectives=SEVEN, budget=60, seed=0).optimize().results()
    started = time.perf_counter()
    s = results.summary()
    data, _ = report_payload([results], ["seven"])
    assert time.perf_counter() - started < 60
    assert s["hv_method"] == "monte-carlo (100000 samples)"
    assert 0 < s["hv_ratio"] <= 1
    run = data["runs"][0]
    assert run["summary"]["hv_method"] == run["hv"]["method"] == s["hv_method"]
    assert run["summary"]["hv_ratio"] == pytest.approx(s["hv_ratio"], rel=1e-12)
    assert results.summary() == s  # seeded: the same figures every time
    console = Console(record=True, width=300, markup=False)
    print_results(results, console)
    assert "% of them found; estimated, monte-carlo (100000 samples))" in console.export_text()


def test_few_objectives_stay_exact() -> None:
    s = hwnas.Study(budget=30, seed=0).optimize().summary()
    assert s["hv_method"] == "exact"
