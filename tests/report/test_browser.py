"""The report in a real browser: headless Chromium (Debian's package) driven by Playwright.
Checks that the plots render with the right number of points, that hovering and clicking a
point shows its architecture and provenance, that the table sorts, that objective pairs can
be chosen, and that hostile run text stays text. Screenshots go to each test's tmp_path."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hwnas.report.html import write_report

from .conftest import HOSTILE

CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and Path(p).exists()), None
)
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (apt-get install -y chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium per module, with a fresh profile directory."""
    sync_api = pytest.importorskip("playwright.sync_api")  # a core-only venv has Chromium too
    sync_playwright = sync_api.sync_playwright
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1300, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A tab that fails the test on a script error, an alert or any network request."""
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on(
        "request",
        lambda r: problems.append(f"request: {r.url}") if not r.url.startswith("file:") else None,
    )
    yield page
    page.close()
    assert not problems


def _open(page: Any, path: Path) -> dict[str, Any]:
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready]", timeout=10_000)
    return json.loads(page.inner_text("#hwnas-data"))


def _plotted(run: dict[str, Any], x: str, y: str) -> int:
    return sum(p["m"].get(x) is not None and p["m"].get(y) is not None for p in run["points"])


def test_front_and_hypervolume_render(page: Any, nb201_run: Path, tmp_path: Path) -> None:
    data = _open(page, nb201_run / "report.html")
    run = data["runs"][0]
    assert page.locator("#front-svg .pt").count() == _plotted(run, "accuracy", "latency@pixel3")
    assert page.locator("#front-svg .series.front .pt").count() == sum(
        p["f"] for p in run["points"]
    )
    assert page.locator("#front-svg .tf").count() == len(run["true_front"])
    assert page.locator("#front-svg .constraint line").count() == 1
    assert page.locator("#front-svg .stairs").count() == 2  # found and true front
    labels = page.locator("#front-svg .axis-label").all_text_contents()
    assert labels[0].startswith("latency@pixel3 (ms)") and "lower is better" in labels[0]
    assert labels[1].startswith("accuracy (%)") and "higher is better" in labels[1]
    legend = page.inner_text("#legend")
    assert "found front" in legend and "true front (table)" in legend and "infeasible" in legend
    assert page.locator("#hv-svg .hv-line").count() == 1
    assert page.locator("#hv-svg .hv-true").count() == 1
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_the_accuracy_axis_zooms_to_the_front_and_counts_what_lies_below(
    page: Any, nb201_run: Path
) -> None:
    """NB201's chance-accuracy cells used to stretch the axis down to 10%: by default it
    starts just below the found front's band, the points under it sit on the bottom edge
    as triangles (still hoverable), the legend counts them, and "show all" zooms out."""
    data = _open(page, nb201_run / "report.html")
    floor = data["zoom"]["accuracy"]
    points = data["runs"][0]["points"]
    below = sum(p["m"]["accuracy"] is not None and p["m"]["accuracy"] < floor for p in points)
    assert 80 < floor < 85 and below > 0  # the run holds cells at chance accuracy
    ticks = page.locator("#front-svg .axis text[text-anchor='end']").all_text_contents()
    assert min(float(t) for t in ticks) >= floor
    assert page.locator("#front-svg .pt.edge").count() == below
    assert (
        page.inner_text("#edge-note")
        == f"\u25bc {below} points below {floor:.5g} on the bottom edge"
    )
    page.click("#show-all")
    ticks = page.locator("#front-svg .axis text[text-anchor='end']").all_text_contents()
    assert min(float(t) for t in ticks) < 20
    assert page.locator("#front-svg .pt.edge").count() == 0
    assert page.locator("#edge-note").count() == 0
    page.click("#zoom-front")
    assert page.locator("#front-svg .pt.edge").count() == below


def test_hover_and_click_show_architecture_and_provenance(
    page: Any, nb201_run: Path, tmp_path: Path
) -> None:
    data = _open(page, nb201_run / "report.html")
    points = data["runs"][0]["points"]
    best = max(
        (i for i, p in enumerate(points) if p["f"]), key=lambda i: points[i]["m"]["accuracy"]
    )
    dot = page.locator(f'#front-svg .pt[data-idx="{best}"]')
    dot.hover()
    tip = page.locator("#tooltip")
    assert tip.is_visible()
    assert points[best]["k"] in tip.inner_text()
    assert tip.locator("svg.arch-pic.nb201 path.edge").count() == 6
    page.screenshot(path=str(tmp_path / "hover.png"))
    dot.click()
    details = page.locator("#details")
    text = details.inner_text()
    assert points[best]["k"] in text and f"evaluation {points[best]['t']}" in text
    assert "on the found front" in text
    assert "cifar10valid_valid_acc_200ep" in text  # provenance of accuracy
    assert "HW-NAS-Bench" in text  # provenance of the latency
    assert details.locator("svg.arch-pic").count() == 1
    assert page.locator("#front-svg .halo").count() == 1


def test_table_sorts_and_rows_select_points(page: Any, nb201_run: Path) -> None:
    _open(page, nb201_run / "report.html")
    header = page.locator("#front-table thead th", has_text="latency@pixel3")
    column = page.locator("#front-table thead th").all_inner_texts().index(header.inner_text())

    def values() -> list[float]:
        cells = page.locator(f"#front-table tbody tr td:nth-child({column + 1})")
        return [float(c.get_attribute("data-value")) for c in cells.all()]

    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert values() == sorted(values()) and len(set(values())) > 1
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert values() == sorted(values(), reverse=True)
    row = page.locator("#front-table tbody tr").nth(2)
    key = row.locator(".key").inner_text()
    row.click()
    assert key in page.inner_text("#details")
    assert "selected" in row.get_attribute("class")


def test_every_objective_pair_can_be_plotted(page: Any, three_objective_run: Path) -> None:
    data = _open(page, three_objective_run / "report.html")
    run = data["runs"][0]
    options = page.locator("#x-select option").all_inner_texts()
    assert options == ["accuracy", "latency@pixel3", "params"]
    page.select_option("#x-select", "params")
    page.select_option("#y-select", "latency@pixel3")
    assert page.locator("#front-svg .axis-label").first.text_content().startswith("params")
    assert page.locator("#front-svg .pt").count() == _plotted(run, "params", "latency@pixel3")
    # three objectives: a 2-D staircase would be misleading, so none is drawn
    assert page.locator("#front-svg .stairs").count() == 0


def test_hostile_run_text_renders_as_text(page: Any, toy_run: Path, tmp_path: Path) -> None:
    db = sqlite3.connect(toy_run / "ledger.sqlite")
    trial = db.execute(
        "SELECT trial FROM evaluations WHERE status != 'failed' ORDER BY trial LIMIT 1"
    ).fetchone()[0]
    db.execute(
        "UPDATE evaluations SET arch = ?, error = ? WHERE trial = ?",
        (f"</script>{HOSTILE}", f"<!-- {HOSTILE}", trial),
    )
    db.commit()
    db.close()
    out = write_report([toy_run], tmp_path / "hostile.html", names=[HOSTILE])
    data = _open(page, out)
    assert HOSTILE in page.inner_text("h1")
    assert page.title() == f"hwnas report: {HOSTILE}"
    assert "<img src=x onerror=alert(3)>" in page.inner_text("#runs-section")  # run directory
    assert page.locator("body script").count() == 2  # nothing injected
    idx = next(i for i, p in enumerate(data["runs"][0]["points"]) if p["t"] == trial)
    page.locator(f'#front-svg .pt[data-idx="{idx}"]').click()
    assert page.locator("#details .key").inner_text() == f"</script>{HOSTILE}"
    assert HOSTILE in page.locator("#details .error").inner_text()
    assert "<img src=x onerror=alert(2)>" in page.inner_text("#details")  # provenance
    # the toy space is drawn as its per-block strip
    assert page.locator("#details svg.arch-pic.strip g.block").count() >= 3
    failed = sum(p["s"] == "failed" for p in data["runs"][0]["points"])
    assert failed and f"failed ({failed})" in page.inner_text("#legend")
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)


def test_comparison_overlays_fronts_and_curves(
    page: Any, nb201_run: Path, nb201_random_run: Path, tmp_path: Path
) -> None:
    out = write_report([nb201_run, nb201_random_run], tmp_path / "comparison.html")
    data = _open(page, out)
    for r, run in enumerate(data["runs"]):
        assert page.locator(f'#front-svg .pt[data-run="{r}"]').count() == _plotted(
            run, "accuracy", "latency@pixel3"
        )
    assert page.locator("#front-svg .series.front").count() == 2
    assert page.locator("#front-svg .tf").count() == len(data["runs"][0]["true_front"])
    assert page.locator("#hv-svg .hv-line").count() == 2
    legend = page.inner_text("#legend")
    assert "nb201-c10: found front" in legend and "nb201-random: found front" in legend
    page.locator("#legend button", has_text="nb201-random: feasible").click()
    assert page.locator('#front-svg .series.ok[data-series="ok-1"]').count() == 0
    page.screenshot(path=str(tmp_path / "comparison.png"), full_page=True)


@pytest.mark.parametrize(
    "options",
    [
        {"constraints": ["latency@pixel3<=0.001"]},  # nothing feasible: an empty front
        {"objectives": ["accuracy:max"]},  # one objective: plotted against the evaluation
    ],
    ids=["all-infeasible", "one-objective"],
)
def test_edge_runs_render(page: Any, tmp_path: Path, options: dict[str, Any]) -> None:
    from hwnas.report import write_outputs
    from hwnas.study import Study

    Study(budget=12, out_dir=tmp_path / "run", **options).optimize(callbacks=[write_outputs])
    data = _open(page, tmp_path / "run" / "report.html")
    run = data["runs"][0]
    assert page.locator("#front-svg .pt").count() == 12
    assert page.locator("#hv-svg").count() == 1
    if "objectives" in options:
        assert page.locator("#x-select").input_value() == "#evaluation"
        assert page.locator("#front-svg .series.front .pt").count() == 1
    else:
        assert not any(p["f"] for p in run["points"])
        assert "the front is empty" in page.inner_text("#table-section")
