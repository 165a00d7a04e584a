"""Static plots of a study: evaluated points, the found front and, for tabular spaces, the
true front, on the first two objectives."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from hwnas.study import Study


def plot_front(study: Study, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    frame = study.evaluations()
    front = study.pareto_front()
    objectives = study.objectives
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    if len(objectives) < 2:
        name = objectives[0].metric.name
        ok = frame[frame["status"] == "ok"]
        ax.plot(ok["trial"], ok[name], ".", alpha=0.6, label="evaluated")
        ax.set_xlabel("evaluation")
        ax.set_ylabel(name)
    else:
        x, y = _axes(study)
        true = study.true_front()
        ok = frame[frame["status"] == "ok"]
        y_floor = _floor(study, y, ok)
        clip = (lambda s: s.clip(lower=y_floor)) if y_floor is not None else (lambda s: s)
        if true is not None and not true.empty:
            t = true.sort_values(x)
            ax.step(t[x], clip(t[y]), where="post", color="0.6", lw=1.2, label="true front (table)")
        for status, style in (
            ("ok", dict(c="tab:blue", alpha=0.35)),
            ("infeasible", dict(c="tab:red", alpha=0.35, marker="x")),
        ):
            part = frame[frame["status"] == status]
            if not part.empty:
                ax.scatter(part[x], clip(part[y]), s=12, label=f"{status} ({len(part)})", **style)
        if not front.empty:
            f = front.sort_values(x)
            ax.plot(
                f[x],
                clip(f[y]),
                "o-",
                c="tab:orange",
                ms=5,
                lw=1.5,
                drawstyle="steps-post",
                label=f"found front ({len(front)})",
            )
        if y_floor is not None:
            below = int((frame[y] < y_floor).sum())
            ax.set_ylim(bottom=y_floor - 0.02 * (ok[y].max() - y_floor))
            ax.annotate(
                f"{below} evaluated point(s) below {y_floor:.3g} drawn at the axis",
                xy=(0.99, 0.01),
                xycoords="axes fraction",
                ha="right",
                va="bottom",
                fontsize=7,
                color="0.4",
            )
        for c in study.constraints:
            if c.metric.name == x:
                ax.axvline(c.bound, ls="--", c="tab:red", lw=1, label=f"constraint {c.spec}")
            elif c.metric.name == y:
                ax.axhline(c.bound, ls="--", c="tab:red", lw=1, label=f"constraint {c.spec}")
        ax.set_xlabel(_label(study, x))
        ax.set_ylabel(_label(study, y))
    cfg = study.config
    ax.set_title(
        f"{cfg.space} / {cfg.dataset}: {cfg.strategy}, {len(frame)} evaluations, seed {cfg.seed}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path


def _axes(study: Study) -> tuple[str, str]:
    """Cost on x, quality on y (the field's convention) when there is a min/max pair."""
    objectives = study.objectives
    cost = next((o for o in objectives if o.direction == "min"), None)
    gain = next((o for o in objectives if o.direction == "max"), None)
    if cost is not None and gain is not None:
        return cost.metric.name, gain.metric.name
    return objectives[0].metric.name, objectives[1].metric.name


def _floor(study: Study, y: str, ok: pd.DataFrame) -> float | None:
    """Lower y limit that keeps a few far outliers (e.g. NB201 cells at chance accuracy)
    from squashing the front; None when nothing is that far out."""
    if ok.empty or not any(o.metric.name == y and o.direction == "max" for o in study.objectives):
        return None
    values = ok[y].dropna()
    lo, q05, hi = values.min(), values.quantile(0.05), values.max()
    if hi - lo > 3 * (hi - q05):
        return float(q05)
    return None


def _label(study: Study, name: str) -> str:
    direction = next((o.direction for o in study.objectives if o.metric.name == name), None)
    arrow = {"min": " (lower is better)", "max": " (higher is better)"}.get(direction or "", "")
    return name + arrow
