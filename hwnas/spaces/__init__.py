"""Search spaces: `@register_space("name")` on a `SearchSpace` subclass adds one."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from hwnas.registry import Registry
from hwnas.spaces._base import Architecture, Dimension, LayeredSpace, SearchSpace

SPACES: Registry[type[SearchSpace]] = Registry(
    "space", ("hwnas.spaces.nb201", "hwnas.spaces.mbv3", "hwnas.spaces.fbnet")
)


def register_space(name: str) -> Callable[[type[SearchSpace]], type[SearchSpace]]:
    def decorator(cls: type[SearchSpace]) -> type[SearchSpace]:
        cls.name = name
        return SPACES.register(name)(cls)

    return decorator


@cache
def get_space(name: str) -> SearchSpace:
    """The (shared, stateless) instance of a registered space."""
    return SPACES.get(name)()


def list_spaces(pattern: str = "*") -> list[str]:
    return SPACES.names(pattern)


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
