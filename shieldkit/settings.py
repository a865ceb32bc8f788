"""Settings declared once: a dataclass field that carries its default, its help text and its bounds.

A method's settings are a frozen dataclass whose fields are :func:`setting`\\ s; :func:`check_settings` validates an
instance against the bounds (one ``InputError`` line naming the command-line option), the command line derives
each option's name, default and help from the field, and a run records the instance with ``asdict``. So a
hyper-parameter such as RML's ``tau`` is written once, in its dataclass, between the flag and the loss.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

from .errors import InputError
from .former_names import option


def setting(default: Any, help: str, *, minimum: float | None = None, above: float | None = None,
            choices: Sequence[str] | None = None, flag: str | None = None) -> Any:
    """A dataclass field: ``default``, the ``help`` the command line shows, and its bounds (``minimum`` ≤ value,
    ``above`` < value, finite; or one of ``choices``). ``flag`` spells an on/off option the command line's way
    (``"--labels/--no-labels"``) where its name would read badly."""
    return dataclasses.field(default=default, metadata={"help": help, "minimum": minimum, "above": above,
                                                        "choices": tuple(choices) if choices else None,
                                                        "flag": flag})


def check_settings(obj: Any) -> None:
    """Every field of the dataclass ``obj`` within the bounds its :func:`setting` declares."""
    for f in dataclasses.fields(obj):
        value, meta = getattr(obj, f.name), f.metadata
        if not meta or (value is None and f.default is None):  # None: "not given", where the default is None
            continue
        if meta.get("choices") and value not in meta["choices"]:
            raise InputError(f"{option(f.name)} must be one of {', '.join(meta['choices'])}, got {value!r}")
        low, strict = (meta["above"], True) if meta.get("above") is not None else (meta.get("minimum"), False)
        if low is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
                (value <= low if strict else value < low):
            bound = ("a positive number" if low == 0 else f"a finite number > {low:g}") if strict else \
                f"a number >= {low:g}"
            raise InputError(f"{option(f.name)} must be {bound}, got {value!r}")


def as_settings(cls: type, value: Any, where: str) -> Any:
    """``value`` as a ``cls`` settings object: an instance as it is, ``None`` for the defaults, a mapping field by
    field (an unknown name is one error line naming ``where``, e.g. ``run=``)."""
    if isinstance(value, cls):
        return value
    if value is None:
        return cls()
    if not isinstance(value, dict):
        raise InputError(f"{where} takes a {cls.__name__} or a mapping of its fields, not {type(value).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise InputError(f"unknown {where} field(s) {', '.join(unknown)}; valid: {', '.join(names)}")
    return cls(**value)


def with_overrides(settings: Any, overrides: dict[str, Any] | None, where: str = "settings") -> Any:
    """``settings`` with every override that is not None applied (an unknown name is one error line)."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    names = [f.name for f in dataclasses.fields(settings)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise InputError(f"unknown {where} {', '.join(unknown)}; valid: {', '.join(names)}")
    return dataclasses.replace(settings, **overrides)
