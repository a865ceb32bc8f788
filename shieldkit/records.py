"""Typed JSON records: a frozen dataclass read from a JSON object and written back to the same object.

:class:`Record` is the base of every typed result shieldkit returns beside its JSON (the verification report,
verify/results.py; the artefact manifest and ``inspect``'s answer, exporters/records.py; a training run's figures,
shieldkit/runs.py): outputs read attributes, while the JSON keeps its schema, round trip exact (keys a record does
not model are kept in ``extra``; keys the document did not have are not invented).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Callable, ClassVar

from .errors import InputError


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _each(load: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda values: None if values is None else [load(v) for v in values]


class TextEnum(str, Enum):
    """An enum whose members are their JSON strings: equal to them, and printed as them (``enum.StrEnum`` from
    Python 3.11 on; the project still supports 3.10)."""

    def __str__(self) -> str:
        return self.value


def _by_name(load: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda values: None if values is None else {k: load(v) for k, v in values.items()}


def _optional(load: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else load(value)


@dataclass(frozen=True, kw_only=True)
class Record:
    """A typed JSON object. Subclasses declare their fields (all defaulted); ``LOAD`` converts a field's JSON value
    into its type, ``KEYS`` maps a field to a JSON key of another name."""

    extra: dict = field(default_factory=dict, repr=False)  # JSON keys this record does not model, kept as they are
    absent: frozenset = field(default=frozenset(), repr=False)  # fields the JSON did not have (not written back)

    LOAD: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    KEYS: ClassVar[dict[str, str]] = {}

    @classmethod
    def _names(cls) -> dict[str, str]:
        return {f.name: cls.KEYS.get(f.name, f.name) for f in fields(cls) if f.name not in ("extra", "absent")}

    @classmethod
    def from_dict(cls, data: dict):
        if not isinstance(data, dict):
            raise InputError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        names = cls._names()
        values = {n: cls.LOAD.get(n, lambda v: v)(data[k]) for n, k in names.items() if k in data}
        keys = set(names.values())
        return cls(**values, extra={k: v for k, v in data.items() if k not in keys},
                   absent=frozenset(n for n, k in names.items() if k not in data))

    def to_dict(self) -> dict:
        out = {k: _plain(getattr(self, n)) for n, k in self._names().items() if n not in self.absent}
        out.update(self.extra)
        return out


