"""Search spaces: `@register_space("name")` on a `SearchSpace` subclass adds one."""

from __future__ import annotations

from functools import cache

from hwnas.registry import Registry
from hwnas.spaces._base import Architecture, Dimension, LayeredSpace, SearchSpace

SPACES: Registry[type[SearchSpace]] = Registry(
    "space", ("hwnas.spaces.nb201", "hwnas.spaces.mbv3", "hwnas.spaces.fbnet", "hwnas.spaces.hat")
)
register_space = SPACES.register_class


@cache
def get_space(name: str) -> SearchSpace:
    """The (shared, stateless) instance of a registered space."""
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
    "register_space",
]
