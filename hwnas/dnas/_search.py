"""One differentiable search: architecture parameters alpha[layer, choice] and the
supernet's weights trained in alternation (weights on one part of the training images,
alpha on the other, as FBNet's 80/20 split), then the architecture read off as each
layer's most probable choice.

- `fbnet` (Wu et al., CVPR 2019): every candidate runs, weighted by Gumbel-softmax samples
  of alpha at a temperature annealed exponentially from `tau_start` to `tau_end`; the
  expected cost is the sampled weights times the per-layer table.
- `proxyless` (Cai et al., ICLR 2019): binarised paths. A weights step runs one candidate
  per layer, sampled from softmax(alpha); an architecture step samples two candidates per
  layer, runs both behind binary gates and turns the gates' gradients into alpha's (the
  paper's estimator, restricted to the two paths); the expected cost is softmax(alpha)
  times the table, differentiated exactly.

The cost term: with a target T, `penalty * |log(E[cost] / T)|` added to the cross-entropy
(symmetric in the ratio, TuNAS's absolute reward on a log scale), which drives the expected
cost to T; with a trade-off value instead, FBNet's `CE * a * log(E[cost])^beta` (beta = the
value, a = 0.2 as the paper) or ProxylessNAS's `CE + value * E[cost] / base`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from hwnas.dnas._costs import LayerCosts
from hwnas.dnas._settings import FBNET_A, Goal, SearchSettings
from hwnas.dnas._supernet import FBNetSupernet
from hwnas.training import Schedule, augment, batch_indices, make_optimizer, resolve_device


@dataclass(frozen=True)
class Derived:
    probabilities: list[list[float]]
    expected_cost: float
    trace: list[dict[str, float]]
    seconds: float
    steps: int
    images_per_second: float


StepHook = Callable[[int, int], None]


def cost_loss(
    ce: torch.Tensor, cost: torch.Tensor, goal: Goal, method: str, base: float, penalty: float
) -> torch.Tensor:
    """The search loss of a batch's cross-entropy and the expected cost (module doc)."""
    if goal.target is not None:
        # a fitted profile may predict a small network below zero: keep the log defined
        return ce + penalty * torch.log(cost.clamp_min(1e-9) / goal.target).abs()
    assert goal.tradeoff is not None
    if method == "fbnet":
        return ce * FBNET_A * torch.log(cost).pow(goal.tradeoff)
    return ce + goal.tradeoff * cost / base


