"""Every registered strategy searches the transformer spaces (`vit`, `bert`): proposals are
distinct, canonical architectures of the space. Objectives are synthetic functions of the
genes, so no network is built."""

from __future__ import annotations

import pytest

import hwnas
from hwnas.metrics import parse_objective
from hwnas.strategies import make_strategy
from hwnas.strategies._base import Problem
from hwnas.trial import OK, Trial

SPACES = ("vit", "bert")


def _values(genes: tuple[int, ...]) -> dict[str, float]:
    """A size-like cost and a quality that grows with width and depth, in conflict."""
    return {"accuracy": float(genes[0] + genes[1]), "macs": float(sum(genes))}


@pytest.mark.parametrize("space_name", SPACES)
@pytest.mark.parametrize("name", hwnas.list_strategies())
def test_every_strategy_searches_the_space(name: str, space_name: str) -> None:
    space = hwnas.get_space(space_name)
    problem = Problem(
        space=space,
        objectives=(parse_objective("accuracy:max"), parse_objective("macs:min")),
    )
    strategy = make_strategy(name, problem, seed=0)
    asked: list[str] = []
    while len(asked) < 16:
        batch = strategy.ask(min(max(strategy.batch_size, 1), 16 - len(asked)))
        assert batch
        for arch in batch:
            assert arch.key not in asked and space.canonical(arch.genes) == arch.genes
            assert space.parse(arch.key) == arch
        trials = [Trial(len(asked) + i, a, OK, _values(a.genes)) for i, a in enumerate(batch)]
        asked += [a.key for a in batch]
        strategy.tell(trials)
