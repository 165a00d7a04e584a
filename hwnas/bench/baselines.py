"""External optimisers run in the same harness as hwnas's strategies, with their default
settings, over the space's integer genes (pymoo) or one categorical per dimension
(Optuna). Only distinct architectures count as evaluations: a repeat is answered from
the cache, as hwnas's ledger would."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from hwnas.bench._oracle import Evaluator
from hwnas.registry import Registry

Runner = Callable[[Evaluator, int], None]
BASELINES: Registry[Runner] = Registry("baseline")
#: the optional package each baseline runs on (the `bench` extra; BoTorch its own)
REQUIRES = {
    "pymoo-nsga2": "pymoo",
    "optuna-nsga2": "optuna",
    "optuna-tpe": "optuna",
    "optuna-tpe-multivariate": "optuna",
    "botorch-qlognehvi": "botorch",
}


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


def _tpe_multivariate_sampler(seed: int) -> Any:
    """TPE over the joint distribution of the genes, Optuna's recommended setting for
    dependent parameters (NB201's edges are: a dead edge makes the others moot)."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


BASELINES.add("optuna-nsga2", _optuna(_nsga2_sampler))
BASELINES.add("optuna-tpe", _optuna(_tpe_sampler))
BASELINES.add("optuna-tpe-multivariate", _optuna(_tpe_multivariate_sampler))


#: BoTorch's settings: a random design of this many architectures, then one per step
BOTORCH_INIT = 10
#: L-BFGS iterations per GP fit, warm-started from the previous step: the default (until
#: convergence, from scratch) took 13 s at 30 points and 45 s at 150 on this machine for
#: a marginal likelihood 2-10 % better than 50 iterations reach from scratch (1.4 s / 2.2 s)
BOTORCH_FIT_ITERATIONS = 50
#: random unseen candidates the acquisition is maximised over per step (scoring all 15,625
#: NB201 cells takes ~9 s a step on one core, 2,048 about 1 s)
BOTORCH_POOL = 2048


@BASELINES.register("botorch-qlognehvi")
def botorch_qlognehvi(ev: Evaluator, seed: int) -> None:
    """BoTorch's recommended multi-objective BO: an exact GP (SingleTaskGP, BoTorch's
    default priors, outcomes standardised) on the one-hot encoding, qLogNEHVI (128
    Sobol samples, pruned baseline) maximised over `BOTORCH_POOL` random unseen
    architectures, one per step after `BOTORCH_INIT` random ones; reference point 10 %
    of the observed range below the worst values. The GP's hyper-parameters are
    warm-started from the previous step and fitted for `BOTORCH_FIT_ITERATIONS` L-BFGS
    iterations, so a run of 300 takes minutes here, not hours."""
    import torch
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf_discrete
    from botorch.sampling import SobolQMCNormalSampler
    from gpytorch.mlls import ExactMarginalLogLikelihood

    # linear_operator warns once per process about torch's sparse checks: not the user's
    warnings.filterwarnings("ignore", message="Sparse invariant checks", category=UserWarning)
    space, rng = ev.ctx.space, np.random.default_rng(seed)
    torch.manual_seed(seed)
    seen: dict[str, Any] = {}

    def unseen(n: int) -> list:
        """Up to n random architectures not evaluated yet (the acquisition's choices)."""
        out: dict[str, Any] = {}
        for _ in range(50 * n):
            arch = space.sample(rng)
            if arch.key not in seen:
                out.setdefault(arch.key, arch)
            if len(out) >= n:
                break
        return list(out.values())

    def onehot(archs: list) -> torch.Tensor:
        return torch.from_numpy(space.encode(archs, "onehot")).to(torch.float64)

    hyper: dict[str, Any] = {}
    for arch in unseen(BOTORCH_INIT):
        seen[arch.key] = arch
    F = ev(list(seen.values()))
    while not ev.done:
        usable = np.all(np.isfinite(F), axis=1)  # a failed evaluation teaches the GP nothing
        archs = [a for a, ok in zip(seen.values(), usable) if ok]
        X, Y = onehot(archs), -torch.from_numpy(np.asarray(F[usable], dtype=np.float64))
        model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=Y.shape[-1]))
        if hyper:  # warm start from the previous step's hyper-parameters
            model.load_state_dict(hyper, strict=False)
        fit_gpytorch_mll(
            ExactMarginalLogLikelihood(model.likelihood, model),
            optimizer_kwargs={"options": {"maxiter": BOTORCH_FIT_ITERATIONS}},
        )
        hyper = {k: v for k, v in model.state_dict().items() if "outcome_transform" not in k}
        low, high = Y.min(dim=0).values, Y.max(dim=0).values
        acq = qLogNoisyExpectedHypervolumeImprovement(
            model=model,
            ref_point=(low - 0.1 * (high - low)).tolist(),
            X_baseline=X,
            prune_baseline=True,
            sampler=SobolQMCNormalSampler(torch.Size([128]), seed=seed + len(seen)),
        )
        choices = unseen(BOTORCH_POOL)
        if not choices:
            return
        best, _ = optimize_acqf_discrete(acq, q=1, choices=onehot(choices), max_batch_size=1024)
        index = int(torch.cdist(best, onehot(choices)).argmin())
        seen[choices[index].key] = choices[index]
        F = np.vstack([F, ev([choices[index]])])
