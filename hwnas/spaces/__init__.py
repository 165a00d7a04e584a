"""Search spaces: `@register_space("name")` on a `SearchSpace` subclass adds one."""

from __future__ import annotations

from functools import cache

from hwnas.registry import Registry
from hwnas.spaces._base import Architecture, Dimension, LayeredSpace, SearchSpace
from hwnas.spaces._restrict import parse_restrict, restrict_space

SPACES: Registry[type[SearchSpace]] = Registry(
    "space",
    (
        "hwnas.spaces.nb201",
        "hwnas.spaces.mbv3",
        "hwnas.spaces.mbv2",
        "hwnas.spaces.fbnet",
        "hwnas.spaces.vit",
        "hwnas.spaces.bert",
        "hwnas.spaces.hat",
    ),
)
register_space = SPACES.register_class


@cache
def get_space(name: str) -> SearchSpace:
    """The (shared, stateless) instance of a registered space, or of a registered space
    with its quantisation policy as genes (`mbv3+quant:w=4,6,8;a=8`, hwnas.spaces.quant),
    or joined with an accelerator's genes (`nb201+accel`, hwnas.spaces.accel)."""
    if "+accel" in name:
        from hwnas.errors import SpecError
        from hwnas.spaces.accel import MARK, accelerated_space

        if "+quant" in name:
            raise SpecError(
                f"space {name!r}: an accelerator co-search models 8-bit or 16-bit operands "
                "(the bits gene), not a per-layer quantisation policy: drop +quant"
            )
        return accelerated_space(name, get_space(name.partition(MARK)[0]))
    if "+quant" in name:
        from hwnas.spaces.quant import quantised_space, split_name

        return quantised_space(name, get_space(split_name(name)[0]))
    return SPACES.get(name)()


list_spaces = SPACES.names


__all__ = [
    "SPACES",
    "Architecture",
    "Dimension",
    "LayeredSpace",
    "SearchSpace",
    "get_space",
    "list_spaces",
    "parse_restrict",
    "register_space",
    "restrict_space",
]
