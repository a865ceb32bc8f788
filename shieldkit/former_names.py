"""Former names of options, accepted for one release: on the command line, in config files and run sidecars,
and as keywords of the library call. They are hidden from ``--help``; each use prints one note naming the
current name.

Every command names a concept the same way (docs/architecture.md, "Glossary"):

- ``steps`` / ``step_size``: the PGD attack's steps and step size (were ``attack_steps``/``attack_step_size`` on
  ``train``/``protect``/``harden`` and ``pgd_steps`` on ``evaluate``);
- ``n``: how many test images a figure is measured on (was ``parity_n`` on ``export``, ``eval_n`` on ``harden``);
- ``batch_size``: images per batch, or the exported graph's batch dimension (was ``batch`` on ``export``);
- ``head``: the output head (was ``outputs``); ``negatives``: the RML negatives' target (was ``reverse``);
- ``probes``: what ``verify`` runs against an artefact (``kd``, ``datafree``, ``robustness``; was ``attacks``,
  a word kept for perturbations of inputs).
"""

from __future__ import annotations

import functools
import sys
import warnings
from typing import Any, Callable

from .errors import InputError

# command -> {former keyword: current keyword}; the CLI spells both with dashes
FORMER_NAMES: dict[str, dict[str, str]] = {
    "train": {"attack_steps": "steps", "attack_step_size": "step_size"},
    "protect": {"attack_step_size": "step_size", "adversarial_steps": "steps", "reverse": "negatives",
                "outputs": "head"},
    "harden": {"attack_steps": "steps", "attack_step_size": "step_size", "eval_n": "n"},
    "evaluate": {"pgd_steps": "steps"},
    "export": {"batch": "batch_size", "parity_n": "n", "outputs": "head"},
    "verify": {"attacks": "probes"},
}

# the settings groups the library's training entry points take (shieldkit/run_settings.py): flat keyword -> field
_RUN = ("epochs", "batch_size", "lr", "weight_decay", "schedule", "seed", "device", "compile", "precision", "loader",
        "workers", "resume", "progress")
_INPUTS = ("data_dir", "download", "image_size", "resize", "center_crop", "augment")
_SOURCE = ("arch", "num_classes", "trust_pickle", "mean", "std")
_ATTACK = ("eps", "steps", "step_size")
_RML = ("recipe", "alpha", "beta", "tau", "negatives", "confidence", "ce_weight", "flatness", "use_labels",
        "adv_weight", "omega")


def _into(group: str, names: tuple[str, ...]) -> dict[str, str]:
    return {name: f"{group}.{name}" for name in names}


# library keywords only (the command line keeps these flags): command -> {former keyword: "group.field"}
FORMER_KEYWORDS: dict[str, dict[str, str]] = {
    "train": {**_into("run", _RUN), **_into("inputs", _INPUTS + ("data_fraction",)),
              **_into("settings", ("label_smoothing", "trades_beta")), **_into("settings.attack", _ATTACK)},
    "protect": {**_into("run", _RUN), **_into("inputs", _INPUTS), **_into("source", _SOURCE),
                "rml": "settings", **_into("settings", _RML), "reverse": "settings.negatives",
                **_into("settings.attack", _ATTACK)},
    "export": {**_into("graph", ("opset", "batch_size", "input_format", "input_shape", "head", "decision_confidence",
                                 "with_weights", "quantize", "calibration_n")),
               **_into("parity", ("n", "providers", "max_abs_diff", "min_agreement", "seed")),
               **_into("inputs", ("data_dir", "image_size", "resize", "center_crop")), **_into("source", _SOURCE)},
    "evaluate": {**_into("settings", ("attacks", "n", "eps", "step_size", "cw_steps", "square_queries", "batch_size",
                                      "seed", "device")), "steps": "settings.pgd_steps",
                 **_into("runtime", ("providers", "variant", "trust_pickle")),
                 **_into("inputs", ("data_dir", "download", "image_size", "resize", "center_crop"))},
    "verify": {**_into("probe", ("budget", "probes", "seeds", "epochs", "seats", "query_budget", "precision",
                                 "kd_config", "datafree_config", "memo", "progress")),
               **_into("runtime", ("providers", "variant", "trust_pickle", "public_key", "certificate_chain")),
               **_into("inputs", ("data_dir", "image_size", "resize", "center_crop")),
               **_into("outputs", ("report", "summary", "junit", "plot", "model_card"))},
    "harden": {**_into("run", _RUN + ("n",)), **_into("inputs", _INPUTS + ("data_fraction",)),
               **_into("source", _SOURCE),
               **_into("settings", ("levels", "lambdas", "gamma", "inner", "base", "goldblum_alpha", "goldblum_tau")),
               **_into("settings.attack", _ATTACK)},
}


