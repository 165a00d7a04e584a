"""Sub-spaces: a restriction of a space's choices (the CLI's `--restrict DIM=V1,V2`), for a
profile or a search that covers only part of a space (a width a table covers, the extent a
supernet was trained on). A restricted space keeps its parent's name, keys and class, so
every plugin serves it as it serves the parent; it samples, mutates and recombines only
within the restriction."""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hwnas.errors import SpecError
from hwnas.spaces._base import Architecture, SearchSpace


def parse_restrict(items: Sequence[str]) -> dict[str, list[str]]:
    """`NAME=V1,V2` strings (the CLI's --restrict) as a restriction dict."""
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise SpecError(f"restriction {item!r}: expected DIMENSION=V1,V2 (e.g. width=1)")
        out[name.strip()] = [v.strip() for v in values.split(",") if v.strip()]
    return out


def restrict_flags(restrict: Mapping[str, Sequence[Any]] | None) -> str:
    """A restriction as the command-line flags that search inside it."""
    return " ".join(
        f"--restrict '{k}={','.join(str(v) for v in vs)}'" for k, vs in (restrict or {}).items()
    )


def allowed_choices(
    space: SearchSpace, restrict: Mapping[str, Sequence[Any]] | None
) -> list[list[int]]:
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
                    f"restriction {pattern}={list(values)}: {space.dimensions[i].name} has "
                    f"choices {', '.join(str(c) for c in choices)}"
                )
            allowed[i] = keep
    return allowed


def _same(choice: Any, value: Any) -> bool:
    """A choice equals a value given on the command line (`1` is the choice `1.0`)."""
    try:
        return abs(float(choice) - float(value)) < 1e-9
    except (TypeError, ValueError):
        return str(choice) == str(value)


def restrict_space(space: SearchSpace, restrict: Mapping[str, Sequence[Any]] | None) -> SearchSpace:
    """`space` limited to the restriction (the space itself when it restricts nothing).

    A gene vector belongs to the sub-space when its disallowed genes are ones the space
    ignores (a block beyond a stage's depth): replacing them by allowed choices leaves the
    canonical network unchanged."""
    allowed = allowed_choices(space, restrict)
    if all(len(a) == len(d.choices) for a, d in zip(allowed, space.dimensions)):
        return space
    parent = type(space)

    def is_valid(self: SearchSpace, genes: Sequence[int]) -> bool:
        genes = [int(g) for g in genes]
        inside = [g if g in ok else ok[0] for g, ok in zip(genes, allowed)]
        # the restriction first: it is cheap, and most gene vectors of a small sub-space's
        # parent fail it (a space's own check may build the network)
        if inside != genes and (
            self.canonical(inside) != self.canonical(genes) or not parent.is_valid(self, inside)
        ):
            return False
        return parent.is_valid(self, genes)

    def sample(self: SearchSpace, rng: np.random.Generator) -> Architecture:
        for _ in range(10_000):
            genes = [int(rng.choice(ok)) for ok in allowed]
            if self.is_valid(genes):
                return self.make(genes)
        raise SpecError(f"{self.name}: the restriction {dict(restrict or {})} allows no network")

    sub = copy.copy(space)
    sub.__class__ = type(
        f"Restricted{parent.__name__}",
        (parent,),
        {"is_valid": is_valid, "sample": sample, "__module__": parent.__module__},
    )
    sub.restriction = {k: [str(v) for v in vs] for k, vs in (restrict or {}).items()}  # type: ignore[attr-defined]
    return sub
