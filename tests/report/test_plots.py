"""Static figures of a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnas.report.plots import front_figure, hypervolume_figure


def _data(ys: list[float]) -> dict[str, Any]:
    points = [
        {"t": i, "k": str(i), "s": "ok", "m": {"acc": y, "lat": float(i)}, "f": False}
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


def test_far_outliers_are_left_out_of_a_maximised_axis_and_said_so() -> None:
    import matplotlib.pyplot as plt

    fig = front_figure(_data([90.0 - 0.1 * i for i in range(40)] + [10.0, 10.5]), "lat", "acc")
    ax = fig.axes[0]
    assert ax.get_ylim()[0] > 80
    assert any("2 evaluated point(s) below" in t.get_text() for t in ax.texts)
    assert ax.get_ylabel() == "acc (%)  (higher is better)"
    plt.close(fig)
    fig = front_figure(_data([90.0 - i for i in range(40)]), "lat", "acc")
    assert fig.axes[0].get_ylim()[0] < 52 and not fig.axes[0].texts
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