def option(name: str) -> str:
    """A keyword as the command line spells it: ``step_size`` -> ``--step-size``."""
    return "--" + name.replace("_", "-")


def note(former: str, current: str) -> None:
    """The command line's note on a former name: one line on stderr."""
    print(f"note: {former} is now {current}; the former name will be removed in a later release", file=sys.stderr)


def warn(former: str, current: str) -> None:
    """The library's note on a former keyword: a FutureWarning (shown by default)."""
    warnings.warn(f"{former}= is now {current}=; the former name will be removed in a later release",
                  FutureWarning, stacklevel=4)


def current_keywords(command: str, values: dict[str, Any], spell: Callable[[str], str] = str,
                     say: Callable[[str, str], None] = warn, renames: dict[str, str] | None = None) -> dict[str, Any]:
    """``values`` with every former name of ``command`` (``renames``, default :data:`FORMER_NAMES`) replaced by its
    current one, each use told by ``say``. Giving both names with different values is an error (``spell`` writes a
    name as the user wrote it)."""
    renames = FORMER_NAMES.get(command, {}) if renames is None else renames
    out = {k: v for k, v in values.items() if k not in renames}
    for former, current in renames.items():
        if former not in values:
            continue
        say(spell(former), spell(current))
        value = values[former]
        if "." in current:  # a keyword that moved into a settings group: epochs= -> run={"epochs": ...}
            _set_in_group(out, former, current.split("."), value)
            continue
        if current in out and out[current] is not None and value is not None and out[current] != value:
            raise InputError(f"{spell(current)} {out[current]} and {spell(former)} {value} disagree "
                             f"({spell(former)} is the former name of {spell(current)})")
        if out.get(current) is None:
            out[current] = value
    return out


def _set_in_group(out: dict[str, Any], former: str, path: list[str], value: Any) -> None:
    """``out[path[0]][path[1]]… = value``, each group a mapping (one made where none was given)."""
    group = out
    for depth, name in enumerate(path[:-1]):
        if group.get(name) is None:
            group[name] = {}
        elif not isinstance(group[name], dict):
            raise InputError(f"give {former}= inside {'.'.join(path[:depth + 1])}= (a settings object), not beside "
                             f"it")
        else:
            group[name] = dict(group[name])
        group = group[name]
    group[path[-1]] = value


def accepts_former_names(command: str):
    """A library entry point that also takes ``command``'s former keywords (:data:`FORMER_NAMES`)."""
    def decorate(fn):
        renames, moves = FORMER_NAMES.get(command, {}), FORMER_KEYWORDS.get(command, {})

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if renames.keys() & kwargs.keys():
                kwargs = current_keywords(command, kwargs, renames=renames)
            if moves.keys() & kwargs.keys():
                kwargs = current_keywords(command, kwargs, renames=moves)
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def current_arguments(command: str, args: list[str]) -> list[str]:
    """Command-line ``args`` with ``command``'s former option names (``--attack-steps 3``, ``--batch=8``) spelt
    the current way; what follows ``--`` is left alone."""
    renames = {option(k): option(v) for k, v in FORMER_NAMES.get(command, {}).items()}
    if not renames:
        return list(args)
    out, literal = [], False
    for arg in args:
        name, eq, value = arg.partition("=")
        if not literal and name in renames:
            note(name, renames[name])
            arg = renames[name] + eq + value
        literal = literal or arg == "--"
        out.append(arg)
    return out
