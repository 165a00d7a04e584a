"""Decorator registries, one per kind (spaces, targets, strategies, ...), as timm does for
models: adding an entry touches only the file that defines it."""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from hwnas.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to entries. `builtin_modules` are imported on first use so that the
    built-in entries register themselves without import-time side effects elsewhere."""

    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._builtin_modules = builtin_modules
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@registry.register("nb201")`."""

        def decorator(entry: T) -> T:
            self.add(name, entry)
            return entry

        return decorator

    def register_class(self, name: str) -> Callable[[T], T]:
        """Decorator for a class entry that also sets `cls.name`, so that its instances know
        the name they were chosen by (ledger rows, provenance, error messages). The plugin
        packages publish it as their `register_x`; `get` and `names` as `get_x`, `list_x`."""

        def decorator(cls: T) -> T:
            cls.name = name  # type: ignore[attr-defined]  # T is any class
            return self.register(name)(cls)

        return decorator

    def add(self, name: str, entry: T) -> None:
        if not name or name != name.strip():
            raise ValueError(f"invalid {self.kind} name {name!r}")
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._builtin_modules:
                importlib.import_module(module)

    def get(self, name: str) -> T:
        self._load_builtins()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style pattern, sorted."""
        self._load_builtins()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._entries[n]) for n in self.names()]