def search(
    supernet: FBNetSupernet,
    costs: LayerCosts,
    goal: Goal,
    train: tuple[torch.Tensor, torch.Tensor],
    arch_data: tuple[torch.Tensor, torch.Tensor],
    settings: SearchSettings,
    on_step: StepHook | None = None,
) -> Derived:
    """Train `supernet` and alpha for `settings.epochs` over `train`; the learned distribution."""
    device = resolve_device(settings.device)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    layers, choices = supernet.shape
    alpha = torch.zeros(layers, choices, device=device, requires_grad=True)
    delta = torch.tensor(costs.delta, dtype=torch.float32, device=device)
    supernet.to(device).train()
    x, y = train
    ax, ay = arch_data
    steps_per_epoch = -(-len(y) // settings.batch_size)
    total = steps_per_epoch * settings.epochs
    warm = int(total * settings.warmup)
    opt, schedule, arch_opt = optimisers(supernet.parameters(), [alpha], settings, total)
    arch_batches = cycle_batches(len(ay), settings.batch_size, generator)
    trace: list[dict[str, float]] = []
    started = time.perf_counter()
    step = 0
    for _ in range(settings.epochs):
        for idx in batch_indices(len(y), settings.batch_size, generator):
            tau = settings.tau_start * (settings.tau_end / settings.tau_start) ** (
                step / max(1, total - 1)
            )
            xb = augment(x[idx], generator).to(device)
            plan = _weights_plan(settings.method, alpha.detach(), tau, step < warm, generator)
            loss = F.cross_entropy(supernet(xb, plan), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            if step >= warm:
                aidx = next(arch_batches)
                # the entropy term grows from 0 to `entropy` over the architecture steps
                commit = settings.entropy * (step - warm) / max(1, total - warm)
                expected = _arch_step(
                    supernet, alpha, arch_opt, delta, costs, goal, settings, tau,
                    ax[aidx].to(device), ay[aidx].to(device), generator, commit,
                )  # fmt: skip
                if step % max(1, total // 50) == 0 or step == total - 1:
                    trace.append({"step": step, "tau": tau, "expected_cost": expected})
            step += 1
            if on_step is not None:
                on_step(step, total)
    seconds = time.perf_counter() - started
    probs = torch.softmax(alpha.detach(), dim=1).cpu()
    expected = float(costs.base + (probs.numpy() * costs.delta).sum())
    return Derived(
        [[round(float(p), 5) for p in row] for row in probs],
        expected,
        trace,
        seconds,
        total,
        total * settings.batch_size / max(seconds, 1e-9),
    )


def optimisers(
    weights: Any, arch: Any, settings: SearchSettings, total: int
) -> tuple[torch.optim.Optimizer, Any, torch.optim.Optimizer]:
    """SGD with the cosine schedule of `hwnas.training` for the weights; Adam for the
    architecture parameters (beta1 0.5, as DARTS, FBNet and ProxylessNAS)."""
    schedule = Schedule(
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lr=settings.lr,
        momentum=settings.momentum,
        weight_decay=settings.weight_decay,
        seed=settings.seed,
    )
    opt, lr_schedule = make_optimizer(weights, schedule, total)
    arch_opt = torch.optim.Adam(
        arch, lr=settings.arch_lr, betas=(0.5, 0.999), weight_decay=settings.arch_weight_decay
    )
    return opt, lr_schedule, arch_opt


def cycle_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Shuffled index batches over `n` items, epoch after epoch, without end."""
    while True:
        yield from batch_indices(n, batch_size, generator)


def _weights_plan(
    method: str, alpha: torch.Tensor, tau: float, warmup: bool, generator: torch.Generator
) -> list[list[tuple[int, torch.Tensor | None]]]:
    """Which candidates run while the weights train, alpha held fixed."""
    layers, choices = alpha.shape
    if method == "proxyless" or warmup:
        # one path per layer: sampled from alpha, or uniformly while warming up (so every
        # candidate's weights start training before alpha moves)
        probs = (
            torch.full((layers, choices), 1.0 / choices)
            if warmup
            else torch.softmax(alpha.cpu(), 1)
        )
        picks = torch.multinomial(probs, 1, generator=generator)[:, 0]
        return [[(int(p), None)] for p in picks]
    weights = _gumbel_softmax(alpha, tau, generator)
    return [[(k, weights[i, k]) for k in range(choices)] for i in range(layers)]


def _entropy(alpha: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the layers' softmax(alpha)."""
    return -(torch.softmax(alpha, 1) * torch.log_softmax(alpha, 1)).sum(1).mean()


def _gumbel_softmax(alpha: torch.Tensor, tau: float, generator: torch.Generator) -> torch.Tensor:
    uniform = torch.rand(alpha.shape, generator=generator).clamp_(1e-10, 1.0).to(alpha.device)
    return torch.softmax((alpha - torch.log(-torch.log(uniform))) / tau, dim=1)


def _arch_step(
    supernet: FBNetSupernet,
    alpha: torch.Tensor,
    arch_opt: torch.optim.Optimizer,
    delta: torch.Tensor,
    costs: LayerCosts,
    goal: Goal,
    settings: SearchSettings,
    tau: float,
    xb: torch.Tensor,
    yb: torch.Tensor,
    generator: torch.Generator,
    commit: float = 0.0,
) -> float:
    """One update of alpha on a held-out batch; returns the expected cost before it.
    `commit` weighs the mean entropy of the layers' distributions (0: none)."""
    arch_opt.zero_grad(set_to_none=True)
    layers, choices = alpha.shape
    method, penalty = settings.method, settings.penalty
    if method == "fbnet":
        weights = _gumbel_softmax(alpha, tau, generator)
        mixture = [[(k, weights[i, k]) for k in range(choices)] for i in range(layers)]
        ce = F.cross_entropy(supernet(xb, mixture), yb)
        cost = costs.base + (weights * delta).sum()
        (
            cost_loss(ce, cost, goal, method, costs.base, penalty) + commit * _entropy(alpha)
        ).backward()
        supernet.zero_grad(set_to_none=True)
        arch_opt.step()
        return float(costs.base + (torch.softmax(alpha.detach(), 1) * delta).sum())
    probs = torch.softmax(alpha.detach(), 1).cpu()
    pairs = torch.multinomial(probs, 2, replacement=False, generator=generator)
    gates = []
    plan: list[list[tuple[int, torch.Tensor | None]]] = []
    for i in range(layers):
        pair = pairs[i]
        p_pair = torch.softmax(alpha.detach()[i, pair], 0).cpu()
        active = int(torch.multinomial(p_pair, 1, generator=generator))
        gate = torch.zeros(2, device=alpha.device)
        gate[active] = 1.0
        gate.requires_grad_(True)
        gates.append(gate)
        plan.append([(int(pair[0]), gate[0]), (int(pair[1]), gate[1])])
    ce = F.cross_entropy(supernet(xb, plan), yb)
    cost = costs.base + (torch.softmax(alpha, 1) * delta).sum()
    # the loss is additive in both modes, so the CE part reaches alpha through the gates
    # alone and the cost part through softmax(alpha) alone
    (cost_loss(ce, cost, goal, method, costs.base, penalty) + commit * _entropy(alpha)).backward()
    supernet.zero_grad(set_to_none=True)
    # the binary gates' gradients to alpha, over the two sampled paths (ProxylessNAS eq. 4)
    with torch.no_grad():
        grad = alpha.grad if alpha.grad is not None else torch.zeros_like(alpha)
        for i in range(layers):
            pair = pairs[i].to(alpha.device)
            p = torch.softmax(alpha[i, pair], 0)
            g = gates[i].grad
            assert g is not None
            jac = torch.diag(p) - torch.outer(p, p)  # d p_j / d alpha_k
            grad[i, pair] += jac @ g
        alpha.grad = grad
    arch_opt.step()
    return float(cost.detach())
