"""Static plots of a study: evaluated points, the found front and, for tabular spaces, the
true front, on the first two objectives."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
        x, y = objectives[0].metric.name, objectives[1].metric.name
        true = study.true_front()
        if true is not None and not true.empty:
            t = true.sort_values(x)
            ax.step(t[x], t[y], where="post", color="0.6", lw=1.2, label="true front (table)")
        for status, style in (
            ("ok", dict(c="tab:blue", alpha=0.35)),
            ("infeasible", dict(c="tab:red", alpha=0.35, marker="x")),
        ):
            part = frame[frame["status"] == status]
            if not part.empty:
                ax.scatter(part[x], part[y], s=12, label=f"{status} ({len(part)})", **style)
        if not front.empty:
            f = front.sort_values(x)
            ax.plot(
                f[x], f[y], "o-", c="tab:orange", ms=5, lw=1.5, label=f"found front ({len(front)})"
            )
        for c in study.constraints:
            if c.metric.name == x:
                ax.axvline(c.bound, ls="--", c="tab:red", lw=1)
            elif c.metric.name == y:
                ax.axhline(c.bound, ls="--", c="tab:red", lw=1)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
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
