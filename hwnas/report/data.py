"""What a report shows, as plain JSON-able data computed once: every evaluation with its
metrics and provenance, the found and true fronts, the hypervolume curve and the run's
configuration. The HTML report and the static plots both draw from it, so they agree."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas._version import __version__
from hwnas.indicators import normalise
from hwnas.pareto import (
    dominated,
    hv_samples,
    hypervolume,
    hypervolume_is_exact,
    hypervolume_method,
)
from hwnas.trial import FAILED, INFEASIBLE, OK

if TYPE_CHECKING:
    from hwnas.results import Results

#: above this many evaluations, only front architectures get a picture (keeps files small)
MAX_PICTURES = 600
#: reference point of the hypervolume, per normalised objective: the table's worst value
#: when the space is tabular, a 10% margin past the runs' own worst value otherwise
REF_TABLE, REF_RUN = 1.0, 1.1


def zoom_floor(front: Sequence[float], values: Sequence[float]) -> float | None:
    """Where a maximised y axis starts by default: the bottom of the found front, less 5%
    of its span, so the band the front spans fills the plot (NB201's disconnected cells, at
    chance accuracy, stretched it to a tenth). The front's own far outliers (below a gap
    more than twice the span of what lies above it, e.g. the cheapest cell at 10%) are
    left out of its range. None when no value lies below, or the front has no range."""
    kept = sorted(v for v in front if math.isfinite(v))
    if len(kept) >= 3:
        gaps = [(b - a, i) for i, (a, b) in enumerate(pairwise(kept))]
        gap, i = max(gaps)
        if len(kept) - i - 1 >= 2 and gap > 2 * (kept[-1] - kept[i + 1]):
            kept = kept[i + 1 :]
    if len(kept) < 2 or kept[-1] == kept[0]:
        return None
    floor = kept[0] - 0.05 * (kept[-1] - kept[0])
    return floor if any(v < floor for v in values if math.isfinite(v)) else None


def zoom_floors(runs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """`zoom_floor` of every maximised objective over the runs' payloads: their found
    fronts together and all their evaluated points."""
    floors: dict[str, float] = {}
    for metric in {o["metric"] for r in runs for o in r["objectives"] if o["direction"] == "max"}:
        points = [p for r in runs for p in r["points"] if p["m"].get(metric) is not None]
        front = [p["m"][metric] for p in points if p["f"]]
        floor = zoom_floor(front, [p["m"][metric] for p in points])
        if floor is not None:
            floors[metric] = floor
    return floors


def _num(x: Any) -> float | None:
    """A finite float, or None (JSON has no NaN/inf)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@dataclass
class Pictures:
    """Architecture pictures, each drawn once and referred to by index."""

    svgs: list[str] = field(default_factory=list)
    _index: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, run: Results, genes: Sequence[int] | None, key: str) -> int | None:
        from hwnas.report.drawings import draw_architecture

        ident = (run.space.name, key)
        if ident not in self._index:
            try:
                arch = run.space.restore(genes) if genes is not None else run.space.parse(key)
                svg = draw_architecture(run.space, arch)
            except Exception:  # noqa: BLE001 - a report never fails on one picture
                return None
            self._index[ident] = len(self.svgs)
            self.svgs.append(svg)
        return self._index[ident]


@dataclass
class Provenances:
    """Distinct provenance records, referred to by index (most evaluations share a few)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> int:
        text = json.dumps(record, sort_keys=True, default=str)
        if text not in self._index:
            self._index[text] = len(self.records)
            self.records.append(json.loads(text))
        return self._index[text]


def _ok_matrix(run: Results) -> np.ndarray:
    """Minimisation matrix of the successfully evaluated, feasible rows."""
    ok = run.ok()
    return np.array(
        [[o.to_min(e.value(o.metric.name)) for o in run.objectives] for e in ok],
        dtype=np.float64,
    ).reshape(len(ok), len(run.objectives))


def hv_bounds(runs: Sequence[Results]) -> list[tuple[np.ndarray, np.ndarray, float, str]]:
    """(lower, upper, reference, how) per run for normalising hypervolumes. Runs with
    the same space, dataset and objectives share bounds so their curves compare: the whole
    table's when the objectives are tabular, else the range over all their evaluations."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, s in enumerate(runs):
        groups.setdefault(
            (s.config.space, s.config.dataset, tuple(s.config.objectives)), []
        ).append(i)
    out: list[Any] = [None] * len(runs)
    for members in groups.values():
        first = runs[members[0]]
        if first.objectives_tabular():
            lower, upper = first.table_bounds()
            bounds = (lower, upper, REF_TABLE, "over the whole table")
        else:
            mats = [_ok_matrix(runs[i]) for i in members]
            F = np.concatenate(mats) if mats else np.zeros((0, len(first.objectives)))
            F = F[np.all(np.isfinite(F), axis=1)]
            if len(F):
                lower, upper = F.min(axis=0), F.max(axis=0)
            else:
                lower = upper = np.zeros(len(first.objectives))
            bounds = (lower, upper, REF_RUN, "over the evaluated points (reference 1.1)")
        for i in members:
            out[i] = bounds
    return out


