"""A plain name -> class map, filled by a decorator that reads the class's ``name``.

Each registry lists its built-in modules by name when it is created (one visible place, no directory
scanning) and imports them on first use. So a package's ``__init__`` never imports its own implementations
while it is still initializing, and importing a registry costs nothing until it is read.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar


class Named(Protocol):
    name: str

    @classmethod
    def validate(cls, config: Any) -> list[str]:
        """Problems with ``config`` for this element, each ``"<field>: <message>"``; empty when fine."""
        ...


T = TypeVar("T", bound=type[Any])


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str, builtins: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._builtins = builtins
        self._loaded = not builtins
        self._items: dict[str, T] = {}

    def register(self, cls: T) -> T:
        """Class decorator: ``@ACTIONS.register`` on a class with a ``name``."""
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls.__qualname__} has no 'name' to register it by as a {self.kind}")
        if self._items.get(name, cls) is not cls:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = cls
        return cls

    def _load(self) -> dict[str, T]:
        if not self._loaded:
            self._loaded = True
            for module in self._builtins:
                importlib.import_module(module)
        return self._items

    def get(self, name: str) -> T:
        items = self._load()
        try:
            return items[name]
        except KeyError:
            valid = ", ".join(sorted(items)) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid: {valid}") from None

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._load()))

    def __contains__(self, name: object) -> bool:
        return name in self._load()

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._load().items()))
