"""Static figures of a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hwnas.report.plots import front_figure, hypervolume_figure


def _data(ys: list[float], front: int = 0) -> dict[str, Any]:
    """A run whose points have accuracies `ys` and latencies 0, 1, ...; the first `front`
    points and the last are on the found front."""
    points = [
        {
            "t": i,
            "k": str(i),
            "s": "ok",
            "m": {"acc": y, "lat": float(i)},
            "f": i < front or i == len(ys) - 1,
        }
        for i, y in enumerate(ys)
    ]
    run = {
        "name": "r",
        "config": {
            "space": "s",
            "dataset": "d",
            "objectives": ["acc:max", "lat:min"],
            "constraints": [],
            "strategy": "random",
            "seed": 0,
        },
        "objectives": [
            {"metric": "acc", "direction": "max"},
            {"metric": "lat", "direction": "min"},
        ],
        "constraints": [],
        "units": {"acc": "%"},
        "points": points,
        "true_front": None,
        "hv": {"curve": [[0, 0.0], [3, 0.5]], "true": None, "how": "over x"},
    }
    return {"runs": [run]}


def test_a_maximised_axis_zooms_to_the_front_with_outliers_on_the_edge() -> None:
    """NB201-like: a front from 84 to 92 (and one chance-accuracy cell, the cheapest, on
    it too), dominated points down to 70 and two more at 10%: the axis spans the front's
    band; what lies below is marked on the edge and counted."""
    import matplotlib.pyplot as plt

    front = [92.0 - i for i in range(9)]  # 92 .. 84, cost rising as accuracy does
    ys = [*front[::-1], *(84.0 - 0.5 * i for i in range(28)), 10.0, 10.5, 9.7]
    fig = front_figure(_data(ys, front=9), "lat", "acc")
    ax = fig.axes[0]
    assert 83 < ax.get_ylim()[0] < 84 and ax.get_ylim()[1] < 93
    (edge,) = [c for c in ax.collections if c.get_label().endswith("on the edge")]
    below = sum(y < ax.get_ylim()[0] for y in ys)
    assert edge.get_label().startswith(f"{below} below 83.6")
    assert all(y == ax.get_ylim()[0] for _, y in edge.get_offsets())
    assert ax.get_ylabel() == "acc (%)  (higher is better)"
    plt.close(fig)


def test_an_axis_without_outliers_shows_every_point() -> None:
    import matplotlib.pyplot as plt

    fig = front_figure(_data([90.0 - i for i in range(40)], front=40), "lat", "acc")
    ax = fig.axes[0]
    assert ax.get_ylim()[0] < 52
    assert not [c for c in ax.collections if c.get_label().endswith("on the edge")]
    plt.close(fig)


def test_hypervolume_figure_extends_each_curve_to_the_last_evaluation() -> None:
    import matplotlib.pyplot as plt

    fig = hypervolume_figure(_data([1.0] * 10))
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_xdata()) == [3, 10] and list(line.get_ydata()) == [0.5, 0.5]
    plt.close(fig)


def test_a_run_with_nothing_to_label_plots_without_a_warning(tmp_path: Path) -> None:
    """A run whose evaluations all failed leaked matplotlib's 'No artists with labels'
    warning."""
    import warnings

    from hwnas import get_space
    from hwnas.config import StudyConfig
    from hwnas.report.plots import plot_front
    from hwnas.results import Evaluation, Results
    from hwnas.trial import FAILED

    arch = get_space("nb201").parse("5")
    failed = Evaluation(0, arch.key, arch.genes, FAILED, {}, {}, "boom", 0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_front(Results(StudyConfig(), [failed], sources={}), tmp_path / "pareto.png")
    assert (tmp_path / "pareto.png").stat().st_size > 0


def test_pareto_png_zooms_to_the_front_and_names_units(
    nb201_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pareto.png` of an NB201 run: the accuracy axis starts below the found front's band
    (not at the chance-accuracy cells), those lie on the edge and are counted, and both
    axes carry their unit."""
    import matplotlib.pyplot as plt

    from hwnas.report.plots import plot_front
    from hwnas.results import load_results

    drawn: list[Any] = []
    monkeypatch.setattr(plt, "close", drawn.append)
    run = load_results(nb201_run)
    plot_front(run, nb201_run / "again.png")
    ax = drawn[0].axes[0]
    accuracy = run.evaluations()["accuracy"]
    floor = ax.get_ylim()[0]
    assert 80 < floor < 85 and accuracy.min() < 20
    (edge,) = [c for c in ax.collections if c.get_label().endswith("on the edge")]
    assert edge.get_label().startswith(f"{int((accuracy < floor).sum())} below {floor:.3g}")
    assert ax.get_xlabel() == "latency@pixel3 (ms) (lower is better)"
    assert ax.get_ylabel() == "accuracy (%) (higher is better)"
    monkeypatch.undo()
    plt.close(drawn[0])
