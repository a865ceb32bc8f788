"""A name -> object registry, one per extension point (models, methods per command, ...).

One canonical name per entry, optionally with aliases (older spellings that keep working but are not
listed as choices). Registering a name twice raises :class:`~shieldkit.errors.DuplicateNameError`;
looking up an unknown name raises :class:`~shieldkit.errors.UnknownNameError` listing the valid ones.
"""

from __future__ import annotations

from typing import Callable, Dict, Generic, Iterator, Sequence, TypeVar

from .errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: Dict[str, T] = {}
        self._aliases: Dict[str, str] = {}

    def register(self, name: str | None = None, *, aliases: Sequence[str] = ()) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name or getattr(obj, "__name__"), obj, aliases=aliases)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, aliases: Sequence[str] = ()) -> None:
        for key in (name, *aliases):
            if key in self._items or key in self._aliases:
                raise DuplicateNameError(f"{self.kind} {key!r} is already registered")
        self._items[name] = obj
        self._aliases.update({alias: name for alias in aliases})

    def remove(self, name: str) -> None:
        """Forget ``name`` and its aliases (a plugin unloading, or a test cleaning up)."""
        name = self.canonical(name)
        del self._items[name]
        self._aliases = {a: n for a, n in self._aliases.items() if n != name}

    def canonical(self, name: str) -> str:
        """``name`` itself, or the entry an alias stands for; :class:`UnknownNameError` otherwise."""
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise UnknownNameError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}")

    def get(self, name: str) -> T:
        return self._items[self.canonical(name)]

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self, *, registration_order: bool = False) -> list[str]:
        """The canonical names, sorted (or in the order they were registered)."""
        return list(self._items) if registration_order else sorted(self._items)
