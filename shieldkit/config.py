"""Config files, read strictly: one reader for the verify policy and for ``train``/``protect``/``harden --config``.

A run config is either a TOML file of option names (``epochs = 10``; dashes or underscores; optionally under a
``[train]``/``[protect]``/``[harden]`` table) or the JSON sidecar a run wrote beside its checkpoint, whose
``settings.options`` are that run's own arguments: ``shieldkit train --config model.json --out again.pt`` repeats
it. Unknown keys are an error, as is a sidecar of another command; options given on the command line win.
A former option name (:mod:`shieldkit.former_names`) is read as its current one, with a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from .errors import InputError
from .former_names import current_keywords, note
from .utils import read_json

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

COMMANDS = ("train", "protect", "harden")
# settings groups a run records as one object (``"rml": {"tau": 2.0}``) and the command line spells as flags
GROUPED_OPTIONS = {"protect": ("rml",)}


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The TOML document at ``path`` (``what`` names it in errors: "policy file", "config file")."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path} is not valid TOML ({e})") from None


def check_keys(table: dict, valid: Iterable[str], where: str, what: str = "key") -> None:
    """Every key of ``table`` must be in ``valid``; else one line listing the unknown and the valid ones."""
    valid = list(valid)
    unknown = sorted(set(table) - set(valid))
    if unknown:
        raise InputError(f"{where}: unknown {what}(s) {', '.join(map(str, unknown))}; valid: {', '.join(valid)}")


# what a protect sidecar written before the settings groups recorded whatever the method: its defaults then
_EITHER_METHOD = {"rml": {"omega": 0.04}, "nasty": {"use_labels": True, "adv_weight": 1.0, "recipe": "uniform",
                                                     "adversarial_steps": 0, "steps": 0}}


def _one_methods_settings(options: dict[str, Any]) -> dict[str, Any]:
    """A protect sidecar's options without the other method's settings at their defaults, which sidecars once
    recorded for every method (``omega`` for RML, ``use_labels`` for Nasty): the flags refuse them now."""
    method = options.get("method") or "rml"
    drop = _EITHER_METHOD.get("nasty" if method == "nasty" else "rml", {})
    return {k: v for k, v in options.items() if not (k in drop and v == drop[k])}


def load_run_config(path: str | Path, command: str, valid: Iterable[str]) -> dict[str, Any]:
    """The options a config file sets for ``command`` (names as the library spells them), checked against
    ``valid``; a sidecar JSON (``settings.options``) of a ``command`` run, or a TOML file."""
    path = Path(path)
    if path.suffix == ".json":
        if not path.is_file():
            raise InputError(f"config file not found: {path}")
        sidecar = read_json(path)
        settings = sidecar.get("settings") if isinstance(sidecar, dict) else None
        if not isinstance(settings, dict) or not isinstance(settings.get("options"), dict):
            raise InputError(f"{path} is not the settings file of a shieldkit run (no settings.options): give the "
                             f".json written beside a checkpoint, or a TOML file")
        if settings.get("command") != command:
            raise InputError(f"{path} holds the settings of a `{settings.get('command')}` run, not of `{command}`")
        options = dict(settings["options"])
    else:
        raw = read_toml(path, "config file")
        options = raw[command] if isinstance(raw.get(command), dict) and len(raw) == 1 else raw
        others = [c for c in COMMANDS if c != command and isinstance(options.get(c), dict)]
        if others:
            raise InputError(f"{path} configures `{others[0]}`, not `{command}`")
        options = {str(k).replace("-", "_"): v for k, v in options.items()}
    for group in GROUPED_OPTIONS.get(command, ()):
        if isinstance(options.get(group), dict):
            options.update(options.pop(group))
    if command == "protect":
        options = _one_methods_settings(options)
    options = current_keywords(command, options, say=lambda former, current: note(f"{former} (in {path})", current))
    check_keys(options, valid, str(path), "option")
    return options
