"""External optimisers run in the same harness as hwnas's strategies, with their default
settings, over the space's integer genes (pymoo) or one categorical per dimension
(Optuna). Only distinct architectures count as evaluations: a repeat is answered from
the cache, as hwnas's ledger would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hwnas.bench._oracle import Evaluator
from hwnas.registry import Registry

Runner = Callable[[Evaluator, int], None]
BASELINES: Registry[Runner] = Registry("baseline")
#: the optional package each baseline runs on (the `bench` extra)
REQUIRES = {"pymoo-nsga2": "pymoo", "optuna-nsga2": "optuna", "optuna-tpe": "optuna"}


def _genes_to_archs(ev: Evaluator, X: np.ndarray) -> list:
    return [ev.ctx.space.make(row) for row in np.asarray(X).round().astype(int)]


@BASELINES.register("pymoo-nsga2")
def pymoo_nsga2(ev: Evaluator, seed: int) -> None:
    """pymoo NSGA-II, population 20, pymoo's integer setup (random integer sampling, SBX
    and polynomial mutation with rounding repair, duplicate elimination)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    space = ev.ctx.space
    card = np.array(space.cardinalities)
    problem = Problem(n_var=len(card), n_obj=len(ev.ctx.metrics), xl=0, xu=card - 1, vtype=int)
    algorithm = NSGA2(
        pop_size=20,
        sampling=IntegerRandomSampling(),
        crossover=SBX(vtype=float, repair=RoundingRepair()),
        mutation=PM(vtype=float, repair=RoundingRepair()),
        eliminate_duplicates=True,
    )
    algorithm.setup(problem, seed=seed, termination=("n_eval", 10**9), verbose=False)
    while not ev.done:
        pop = algorithm.ask()
        pop.set("F", ev(_genes_to_archs(ev, pop.get("X"))))
        algorithm.tell(infills=pop)


def _optuna(make_sampler: Callable[[int], Any]) -> Runner:
    def run(ev: Evaluator, seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        dims = ev.ctx.space.dimensions
        study = optuna.create_study(
            directions=["minimize"] * len(ev.ctx.metrics), sampler=make_sampler(seed)
        )
        while not ev.done:
            trial = study.ask()
            genes = [trial.suggest_categorical(d.name, list(range(len(d.choices)))) for d in dims]
            values = ev([ev.ctx.space.make(genes)])[0]
            study.tell(trial, [float(v) for v in values])

    return run


def _nsga2_sampler(seed: int) -> Any:
    import optuna

    return optuna.samplers.NSGAIISampler(seed=seed)


def _tpe_sampler(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


BASELINES.add("optuna-nsga2", _optuna(_nsga2_sampler))
BASELINES.add("optuna-tpe", _optuna(_tpe_sampler))
