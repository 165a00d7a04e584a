"""Given architectures first, then random search: Optuna's `enqueue_trial` as a strategy.
A study with `strategy="given"` and a budget of exactly the list's length evaluates those
architectures and nothing else, which is how architectures found elsewhere (a
differentiable search, `hwnas dnas`; a paper's published networks) land in a run directory
with the study's metrics. `origins` says, per architecture, where it came from; it is
stored with the run's configuration and shown beside the results. Listed architectures are
proposed even where a cheap constraint rejects them: they were asked for by name, and the
study records them as infeasible rather than silently skipping them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hwnas.errors import SpecError
from hwnas.spaces import Architecture, SearchSpace
from hwnas.strategies import register_strategy
from hwnas.strategies._base import Problem, Strategy, require_at_least


@register_strategy("given")
class Given(Strategy):
    description = "the architectures listed in option archs, in order, then random sampling"

    def __init__(
        self,
        problem: Problem,
        seed: int = 0,
        archs: Sequence[str] = (),
        origins: Sequence[str] = (),
        batch_size: int = 10,
    ) -> None:
        super().__init__(problem, seed)
        require_at_least(1, batch_size=batch_size)
        self.batch_size = batch_size
        if isinstance(archs, str) or isinstance(origins, str):
            raise SpecError("options archs and origins are lists of strings")
        if origins and len(origins) != len(archs):
            raise SpecError(
                f"option origins has {len(origins)} entries for {len(archs)} architectures"
            )
        self.queue: list[Architecture] = []
        for i, key in enumerate(archs):
            try:
                arch = self.space.parse(str(key))
            except SpecError as exc:
                raise SpecError(f"option archs, entry {i}: {exc}") from None
            if arch.key not in (a.key for a in self.queue):
                self.queue.append(arch)

    def _propose(self, n: int) -> list[Architecture]:
        picks: list[Architecture] = []
        while self.queue and len(picks) < n:
            arch = self.queue.pop(0)
            if self.is_new(arch) and arch.key not in (a.key for a in picks):
                picks.append(arch)
        return picks + self.random_new(n - len(picks), exclude={a.key for a in picks})


def origins_by_key(options: dict[str, Any], space: SearchSpace) -> dict[str, str]:
    """arch key -> origin text from a `given` run's stored options (several origins of one
    architecture joined by '; ')."""
    archs = options.get("archs") or []
    origins = options.get("origins") or []
    out: dict[str, str] = {}
    if not isinstance(archs, list) or not isinstance(origins, list):
        return out
    for key, origin in zip(archs, origins):
        try:
            canonical = space.parse(str(key)).key
        except SpecError:
            continue
        out[canonical] = f"{out[canonical]}; {origin}" if canonical in out else str(origin)
    return out
