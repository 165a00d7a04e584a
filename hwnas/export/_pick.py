"""The pick language: which evaluation of a run to export (`best:METRIC`, conditions such as
`latency@local-cpu<=5`, `index:N`, `arch:KEY`)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hwnas.errors import SpecError
from hwnas.metrics import Objective, parse_constraint, parse_metric
from hwnas.results import Evaluation, Results
from hwnas.trial import FAILED


class PickError(SpecError):
    """A `--pick` that names an unknown metric or that no evaluation of the run meets."""


@dataclass(frozen=True)
class Picked:
    """The chosen evaluation and how it was chosen."""

    evaluation: Evaluation
    pick: str
    on_front: bool
    front_index: int | None


_PICK_HELP = (
    "best:METRIC, a condition such as 'latency@local-cpu<=5' (several joined by ','), "
    "index:N (row of pareto.csv) or arch:KEY"
)


def pick_evaluation(run: Results, pick: str) -> Picked:
    """Resolve a pick:

    - `best:METRIC` (`best:METRIC:min|max` for a metric that is not an objective): the best
      front member for that metric, ties broken by the other objectives in order;
    - `METRIC<=X` (or >=, <, >; several joined by `,`): the best feasible evaluation in the
      first objective among those meeting every condition (ties: the other objectives);
    - `index:N`: row N (from 0) of `pareto.csv`;
    - `arch:KEY`: the evaluation of that architecture (any form the space parses).
    """
    text = str(pick).strip()
    front = run.front()
    kind, sep, rest = text.partition(":")
    if sep and kind == "best":
        return _pick_best(run, text, rest.strip(), front)
    if sep and kind == "index":
        return _pick_index(run, text, rest.strip(), front)
    if sep and kind == "arch":
        return _pick_arch(run, text, rest.strip(), front)
    if any(op in text for op in "<>"):
        return _pick_condition(run, text, front)
    raise PickError(f"pick {text!r}: expected {_PICK_HELP}")


def _known_metric(run: Results, text: str, pick: str) -> str:
    try:
        name = parse_metric(text).name
    except SpecError as exc:
        raise PickError(f"pick {pick!r}: {exc}") from None
    names = run.recorded_metrics
    if name not in names:
        raise PickError(
            f"pick {pick!r}: the run recorded no metric {name!r}; available: {', '.join(names)}"
        )
    return name


def _picked(run: Results, e: Evaluation, pick: str, front: Sequence[Evaluation]) -> Picked:
    keys = [f.arch for f in front]
    index = keys.index(e.arch) if e.arch in keys else None
    return Picked(e, pick, index is not None, index)


def _lexicographic(first: Objective, others: Sequence[Objective]) -> Callable[[Evaluation], Any]:
    def key(e: Evaluation) -> tuple[float, ...]:
        values = [first.to_min(e.value(first.metric.name))]
        values += [o.to_min(e.value(o.metric.name)) for o in others]
        return (*[math.inf if math.isnan(v) else v for v in values], float(e.trial))

    return key


def _pick_best(run: Results, pick: str, rest: str, front: Sequence[Evaluation]) -> Picked:
    name_text, _, direction = rest.rpartition(":")
    if direction in ("min", "max") and name_text:
        objective = Objective(parse_metric(_known_metric(run, name_text, pick)), direction)  # type: ignore[arg-type]
    else:
        name = _known_metric(run, rest, pick)
        matches = [o for o in run.objectives if o.metric.name == name]
        if not matches:
            raise PickError(
                f"pick {pick!r}: {name} is not an objective of the run, so its direction is "
                f"unknown; say best:{name}:min or best:{name}:max (objectives: "
                f"{', '.join(o.spec for o in run.objectives)})"
            )
        objective = matches[0]
    if not front:
        raise PickError(f"pick {pick!r}: the run has no feasible evaluation (its front is empty)")
    others = [o for o in run.objectives if o.metric != objective.metric]
    best = min(front, key=_lexicographic(objective, others))
    if math.isnan(best.value(objective.metric.name)):
        raise PickError(f"pick {pick!r}: no front member has a value for {objective.metric.name}")
    return _picked(run, best, pick, front)


def _pick_condition(run: Results, pick: str, front: Sequence[Evaluation]) -> Picked:
    conditions = []
    for part in pick.split(","):
        try:
            c = parse_constraint(part)
        except SpecError as exc:
            raise PickError(f"pick {pick!r}: {exc}") from None
        _known_metric(run, c.metric.name, pick)
        conditions.append(c)
    ok = run.ok()
    meeting = [e for e in ok if all(c.satisfied(e.value(c.metric.name)) for c in conditions)]
    if not meeting:
        ranges = []
        for c in conditions:
            values = [e.value(c.metric.name) for e in ok]
            values = [v for v in values if not math.isnan(v)]
            if values:
                ranges.append(f"{c.metric.name} {min(values):g}..{max(values):g}")
        where = "; feasible evaluations span " + ", ".join(ranges) if ranges else ""
        raise PickError(
            f"pick {pick!r}: no feasible evaluation of the run meets it ({len(ok)} feasible)"
            + where
        )
    first, *others = run.objectives
    best = min(meeting, key=_lexicographic(first, others))
    return _picked(run, best, pick, front)


def _pick_index(run: Results, pick: str, rest: str, front: Sequence[Evaluation]) -> Picked:
    if not re.fullmatch(r"[0-9]{1,9}", rest):
        raise PickError(f"pick {pick!r}: index must be a row number of pareto.csv from 0")
    i = int(rest)
    if not front:
        raise PickError(f"pick {pick!r}: the run's front is empty")
    if i >= len(front):
        raise PickError(
            f"pick {pick!r}: pareto.csv has {len(front)} rows; use index:0..{len(front) - 1}"
        )
    return _picked(run, front[i], pick, front)


def _pick_arch(run: Results, pick: str, rest: str, front: Sequence[Evaluation]) -> Picked:
    try:
        arch = run.space.parse(rest)
    except SpecError as exc:
        raise PickError(f"pick {pick!r}: {exc}") from None
    for e in run.rows:
        if e.arch == arch.key:
            if e.status == FAILED:
                raise PickError(f"pick {pick!r}: that evaluation failed; pick another")
            return _picked(run, e, pick, front)
    raise PickError(
        f"pick {pick!r}: the run did not evaluate {arch.key} ({len(run.rows)} "
        "evaluations; see evaluations.csv)"
    )
