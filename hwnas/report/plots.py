"""Static plots (matplotlib, imported lazily): a run's `pareto.png`, and the PNG/SVG
figures of a report (fronts overlaid, hypervolume curves) for papers and READMEs."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnas._io import atomic_path
from hwnas.report.data import zoom_floor, zoom_floors
from hwnas.trial import FAILED, INFEASIBLE, OK

if TYPE_CHECKING:
    import pandas as pd

    from hwnas.results import Results


def plot_front(run: Results, path: str | Path) -> Path:
    """`pareto.png`: the evaluated points, the found front and, on tabular spaces, the
    true front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    frame = run.evaluations()
    front = run.pareto_front()
    objectives = run.objectives
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    if len(objectives) < 2:
        name = objectives[0].metric.name
        ok = frame[frame["status"] == OK]
        ax.plot(ok["trial"], ok[name], ".", alpha=0.6, label="evaluated")
        ax.set_xlabel("evaluation")
        ax.set_ylabel(name)
    else:
        x, y = _axes(run)
        true = run.true_front()
        y_floor = _floor(run, y, frame, front)
        below = frame[y].lt(y_floor if y_floor is not None else -math.inf)
        if true is not None and not true.empty:
            t = true.sort_values(x)
            lift = t[y].clip(lower=y_floor) if y_floor is not None else t[y]
            ax.step(t[x], lift, where="post", color="0.6", lw=1.2, label="true front (table)")
        styles: tuple[tuple[str, dict[str, Any]], ...] = (
            (OK, {"c": "tab:blue", "alpha": 0.35}),
            (INFEASIBLE, {"c": "tab:red", "alpha": 0.35, "marker": "x"}),
        )
        for status, style in styles:
            part = frame[(frame["status"] == status) & ~below]
            if not part.empty:
                ax.scatter(part[x], part[y], s=12, label=f"{status} ({len(part)})", **style)
        if not front.empty:
            f = front.sort_values(x)
            ax.plot(
                f[x],
                f[y].clip(lower=y_floor) if y_floor is not None else f[y],
                "o-",
                c="tab:orange",
                ms=5,
                lw=1.5,
                drawstyle="steps-post",
                label=f"found front ({len(front)})",
            )
        if y_floor is not None:
            _at_edge(ax, frame[below][x].tolist(), y_floor)
        for c in run.constraints:
            if c.metric.name == x:
                ax.axvline(c.bound, ls="--", c="tab:red", lw=1, label=f"constraint {c.spec}")
            elif c.metric.name == y:
                ax.axhline(c.bound, ls="--", c="tab:red", lw=1, label=f"constraint {c.spec}")
        ax.set_xlabel(_label(run, x))
        ax.set_ylabel(_label(run, y))
    cfg = run.config
    ax.set_title(
        f"{cfg.space} / {cfg.dataset}: {cfg.strategy}, {len(frame)} evaluations, seed {cfg.seed}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return path


def _axes(run: Results) -> tuple[str, str]:
    """Cost on x, quality on y (the field's convention) when there is a min/max pair."""
    objectives = run.objectives
    cost = next((o for o in objectives if o.direction == "min"), None)
    gain = next((o for o in objectives if o.direction == "max"), None)
    if cost is not None and gain is not None:
        return cost.metric.name, gain.metric.name
    return objectives[0].metric.name, objectives[1].metric.name


def _floor(run: Results, y: str, frame: pd.DataFrame, front: pd.DataFrame) -> float | None:
    """Where a maximised y axis starts (`zoom_floor`), or None."""
    if front.empty or not any(o.metric.name == y and o.direction == "max" for o in run.objectives):
        return None
    return zoom_floor(front[y].dropna().tolist(), frame[y].dropna().tolist())


def _at_edge(ax: Any, xs: list[float], floor: float) -> None:
    """Start the y axis at `floor` and mark the points below it on the bottom edge (their
    x kept), with their count in the legend."""
    ax.set_ylim(bottom=floor)
    ax.scatter(
        xs,
        [floor] * len(xs),
        marker="v",
        s=24,
        c="0.35",
        clip_on=False,
        zorder=5,
        label=f"{len(xs)} below {floor:.3g}, on the edge",
    )


def _label(run: Results, name: str) -> str:
    """The metric, its unit (from its provenance) and which way is better."""
    direction = next((o.direction for o in run.objectives if o.metric.name == name), None)
    arrow = {"min": " (lower is better)", "max": " (higher is better)"}.get(direction or "", "")
    unit = next(
        (
            str(r.provenance[name]["unit"])
            for r in run.rows
            if isinstance((r.provenance or {}).get(name), dict) and "unit" in r.provenance[name]
        ),
        "",
    )
    return name + (f" ({unit})" if unit else "") + arrow


#: the HTML report's colours, so the static figures match it
_PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777", "#0891b2", "#ca8a04", "#475569")


def _axis_label(data: dict[str, Any], metric: str) -> str:
    unit = next((r["units"][metric] for r in data["runs"] if metric in r["units"]), "")
    direction = next(
        (o["direction"] for r in data["runs"] for o in r["objectives"] if o["metric"] == metric),
        None,
    )
    arrow = {"max": "  (higher is better)", "min": "  (lower is better)"}.get(direction or "", "")
    return f"{metric} ({unit}){arrow}" if unit else f"{metric}{arrow}"


def _stairs(xs: list[float], ys: list[float], x_max: bool) -> tuple[list[float], list[float]]:
    """The boundary of the region a 2-D front dominates (points sorted by x)."""
    px, py = [xs[0]], [ys[0]]
    for x, y in zip(xs[1:], ys[1:]):
        if x_max:
            px += [px[-1], x]
            py += [y, y]
        else:
            px += [x, x]
            py += [py[-1], y]
    return px, py


def _save(fig: Any, directory: Path, stem: str) -> list[Path]:
    import matplotlib.pyplot as plt

    out = []
    for ext in ("png", "svg"):
        path = directory / f"{stem}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp)
        out.append(path)
    plt.close(fig)
    return out


def front_figure(data: dict[str, Any], x: str, y: str) -> Any:
    """Evaluated points, found fronts, the true front and the constraint lines of a
    report's runs on the metrics `x` and `y` (a matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = data["runs"]
    single = len(runs) == 1
    floor = zoom_floors(runs).get(y)
    edge: list[float] = []
    fig, ax = plt.subplots(figsize=(7.2, 4.8), dpi=150)
    seen: set[str] = set()
    for r, run in enumerate(runs):
        pair = {o["metric"]: o["direction"] for o in run["objectives"]}
        two = len(pair) == 2 and x in pair and y in pair and x != y
        true = run["true_front"]
        sig = json.dumps(
            [run["config"][k] for k in ("space", "dataset", "objectives", "constraints")]
        )
        if true and sig not in seen:
            seen.add(sig)
            pts = sorted(
                (p["m"][x], p["m"][y])
                for p in true
                if p["m"].get(x) is not None and p["m"].get(y) is not None
            )
            if pts:
                label = "true front (table)" + ("" if single else f", {run['name']}")
                tx, ty = [p[0] for p in pts], [_lift(p[1], floor) for p in pts]
                if two:
                    sx, sy = _stairs(tx, ty, pair[x] == "max")
                    ax.plot(sx, sy, ls="--", lw=1.2, c="#6b7280", zorder=1)
                ax.scatter(
                    tx,
                    ty,
                    s=14,
                    facecolors="white",
                    edgecolors="#6b7280",
                    lw=0.9,
                    label=label,
                    zorder=2,
                )
        colour = None if single else _PALETTE[r % len(_PALETTE)]
        prefix = "" if single else f"{run['name']}: "
        groups: dict[str, list[tuple[float, float]]] = {
            OK: [],
            INFEASIBLE: [],
            FAILED: [],
            "front": [],
        }
        for p in run["points"]:
            vx, vy = p["m"].get(x), p["m"].get(y)
            if vx is None or vy is None:
                continue
            if floor is not None and vy < floor:
                edge.append(vx)
                continue
            groups["front" if p["f"] else p["s"]].append((vx, vy))
        styles: dict[str, dict[str, Any]] = {
            OK: {"c": colour or "#60a5fa", "s": 12, "alpha": 0.6 if single else 0.3, "lw": 0},
            INFEASIBLE: {"c": colour or "#dc2626", "s": 16, "marker": "x", "alpha": 0.7, "lw": 1},
            FAILED: {"facecolors": "none", "edgecolors": "#9ca3af", "s": 14, "lw": 1},
            "front": {
                "c": colour or "#ea580c",
                "s": 30,
                "edgecolors": "white",
                "lw": 0.6,
                "zorder": 4,
            },
        }
        names = {
            OK: "feasible",
            INFEASIBLE: "infeasible",
            FAILED: "failed",
            "front": "found front",
        }
        for kind in (OK, FAILED, INFEASIBLE, "front"):
            pts = groups[kind]
            if not pts:
                continue
            ax.scatter(
                [p[0] for p in pts],
                [p[1] for p in pts],
                label=f"{prefix}{names[kind]} ({len(pts)})",
                **styles[kind],
            )
        front = sorted(
            (p["m"][x], _lift(p["m"][y], floor))
            for p in run["points"]
            if p["f"] and p["m"].get(x) is not None and p["m"].get(y) is not None
        )
        if two and len(front) > 1:
            sx, sy = _stairs([p[0] for p in front], [p[1] for p in front], pair[x] == "max")
            ax.plot(sx, sy, c=colour or "#ea580c", lw=1.6, zorder=3)
    drawn: set[str] = set()
    for run in runs:
        for c in run["constraints"]:
            if c["spec"] in drawn or c["metric"] not in (x, y):
                continue
            drawn.add(c["spec"])
            line = ax.axvline if c["metric"] == x else ax.axhline
            line(c["bound"], ls="--", c="#dc2626", lw=1.2, label=f"constraint {c['spec']}")
    if floor is not None:
        _at_edge(ax, edge, floor)
    ax.set_xlabel(_axis_label(data, x))
    ax.set_ylabel(_axis_label(data, y))
    if single:
        cfg = runs[0]["config"]
        title = (
            f"{runs[0]['name']}: {cfg['space']} / {cfg['dataset']}, {cfg['strategy']}, "
            f"{len(runs[0]['points'])} evaluations, seed {cfg['seed']}"
        )
    else:
        title = f"{len(runs)} runs: " + ", ".join(r["name"] for r in runs)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=7.5, loc="best", framealpha=0.9)
    fig.tight_layout()
    return fig


def _lift(value: float, floor: float | None) -> float:
    """A value drawn no lower than the axis's floor (a line reaching the edge)."""
    return value if floor is None else max(value, floor)


def hypervolume_figure(data: dict[str, Any]) -> Any:
    """Hypervolume of each run's found front versus evaluations (a matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = data["runs"]
    fig, ax = plt.subplots(figsize=(7.2, 3.6), dpi=150)
    drawn: set[float] = set()
    for r, run in enumerate(runs):
        colour = _PALETTE[r % len(_PALETTE)]
        curve = [c for c in run["hv"]["curve"] if c[1] > 0]
        if curve:
            xs = [c[0] for c in curve] + [len(run["points"])]
            ys = [c[1] for c in curve] + [curve[-1][1]]
            ax.step(xs, ys, where="post", c=colour, lw=1.8, label=f"{run['name']} ({ys[-1]:.4g})")
        true = run["hv"]["true"]
        if true is not None and true not in drawn:
            drawn.add(true)
            label = f"true front ({true:.4g})" + ("" if len(runs) == 1 else f", {run['name']}")
            ax.axhline(true, ls="--", c="#6b7280", lw=1.2, label=label)
    hows = sorted({run["hv"]["how"] for run in runs})
    ax.set_xlabel("evaluations")
    ax.set_ylabel("hypervolume (share of the reference box)")
    ax.set_title("objectives min-max normalised " + "; ".join(hows), fontsize=9)
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def write_static(data: dict[str, Any], directory: str | Path) -> list[Path]:
    """PNG and SVG figures of a report for papers and READMEs: `front` (the report's
    default pair: a minimised objective across, a maximised one up), `front-<i>-<j>`
    (objective i up, j across) for every other pair when there are more than two
    objectives, and `hypervolume`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    objectives = [o["metric"] for o in data["runs"][0]["objectives"]]
    out: list[Path] = []
    if len(objectives) >= 2:
        directions = {o["metric"]: o["direction"] for o in data["runs"][0]["objectives"]}
        cost = next((m for m in objectives if directions[m] == "min"), None)
        gain = next((m for m in objectives if directions[m] == "max"), None)
        x, y = (cost, gain) if cost and gain else (objectives[0], objectives[1])
        out += _save(front_figure(data, x, y), directory, "front")
        if len(objectives) > 2:
            for i, j in itertools.combinations(range(len(objectives)), 2):
                if {objectives[i], objectives[j]} != {x, y}:
                    fig = front_figure(data, objectives[j], objectives[i])
                    out += _save(fig, directory, f"front-{i}-{j}")
    out += _save(hypervolume_figure(data), directory, "hypervolume")
    return out


def _legend(ax: Any, **options: Any) -> None:
    """A legend when something labelled was drawn (a run whose evaluations all failed draws
    nothing, and matplotlib would warn)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**options)
