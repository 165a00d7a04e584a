"""Which architectures a profile measures: a restriction to a sub-space (the CLI's
`--restrict`) and random samples within it. Profiling draws its training networks here and
validation its held-out ones, so both see the same sub-space."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnas.errors import SpecError
from hwnas.spaces import Architecture, SearchSpace


def parse_restrict(items: Sequence[str]) -> dict[str, list[Any]]:
    """`NAME=V1,V2` strings (the CLI's --restrict) as a restriction dict."""
    out: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise SpecError(f"restriction {item!r}: expected DIMENSION=V1,V2 (e.g. width=1)")
        out[name.strip()] = [v.strip() for v in values.split(",") if v.strip()]
    return out


def allowed_choices(space: SearchSpace, restrict: dict[str, list[Any]] | None) -> list[list[int]]:
    """Per dimension, the choice indices a restriction allows: `{"width": [1.0],
    "kernel_*": [3, 5]}` (shell patterns over dimension names, values as the choices)."""
    allowed = [list(range(len(d.choices))) for d in space.dimensions]
    for pattern, values in (restrict or {}).items():
        dims = [i for i, d in enumerate(space.dimensions) if fnmatch.fnmatchcase(d.name, pattern)]
        if not dims:
            raise SpecError(
                f"restriction {pattern!r} matches no dimension of {space.name!r} "
                f"(e.g. {', '.join(d.name for d in space.dimensions[:4])})"
            )
        for i in dims:
            choices = space.dimensions[i].choices
            keep = [c for c, choice in enumerate(choices) if any(_same(choice, v) for v in values)]
            if not keep:
                raise SpecError(
                    f"restriction {pattern}={values}: {space.dimensions[i].name} has choices "
                    f"{', '.join(str(c) for c in choices)}"
                )
            allowed[i] = keep
    return allowed


def _same(choice: Any, value: Any) -> bool:
    """A choice equals a value given on the command line (`1` is the choice `1.0`)."""
    try:
        return abs(float(choice) - float(value)) < 1e-9
    except (TypeError, ValueError):
        return str(choice) == str(value)


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
