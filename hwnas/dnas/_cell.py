"""PC-DARTS (Xu et al., ICLR 2020) on the NAS-Bench-201 cell: one cell of 6 edges, each a
softmax(alpha)-weighted mixture of the 5 NB201 ops, shared by every cell of NB201's
skeleton (stem, three stages of `cells` cells at C, 2C, 4C channels with residual
reductions, as the DARTS search NB201's authors ran). Partial channels: only 1/K of an
edge's input channels go through the ops, the rest bypass them, and a channel shuffle mixes
the two, which cuts the supernet's cost by K and regularises it; edge normalisation:
each node sums its incoming edges with softmax(beta) weights. Weights and alpha, beta train
in alternation (first order), alpha with the optional cost term on the expected cost. The
derived cell takes each edge's most probable op, `none` included, as NB201's DARTS
baseline does; where DARTS collapses to skip connections shows in `skip_share`."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.dnas._costs import LayerCosts
from hwnas.dnas._search import cycle_batches, optimisers
from hwnas.dnas._settings import Goal, SearchSettings
from hwnas.models.nb201 import ResNetBasicBlock, make_op
from hwnas.training import augment, batch_indices, resolve_device

StepHook = Callable[[int, int], None]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class PartialEdge(nn.Module):
    def __init__(self, ops: tuple[str, ...], channels: int, partial: int) -> None:
        super().__init__()
        self.partial = partial
        self.ops = nn.ModuleList(make_op(op, channels // partial) for op in ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        c = x.shape[1] // self.partial
        head, tail = x[:, :c], x[:, c:]
        mixed = sum(w * op(head) for w, op in zip(weights, self.ops))
        return channel_shuffle(torch.cat([mixed, tail], 1), self.partial)  # type: ignore[list-item]


class SearchCell(nn.Module):
    def __init__(
        self, edges: tuple[tuple[int, int], ...], ops: tuple[str, ...], channels: int, partial: int
    ) -> None:
        super().__init__()
        self.edges = edges
        self.mixed = nn.ModuleList(PartialEdge(ops, channels, partial) for _ in edges)
        self.output = max(dest for dest, _ in edges)

    def forward(
        self, x: torch.Tensor, alpha: torch.Tensor, beta: list[torch.Tensor]
    ) -> torch.Tensor:
        nodes = [x]
        weights = torch.softmax(alpha, dim=-1)
        for dest in range(1, self.output + 1):
            incoming = [i for i, (d, _) in enumerate(self.edges) if d == dest]
            norm = torch.softmax(beta[dest - 1], dim=0)
            nodes.append(
                sum(  # type: ignore[arg-type]
                    norm[k] * self.mixed[i](nodes[self.edges[i][1]], weights[i])
                    for k, i in enumerate(incoming)
                )
            )
        return nodes[self.output]


class CellSupernet(nn.Module):
    def __init__(
        self,
        edges: tuple[tuple[int, int], ...],
        ops: tuple[str, ...],
        classes: int,
        channels: int = 16,
        cells: int = 5,
        partial: int = 4,
    ) -> None:
        super().__init__()
        if channels % partial:
            raise ValueError(f"{channels} channels do not split into {partial} parts")
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )
        body: list[nn.Module] = []
        c_prev = channels
        for stage, c in enumerate((channels, 2 * channels, 4 * channels)):
            if stage > 0:
                body.append(ResNetBasicBlock(c_prev, c))
            body += [SearchCell(edges, ops, c, partial) for _ in range(cells)]
            c_prev = c
        self.body = nn.ModuleList(body)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(c_prev, classes)
        dests = sorted({d for d, _ in edges})
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(edges), len(ops)))
        self.beta = nn.ParameterList(
            nn.Parameter(1e-3 * torch.randn(sum(d == dest for d, _ in edges))) for dest in dests
        )

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha, *self.beta]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        beta = list(self.beta)
        for block in self.body:
            x = block(x, self.alpha, beta) if isinstance(block, SearchCell) else block(x)
        return self.classifier(F.adaptive_avg_pool2d(self.lastact(x), 1).flatten(1))


def search_cell(
    supernet: CellSupernet,
    costs: LayerCosts | None,
    goal: Goal | None,
    train: tuple[torch.Tensor, torch.Tensor],
    arch_data: tuple[torch.Tensor, torch.Tensor],
    settings: SearchSettings,
    on_step: StepHook | None = None,
) -> dict[str, object]:
    """Train weights and (alpha, beta) in alternation; the final probabilities and trace."""
    device = resolve_device(settings.device)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    supernet.to(device).train()
    x, y = train
    ax, ay = arch_data
    total = -(-len(y) // settings.batch_size) * settings.epochs
    warm = int(total * settings.warmup)
    opt, schedule, arch_opt = optimisers(
        supernet.weight_parameters(), supernet.arch_parameters(), settings, total
    )
    delta = None if costs is None else torch.tensor(costs.delta, dtype=torch.float32, device=device)
    trace: list[dict[str, float]] = []
    started = time.perf_counter()
    step = 0
    arch_batches = cycle_batches(len(ay), settings.batch_size, generator)
    for _ in range(settings.epochs):
        for idx in batch_indices(len(y), settings.batch_size, generator):
            if step >= warm:
                aidx = next(arch_batches)
                arch_opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(supernet(ax[aidx].to(device)), ay[aidx].to(device))
                if costs is not None and goal is not None and delta is not None:
                    cost = costs.base + (torch.softmax(supernet.alpha, -1) * delta).sum()
                    if goal.target is not None:
                        ratio = cost.clamp_min(1e-9) / goal.target
                        loss = loss + settings.penalty * torch.log(ratio).abs()
                    else:
                        loss = loss + float(goal.tradeoff or 0.0) * cost / costs.base
                loss.backward()
                arch_opt.step()
            xb = augment(x[idx], generator).to(device)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(supernet(xb), y[idx].to(device)).backward()
            nn.utils.clip_grad_norm_(supernet.weight_parameters(), 5.0)
            opt.step()
            schedule.step()
            step += 1
            if step % max(1, total // 50) == 0 or step == total:
                probs = torch.softmax(supernet.alpha.detach(), -1)
                point = {"step": float(step), "skip_share": float(probs[:, 1].mean())}
                if delta is not None and costs is not None:
                    point["expected_cost"] = float(costs.base + (probs * delta).sum())
                trace.append(point)
            if on_step is not None:
                on_step(step, total)
    seconds = time.perf_counter() - started
    probs = torch.softmax(supernet.alpha.detach(), -1).cpu()
    expected = None if costs is None else float(costs.base + (probs.numpy() * costs.delta).sum())
    return {
        "probabilities": [[round(float(p), 5) for p in row] for row in probs],
        "expected_cost": expected,
        "trace": trace,
        "seconds": seconds,
        "steps": total,
        "images_per_second": total * settings.batch_size / max(seconds, 1e-9),
    }
