"""Differentiable hardware-aware search (FBNet's DNAS, ProxylessNAS) as a run like any
study's. Differentiable methods train, so they are not ask/tell strategies: `run_dnas`
trains a supernet and architecture parameters once per cost goal (a target, or a trade-off
value of the paper's loss), derives architectures from the learned distribution, then
evaluates them with the study's metrics through a `Study` with the `given` strategy, so the
run directory holds the same ledger, `evaluations.csv`, `pareto.csv` and report as `hwnas
search` writes, and `hwnas show` / `hwnas export` read it. Each architecture's origin
(method, goal, derivation, seed) is stored with it.

Each goal's search is written to `DIR/dnas/goal-N.json` when it ends; running the same
command again reuses finished goals and resumes the study (a goal killed mid-way is
searched again from its start). Needs the `torch` extra."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._imports import optional_import
from hwnas._io import atomic_write, read_json
from hwnas.config import StudyConfig, host_info
from hwnas.dnas._settings import METHODS, SPACE_METHODS, Goal, SearchSettings
from hwnas.errors import ConfigConflictError, HwnasError, SpecError, UnknownNameError
from hwnas.ledger import LEDGER_FILE
from hwnas.results import Results
from hwnas.spaces import SearchSpace, get_space
from hwnas.study import Study

GOALS_DIR = "dnas"
DERIVE_CHOICES = ("argmax", "budget", "both")
#: the training images a goal's search uses, split weights / architecture as FBNet's 80/20
ARCH_SHARE = 0.2
Progress = Callable[[str, int, int], None]

__all__ = ["METHODS", "Goal", "SearchSettings", "parse_goals", "run_dnas"]


def parse_goals(targets: Sequence[str], tradeoffs: Sequence[str]) -> list[Goal]:
    """`METRIC=V1,V2` specs (`--target-latency`, `--tradeoff`) as search goals (none: a
    search for accuracy alone, which only PC-DARTS runs)."""
    goals = []
    for kind, specs in (("target", targets), ("tradeoff", tradeoffs)):
        for spec in specs:
            metric, sep, values = str(spec).partition("=")
            if not sep or not metric.strip() or not values.strip():
                raise SpecError(f"{kind} {spec!r}: expected METRIC=VALUE[,VALUE...]")
            for text in values.split(","):
                try:
                    value = float(text)
                except ValueError:
                    raise SpecError(f"{kind} {spec!r}: {text.strip()!r} is not a number") from None
                if not np.isfinite(value) or (kind == "target" and value <= 0):
                    raise SpecError(f"{kind} {spec!r}: {text.strip()} must be a positive number")
                goals.append(Goal(metric.strip(), **{kind: value}))
    return goals


def run_dnas(
    method: str,
    goals: Sequence[Goal],
    *,
    space: str = "fbnet",
    dataset: str = "fashion-mnist",
    data: str | None = None,
    objectives: Sequence[str] | None = None,
    constraints: Sequence[str] = (),
    quality: str | None = None,
    derive: str = "both",
    images: int | None = None,
    settings: SearchSettings | None = None,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
    callbacks: Sequence[Callable[[Results], Any]] = (),
) -> Results:
    """Search once per goal with `method` (`fbnet`, `proxyless` on fbnet; `pc-darts` on
    nb201, where no goal means a search for accuracy alone), derive architectures
    (`argmax`, `budget` or `both`; `budget` needs a target) and evaluate them; the run's
    `Results`. `settings` holds the training: epochs, supernet width, learning rates,
    temperature, penalty, seed, device (its `method` is replaced by `method`)."""
    if method not in METHODS:
        raise UnknownNameError("differentiable method", method, METHODS)
    optional_import("torch", "differentiable search")
    settings = replace(settings or SearchSettings(), method=method)
    if derive not in DERIVE_CHOICES:
        raise UnknownNameError("derivation", derive, DERIVE_CHOICES)
    the_space = get_space(space)
    if the_space.name not in SPACE_METHODS:
        raise UnknownNameError("space for differentiable search", space, SPACE_METHODS)
    if method not in SPACE_METHODS[the_space.name]:
        raise UnknownNameError(
            f"method for space {the_space.name!r}", method, SPACE_METHODS[the_space.name]
        )
    if not goals and method != "pc-darts":
        raise SpecError(
            "give at least one --target-latency METRIC=VALUE or --tradeoff METRIC=VALUE"
        )
    goals = list(goals) or [Goal("")]
    if images is not None and images < 10:
        raise SpecError(f"images must be at least 10, got {images}")
    metrics = list(dict.fromkeys(g.metric for g in goals if g.metric))
    if objectives is None:
        with_accuracy = quality is not None or _table_accuracy(the_space, dataset)
        objectives = [f"{m}:min" for m in metrics] + (["accuracy:max"] if with_accuracy else [])
    config = StudyConfig(
        space=the_space.name,
        dataset=dataset,
        objectives=list(objectives),
        constraints=list(constraints),
        strategy="given",
        budget=1,
        seed=settings.seed,
        quality=quality or "tabular",
        data=data,
    )
    if not objectives:
        raise SpecError("nothing to evaluate the derived networks on: give --objective")
    from hwnas.evaluation import resolve

    resolve(StudyConfig.from_dict(config.to_dict()))  # bad objectives fail before training
    tables = _tables(config, the_space, metrics)
    for goal in goals:
        if goal.metric:
            _check_goal(goal, tables[goal.metric], method)
    out = Path(out_dir) if out_dir is not None else None
    record = {  # as the goal files store it (JSON types), to compare with them
        "method": method,
        "space": the_space.name,
        "dataset": dataset,
        "data": data,
        "images": images,
        "derive": derive,
        "settings": asdict(settings),
    }
    record = json.loads(json.dumps(record))
    data_split = None
    archs: list[str] = []
    origins: list[str] = []
    for number, goal in enumerate(goals):
        found = _load_goal(out, number, goal, record)
        if found is None:
            if data_split is None:
                data_split = _images(the_space, dataset, data, images, settings.seed)
            found = _search_goal(
                the_space, dataset, data, goal, tables.get(goal.metric), settings, data_split,
                progress, number, len(goals),
            )  # fmt: skip
            found.update(record=record)
            if out is not None:
                atomic_write(_goal_path(out, number), json.dumps(found, indent=1) + "\n")
        for how, genes in found["derived"].items():
            if derive in (how.partition("+")[0], "both") and genes is not None:
                archs.append(the_space.make(genes).key)
                origins.append(
                    f"derived by {method} DNAS, {goal.label}, {how}, seed {settings.seed}"
                )
    if not archs:
        raise HwnasError(
            "no architecture was derived (--derive budget needs a target the cheapest "
            "network meets)"
        )
    options = {"archs": archs, "origins": origins}
    unique = len(set(archs))  # `make` gave canonical keys
    study_args = {**config.to_dict(), "strategy_options": options, "budget": unique}
    if out is not None and (out / LEDGER_FILE).exists():
        study = Study.resume(out, budget=unique)
    else:
        study = Study(**study_args, out_dir=out)
    study.optimize(callbacks=callbacks)
    return study.results()


def _table_accuracy(space: SearchSpace, dataset: str) -> bool:
    """Whether the space's table has accuracies for the dataset (NB201's)."""
    from hwnas.evaluation import quality_metrics
    from hwnas.sources import EvalContext

    return "accuracy" in quality_metrics(EvalContext(space, dataset))


def _tables(config: StudyConfig, space: SearchSpace, metrics: list[str]) -> dict[str, Any]:
    """Each goal metric's per-layer table, read through the study's own metric sources."""
    from hwnas.dnas._costs import layer_costs
    from hwnas.evaluation import resolve

    if not metrics:
        return {}
    probe = StudyConfig.from_dict(
        {**config.to_dict(), "objectives": [f"{m}:min" for m in metrics], "quality": "tabular"}
    )
    sources = resolve(probe).sources
    return {m: layer_costs(space, sources[m], m, seed=config.seed) for m in metrics}


def _check_goal(goal: Any, table: Any, method: str) -> None:
    low, high = table.range
    if goal.target is not None and not low <= goal.target:
        raise SpecError(
            f"target {goal.label}: the cheapest architecture costs {low:.4g}; give a target "
            f"between {low:.4g} and {high:.4g}"
        )
    if goal.tradeoff is not None and method == "fbnet" and low <= 1.0:
        raise SpecError(
            f"{goal.label}: FBNet's loss takes log(cost)^beta, which needs costs above 1 "
            f"(the cheapest is {low:.4g}); give a --target-latency instead"
        )
    if table.residual > 0.05:
        raise SpecError(
            f"{goal.metric} is not additive over layers (the per-layer table misses by up to "
            f"{table.residual:.0%}); a differentiable search needs a lookup table or a count"
        )


def _images(
    space: SearchSpace, dataset: str, data: str | None, images: int | None, seed: int
) -> Any:
    """(weights images, labels), (architecture images, labels) from the training split."""
    import torch

    from hwnas.datasets import load_dataset
    from hwnas.training import image_tensors

    split = load_dataset(data or dataset).split(seed=seed).train
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(split))
    if images is not None:
        order = order[:images]
    n_arch = max(1, round(len(order) * ARCH_SHARE))
    shape = space.input_shape(dataset)
    x, y = image_tensors(split.take(np.sort(order)), shape)
    perm = torch.from_numpy(rng.permutation(len(y)))
    x, y = x[perm], y[perm]
    return (x[n_arch:], y[n_arch:]), (x[:n_arch], y[:n_arch])


def _search_goal(
    space: SearchSpace,
    dataset: str,
    data: str | None,
    goal: Goal,
    table: Any,
    settings: SearchSettings,
    data_split: Any,
    progress: Progress | None,
    number: int,
    count: int,
) -> dict[str, Any]:
    """One goal's search with the method's supernet, and what it derived."""
    import torch

    from hwnas.datasets import data_classes
    from hwnas.datasets.catalogue import head_classes
    from hwnas.dnas._derive import argmax, most_probable_within

    torch.manual_seed(settings.seed)
    classes = head_classes(dataset, data_classes(data))
    train, arch_data = data_split
    label = f"goal {number + 1}/{count} ({goal.label})"
    hook = (lambda done, total: progress(label, done, total)) if progress else None
    if settings.method == "pc-darts":
        from hwnas.dnas._cell import CellSupernet, search_cell
        from hwnas.spaces.nb201 import EDGES, OPS

        k = settings.partial
        channels = max(k, round(16 * settings.width / k) * k)
        cells = CellSupernet(EDGES, OPS, classes, channels, settings.cells, k)
        aim = goal if goal.metric else None
        found = search_cell(cells, table, aim, train, arch_data, settings, hook)
        probs = np.array(found["probabilities"])
        # DARTS never derives the zero op; NB201's DARTS baseline does
        derived: dict[str, Any] = {
            "argmax": list(argmax(probs, exclude=OPS.index("none"))),
            "argmax+none": list(argmax(probs)),
        }
    else:
        from hwnas.dnas._search import search
        from hwnas.dnas._supernet import FBNetSupernet
        from hwnas.spaces.fbnet import OPS as FBNET_OPS

        channels = space.input_shape(dataset)[0]
        supernet = FBNetSupernet(FBNET_OPS, channels, classes, settings.width)
        found = asdict(search(supernet, table, goal, train, arch_data, settings, hook))
        probs = np.array(found["probabilities"])
        derived = {"argmax": list(argmax(probs))}
    if goal.target is not None:
        within = most_probable_within(probs, table.base, table.delta, goal.target)
        derived["budget"] = list(within) if within is not None else None
    kept = ("expected_cost", "probabilities", "trace", "seconds", "steps", "images_per_second")
    return {
        "goal": asdict(goal),
        "label": goal.label,
        "derived": derived,
        "cost": {
            how: (table.of(g) if g is not None and table is not None else None)
            for how, g in derived.items()
        },
        **{key: found[key] for key in kept},
        "train_images": len(train[1]),
        "arch_images": len(arch_data[1]),
        "table": None
        if table is None
        else {k: v for k, v in table.as_dict().items() if k != "delta"},
        "host": host_info(),
        "finished": time.time(),
    }


def _goal_path(out: Path, number: int) -> Path:
    (out / GOALS_DIR).mkdir(parents=True, exist_ok=True)
    return out / GOALS_DIR / f"goal-{number}.json"


def _load_goal(
    out: Path | None, number: int, goal: Goal, record: dict[str, Any]
) -> dict[str, Any] | None:
    """A finished goal's search, when the run directory holds it for this very goal and
    these settings (`record`, as stored: JSON types); other ones are a conflict."""
    if out is None:
        return None
    path = out / GOALS_DIR / f"goal-{number}.json"
    if not path.exists():
        return None
    stored = read_json(path)
    if not isinstance(stored, dict) or stored.get("goal") != asdict(goal):
        raise ConfigConflictError(
            f"{path} holds the search of another goal; use a new --out or the same goals"
        )
    old = stored.get("record")
    if old != record:
        diff = [
            f"{k}: {old.get(k)!r} -> {v!r}"
            for k, v in record.items()
            if isinstance(old, dict) and old.get(k) != v
        ]
        raise ConfigConflictError(
            f"{out} holds a differentiable search with other settings"
            + (f" ({'; '.join(diff)})" if diff else "")
            + "; use a new --out"
        )
    return stored
