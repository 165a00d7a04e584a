"""Which architectures a profile measures: a restriction to a sub-space (the CLI's
`--restrict`) and random samples within it. Profiling draws its training networks here and
validation its held-out ones, so both see the same sub-space."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwnas.spaces import Architecture, SearchSpace
from hwnas.spaces._restrict import allowed_choices, parse_restrict

__all__ = ["allowed_choices", "parse_restrict", "sample_archs"]


def sample_archs(
    space: SearchSpace,
    n: int,
    seed: int,
    exclude: set[str] | None = None,
    restrict: dict[str, list[Any]] | None = None,
) -> list[Architecture]:
    """Up to `n` distinct random architectures within the restriction, not in `exclude`."""
    rng = np.random.default_rng(seed)
    allowed = allowed_choices(space, restrict)
    exclude = set(exclude or ())
    out: list[Architecture] = []
    for _ in range(100 * n + 100):
        if len(out) == n:
            break
        genes = [int(rng.choice(a)) for a in allowed]
        if not space.is_valid(genes):
            continue
        arch = space.make(genes)
        if arch.key not in exclude:
            exclude.add(arch.key)
            out.append(arch)
    return out
