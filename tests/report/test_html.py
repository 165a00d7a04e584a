"""The HTML report as a file: self-contained, escaped, complete; the CLI and the hook in
every run directory."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnas.report.data import hv_curve
from hwnas.report.html import render_report, report_data, script_json, write_report
from hwnas.report.plots import write_static
from hwnas.study import Study

from .conftest import HOSTILE


def _embedded(html: str) -> dict:
    m = re.search(
        r'<script type="application/json" id="hwnas-data">(.*?)</script>', html, re.DOTALL
    )
    assert m is not None
    return json.loads(m.group(1))


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        st.text() | st.integers() | st.none(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_script_json_round_trips_and_cannot_close_the_script(data: object) -> None:
    text = script_json(data)
    assert json.loads(text) == data
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}


def test_script_json_escapes_a_closing_tag() -> None:
    text = script_json({"k": "</script><script>alert(1)</script>\u2028"})
    assert text == (
        '{"k":"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\\u2028"}'
    )


def test_every_run_directory_gets_a_report(nb201_run: Path) -> None:
    html = (nb201_run / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    data = _embedded(html)
    (run,) = data["runs"]
    assert run["name"] == "nb201-c10"
    assert len(run["points"]) == 60
    assert run["constraints"] == [
        {"metric": "latency@pixel3", "op": "<=", "bound": 8.0, "spec": "latency@pixel3<=8"}
    ]
    assert run["host"]["hwnas"] and run["host"]["python"]
    assert run["config"]["budget"] == 60 and run["config"]["seed"] == 1
    assert run["true_front"]  # tabular space: the true front is drawn
    front = Study.load(nb201_run).pareto_front()
    assert {p["k"] for p in run["points"] if p["f"]} == set(front["arch"])
    # every point's provenance is recorded by reference
    acc = data["provenance"][run["points"][0]["p"]["accuracy"]]
    assert acc["column"] and acc["source"]


def test_report_is_self_contained(nb201_run: Path) -> None:
    html = (nb201_run / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html
    assert "default-src 'none'" in html  # the page may load nothing at all


def test_content_security_policy_allows_exactly_the_report_script(nb201_run: Path) -> None:
    import base64
    import hashlib

    html = (nb201_run / "report.html").read_text()
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html


def test_front_table_lists_the_front_with_sortable_values(nb201_run: Path) -> None:
    html = (nb201_run / "report.html").read_text()
    table = re.search(r'<table class="front".*?</table>', html, re.DOTALL).group(0)
    rows = re.findall(r"<tr data-run=", table)
    front = Study.load(nb201_run).pareto_front()
    assert len(rows) == len(front)
    for value in front["accuracy"]:
        assert f'data-value="{float(value)!r}"' in table


def test_hypervolume_curve_ends_at_the_summary_ratio(nb201_run: Path) -> None:
    data, _ = report_data([nb201_run])
    run = data["runs"][0]
    curve = run["hv"]["curve"]
    values = [v for _, v in curve]
    assert values == sorted(values) and curve[0] == [0, 0.0]
    assert [n for n, _ in curve] == sorted({n for n, _ in curve})
    summary = Study.load(nb201_run).summary()
    assert abs(values[-1] / run["hv"]["true"] - summary["hv_ratio"]) < 1e-9
    assert run["summary"].pop("hv_method") == summary.pop("hv_method") == "exact"
    assert run["summary"] == pytest.approx(summary, rel=1e-12)
    assert run["hv"]["how"] == "over the whole table"


def test_hv_curve_counts_only_front_improvements() -> None:
    import numpy as np

    F = np.array([[0.5, 0.5], [0.6, 0.6], [0.2, 0.8], [0.5, 0.5]])
    curve = hv_curve(F, [0, 1, 2, 3], np.zeros(2), np.ones(2), 1.0)
    assert curve == [[0, 0.0], [1, 0.25], [3, 0.25 + 0.3 * 0.2]]


def test_hv_curve_is_a_share_of_the_reference_box() -> None:
    """With the reference 1.1 of non-tabular runs, a point at the ideal corner dominates
    the whole box: 1, not 1.1**2 (the curve read past 1 while labelled normalised)."""
    import numpy as np

    F = np.array([[0.5, 0.5], [0.0, 0.0]])
    curve = hv_curve(F, [0, 1], np.zeros(2), np.ones(2), 1.1)
    assert curve == [[0, 0.0], [1, pytest.approx(0.36 / 1.21)], [2, pytest.approx(1.0)]]
    sampled = hv_curve(F, [0, 1], np.zeros(2), np.ones(2), 1.1, exact=False)
    assert sampled[-1][1] == pytest.approx(1.0)


def test_hostile_text_is_escaped_everywhere(toy_run: Path) -> None:
    # a crafted key and error in the ledger, on top of the toy source's hostile errors
    db = sqlite3.connect(toy_run / "ledger.sqlite")
    db.execute(
        "UPDATE evaluations SET arch = ?, error = ? WHERE trial = 0",
        (f"</script>{HOSTILE}", f"<!-- {HOSTILE}"),
    )
    db.commit()
    db.close()
    html = render_report([toy_run], names=[HOSTILE])
    # the only script elements are the report's own two
    assert html.count("<script") == 2
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    data = _embedded(html)
    assert data["runs"][0]["name"] == HOSTILE
    keys = {p["k"] for p in data["runs"][0]["points"]}
    assert f"</script>{HOSTILE}" in keys
    errors = [p["e"] for p in data["runs"][0]["points"] if p["s"] == "failed"]
    assert errors and all(HOSTILE in e for e in errors)


def test_non_tabular_space_normalises_over_its_own_range(toy_run: Path) -> None:
    data, pictures = report_data([toy_run])
    run = data["runs"][0]
    assert run["true_front"] is None
    assert run["hv"]["true"] is None
    assert run["hv"]["how"].startswith("over the evaluated points")
    assert run["hv"]["ref"] == 1.1
    assert 0 < run["hv"]["curve"][-1][1] <= 1
    # the generic strip draws the toy architectures, grouped by block
    assert pictures and all('class="arch-pic strip"' in p for p in pictures)
    assert {p["s"] for p in run["points"]} == {"ok", "infeasible", "failed"}


def test_comparison_report_overlays_runs(nb201_run: Path, nb201_random_run: Path) -> None:
    html = render_report([nb201_run, nb201_random_run])
    data = _embedded(html)
    assert [r["name"] for r in data["runs"]] == ["nb201-c10", "nb201-random"]
    # same space, dataset and objectives: one normalisation, so the curves compare
    assert data["runs"][0]["hv"]["lower"] == data["runs"][1]["hv"]["lower"]
    assert "hwnas comparison of 2 runs" in html
    table = re.search(r'<table class="front".*?</table>', html, re.DOTALL).group(0)
    assert '<td data-value="nb201-random">' in table and '<td data-value="nb201-c10">' in table


def test_cli_report_writes_html_and_static_figures(cli, nb201_run: Path, tmp_path: Path) -> None:
    result = cli("report", str(nb201_run), "--out", "r.html", "--static", "figs")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert names == ["front.png", "front.svg", "hypervolume.png", "hypervolume.svg"]
    assert (tmp_path / "figs" / "front.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (tmp_path / "figs" / "hypervolume.svg").read_text()


def test_static_figures_cover_every_objective_pair(
    three_objective_run: Path, tmp_path: Path
) -> None:
    data, _ = report_data([three_objective_run])
    paths = write_static(data, tmp_path)
    pairs = sorted(p.name for p in paths if p.suffix == ".png")
    # front: latency across, accuracy up (objectives 1 and 0); then the other two pairs
    assert pairs == ["front-0-2.png", "front-1-2.png", "front.png", "hypervolume.png"]


def test_cli_report_bad_input_is_one_line_and_exit_2(cli, tmp_path: Path, nb201_run: Path) -> None:
    result = cli("report", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "no run" in result.stderr and "Traceback" not in result.stderr
    result = cli("report", str(nb201_run), "--name", "a", "--name", "b")
    assert result.returncode == 2 and "--name" in result.stderr


def test_write_report_is_atomic_and_reuses_a_study(nb201_run: Path, tmp_path: Path) -> None:
    study = Study.load(nb201_run)
    out = write_report([study], tmp_path / "sub" / "x.html", names=["mine"])
    assert out.exists() and not (tmp_path / "sub" / "x.html.tmp").exists()
    assert _embedded(out.read_text())["runs"][0]["name"] == "mine"


def test_large_runs_draw_only_the_front(nb201_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hwnas.report.data as report_data_module

    monkeypatch.setattr(report_data_module, "MAX_PICTURES", 10)
    data, pictures = report_data([nb201_run])
    run = data["runs"][0]
    drawn = {p["k"] for p in run["points"] if p["pic"] is not None}
    assert drawn == {p["k"] for p in run["points"] if p["f"]}
    assert len(pictures) == len({*drawn, *(p["k"] for p in run["true_front"])})