def hv_curve(
    F: np.ndarray,
    trials: Sequence[int],
    lower: np.ndarray,
    upper: np.ndarray,
    ref: float,
    exact: bool = True,
) -> list[list[float]]:
    """[[evaluations, hypervolume], ...] at the start and at every evaluation that grew the
    front, the hypervolume as the share of the reference box [0, ref]^m dominated (so it
    reads as a fraction, at most 1, whatever `ref`); `F` holds the feasible successful
    points (minimisation) in evaluation order and `trials` their 0-based trial numbers.
    Not `exact`: the share of the seeded samples of the box dominated so far, grown point
    by point (one pass, however many points)."""
    R = np.full(F.shape[1], ref)
    N = normalise(F, lower, upper) if len(F) else F
    front = np.zeros((0, F.shape[1]))
    curve: list[list[float]] = [[0, 0.0]]
    samples = None if exact else hv_samples(np.zeros(F.shape[1]), R)
    covered = None if samples is None else np.zeros(len(samples), dtype=bool)
    for point, trial in zip(N, trials):
        if not np.all(np.isfinite(point)):
            continue
        if len(front) and np.any(np.all(front <= point, axis=1)):
            continue
        front = np.vstack([front[~np.all(point <= front, axis=1)], point])
        if samples is None or covered is None:
            hv = hypervolume(front, R) / ref ** len(R)
        else:
            covered |= np.all(point <= samples, axis=1)
            hv = float(covered.mean())
        if hv > curve[-1][1]:
            curve.append([int(trial) + 1, float(hv)])
    return curve


def run_payload(
    run: Results,
    name: str,
    bounds: tuple[np.ndarray, np.ndarray, float, str],
    pictures: Pictures,
    provenances: Provenances,
) -> dict[str, Any]:
    """Everything the report shows about one run."""
    rows = run.rows
    front = run.pareto_front()
    front_keys = set(front["arch"])
    draw_all = len(rows) <= MAX_PICTURES
    units: dict[str, str] = {}
    points = []
    for r in rows:
        prov = {}
        for metric, record in (r.provenance or {}).items():
            if isinstance(record, dict):
                prov[metric] = provenances.add(record)
                if "unit" in record and metric not in units:
                    units[metric] = str(record["unit"])
        on_front = r.arch in front_keys
        points.append(
            {
                "t": r.trial,
                "k": r.arch,
                "s": r.status,
                "m": {m: _num(r.metrics.get(m)) for m in run.metric_names},
                "p": prov,
                "e": r.error,
                "f": on_front,
                "pic": pictures.add(run, r.genes, r.arch) if draw_all or on_front else None,
            }
        )
    true = run.true_front()
    lower, upper, ref, how = bounds
    ok_F = _ok_matrix(run)
    T = run.objective_matrix(true) if true is not None and not true.empty else ok_F[:0]
    m = len(lower)
    # exact unless the true front or the curve's many fronts would take minutes
    exact = hypervolume_is_exact(len(T), m) and hypervolume_is_exact(len(ok_F), m, len(ok_F))
    curve = hv_curve(ok_F, [e.trial for e in run.ok()], lower, upper, ref, exact)
    true_hv = None
    true_points = None
    if true is not None:
        true_points = [
            {
                "k": row["arch"],
                "m": {m: _num(row[m]) for m in run.metric_names},
                "pic": pictures.add(run, None, row["arch"]),
            }
            for _, row in true.iterrows()
        ]
        if not true.empty:
            R = np.full(m, ref)
            N = normalise(T, lower, upper)
            true_hv = (
                hypervolume(N, R) / ref**m
                if exact
                else float(dominated(N, hv_samples(np.zeros(m), R)).mean())
            )
    # Results.summary()'s figures, from what is computed here already (the true front is dear)
    summary: dict[str, Any] = {
        "evaluations": len(rows),
        **{s: sum(r.status == s for r in rows) for s in (OK, INFEASIBLE, FAILED)},
        "front_size": len(front),
    }
    if true is not None and not true.empty and true_hv:
        evaluated = {r.arch for r in rows}
        summary["hv_ratio"] = _num(curve[-1][1] / true_hv)
        summary["hv_method"] = hypervolume_method(exact)
        summary["true_front_size"] = len(true)
        summary["true_front_found"] = sum(k in evaluated for k in true["arch"]) / len(true)
    created = run.created
    return {
        "name": name,
        "dir": str(run.path) if run.path is not None else None,
        "config": run.config.to_dict(),
        "host": run.host,
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(created))
        if isinstance(created, (int, float))
        else None,
        "objectives": [{"metric": o.metric.name, "direction": o.direction} for o in run.objectives],
        "constraints": [
            {"metric": c.metric.name, "op": c.op, "bound": c.bound, "spec": c.spec}
            for c in run.constraints
        ],
        "metrics": run.metric_names,
        "units": units,
        "points": points,
        "true_front": true_points,
        "hv": {
            "curve": curve,
            "true": _num(true_hv),
            "how": how,
            "method": hypervolume_method(exact),
            "ref": ref,
            "lower": [_num(x) for x in lower],
            "upper": [_num(x) for x in upper],
        },
        "summary": summary,
    }


def report_payload(
    runs: Sequence[Results], names: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """The data of a (comparison) report and the architecture pictures it refers to."""
    pictures, provenances = Pictures(), Provenances()
    bounds = hv_bounds(runs)
    payloads = [run_payload(r, n, b, pictures, provenances) for r, n, b in zip(runs, names, bounds)]
    data = {
        "runs": payloads,
        "zoom": zoom_floors(payloads),
        "provenance": provenances.records,
        "generated": {
            "hwnas": __version__,
            "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        },
    }
    return data, pictures.svgs


def run_name(run: Results) -> str:
    return run.path.name if run.path is not None else "in-memory run"
