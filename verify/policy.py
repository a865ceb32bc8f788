"""Release policies: the thresholds a verdict checks, from flags or a TOML file.

```toml
# release.toml
budget = "quick"              # optional: quick | standard | full
seeds = [0, 1, 2]             # optional: seeds of every student
probes = ["kd", "datafree"]   # optional (`attacks`, its former name, is read too)
seats = ["file", "answer"]    # optional, the default: the seats whose KD gain is gated (docs/verification.md);
                              # ["answer"] only for a model whose files never leave a server

[kd]                          # optional: replaces fields of the budget's KD-probe settings
epochs = 40
attacker_fraction = 0.1
baseline = "decisions"        # the default: gains beyond the labels and the model's own top-1 decisions;
                              # "labels": beyond the labels only (a knockoff must not beat a label-smoothing student)

[datafree]                    # optional: the same for the data-free attack
iterations = 500

[thresholds]
max_kd_gain = 0.5             # points: worst attacker's gain over the baseline students (95 % upper bound), per seat
max_datafree_accuracy = 30.0  # %: data-free student's test accuracy
max_datafree_ratio = 0.8      # data-free student from the model / from --reference
max_accuracy_drop = 1.0       # points: --reference accuracy − model accuracy
max_recorded_accuracy_drop = 3.0  # points: accuracy recorded with the model (before protection) − measured
min_accuracy = 90.0           # %: the model's own test accuracy
min_parity_agreement = 0.999  # top-1 agreement torch vs ONNX Runtime, from the manifest
min_pgd20 = 40.0              # %: robust accuracy under PGD-20 (also min_fgsm, min_cw, min_autoattack,
                              #    min_square); setting one adds the robustness probe

[robustness]                  # optional: fields of shieldkit.robustness.RobustnessConfig
n = 1000
eps = 0.03137
```

Unknown keys are an error (a typo must not silently drop a threshold).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

from shieldkit.config import check_keys, read_toml
from shieldkit.errors import InputError
from shieldkit.former_names import current_keywords, note
from shieldkit.robustness import RobustnessConfig

from .probes import probe_order
from .budgets import budget_configs
from .seats import check_seats

DEFAULT_MAX_KD_GAIN = 0.5
# points the measured accuracy may lie below the accuracy the model's own record carries (before protection, for
# a protected model). protect's measured cost is well below it (benchmarks/results/seats_cifar10.json); 3 points
# flags a model that lost its accuracy (which would make it trivially "undistillable"), not evaluation noise.
DEFAULT_MAX_RECORDED_DROP = 3.0
ROBUSTNESS_THRESHOLDS = {"min_fgsm": "fgsm", "min_pgd20": "pgd20", "min_cw": "cw", "min_autoattack": "autoattack",
                         "min_square": "square"}


@dataclass
class Thresholds:
    """``None`` means "not checked". The default checks KD gain (0.5-point margin on the worst attacker's 95 %
    upper bound, docs/verification.md) and accuracy: at most 3 points below the accuracy recorded with the model
    (its original accuracy, for a protected one), when the run's data is the data it was recorded on."""

    max_kd_gain: float | None = DEFAULT_MAX_KD_GAIN
    max_recorded_accuracy_drop: float | None = DEFAULT_MAX_RECORDED_DROP
    max_datafree_accuracy: float | None = None
    max_datafree_ratio: float | None = None
    max_accuracy_drop: float | None = None
    min_accuracy: float | None = None
    min_parity_agreement: float | None = None
    min_fgsm: float | None = None
    min_pgd20: float | None = None
    min_cw: float | None = None
    min_autoattack: float | None = None
    min_square: float | None = None

    def robustness_attacks(self) -> list[str]:
        """The robustness attacks the set thresholds read."""
        return [a for k, a in ROBUSTNESS_THRESHOLDS.items() if getattr(self, k) is not None]

    def to_dict(self) -> dict:
        return asdict(self)

    def needs_reference(self) -> list[str]:
        return [n for n in ("max_datafree_ratio", "max_accuracy_drop") if getattr(self, n) is not None]

    def validate(self, source: str | None = None) -> "Thresholds":
        """Refuse thresholds no run could meet or that mean nothing (NaN, an accuracy above 100 %)."""
        where = f"{source}: " if source else ""
        for name, value in asdict(self).items():
            if value is None:
                continue
            if not math.isfinite(value):
                raise InputError(f"{where}threshold {name} must be a finite number, got {value}")
            if name == "min_parity_agreement" and not 0.0 <= value <= 1.0:
                raise InputError(f"{where}min_parity_agreement is a fraction in [0, 1], got {value}")
            if (name.startswith("min_") and name != "min_parity_agreement" or name == "max_datafree_accuracy") \
                    and not 0.0 <= value <= 100.0:
                raise InputError(f"{where}threshold {name} is an accuracy in [0, 100] %, got {value}")
        return self

    def needs_datafree(self) -> bool:
        return self.max_datafree_accuracy is not None or self.max_datafree_ratio is not None


@dataclass
class Policy:
    thresholds: Thresholds
    budget: str | None = None
    seeds: list[int] | None = None
    probes: list[str] | None = None
    source: str | None = None
    kd: dict = field(default_factory=dict)
    datafree: dict = field(default_factory=dict)
    robustness: dict = field(default_factory=dict)
    seats: tuple[str, ...] | None = None  # None: both (seats.DEFAULT_SEATS)


THRESHOLD_KEYS = tuple(f.name for f in fields(Thresholds))
TOP_KEYS = ("budget", "seeds", "probes", "seats", "thresholds", "kd", "datafree", "robustness")
# thresholds checked once per gated seat (the others read figures of the model as a whole)
SEAT_THRESHOLDS = ("max_kd_gain",)


def load_policy(path: str | Path | None) -> Policy:
    """Read a TOML policy (``None``: the default policy)."""
    if path is None:
        return Policy(Thresholds())
    path = Path(path)
    raw = current_keywords("verify", read_toml(path, "policy file"),
                           say=lambda former, current: note(f"{former} (in {path})", current))
    check_keys(raw, TOP_KEYS, str(path))
    table = raw.get("thresholds", {})
    if not isinstance(table, dict):
        raise InputError(f"{path}: [thresholds] must be a table")
    check_keys(table, THRESHOLD_KEYS, str(path), "threshold")
    for k, v in table.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(f"{path}: threshold {k} must be a number, got {v!r}")
    thresholds = Thresholds(**{k: None for k in THRESHOLD_KEYS})  # a file states every threshold it wants
    for k, v in table.items():
        setattr(thresholds, k, float(v))
    thresholds.validate(str(path))
    probes = raw.get("probes")
    if probes is not None:
        try:
            probe_order(probes)
        except InputError as e:
            raise InputError(f"{path}: {e}") from None
    seeds = raw.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds) or not seeds):
        raise InputError(f"{path}: seeds must be a non-empty list of integers")
    sections = {}
    for name in ("kd", "datafree", "robustness"):
        section = raw.get(name, {})
        if not isinstance(section, dict):
            raise InputError(f"{path}: [{name}] must be a table")
        sections[name] = section
    seats = raw.get("seats")
    if seats is not None:
        if not isinstance(seats, list) or not all(isinstance(x, str) for x in seats):
            raise InputError(f"{path}: seats must be a list of seat names, e.g. [\"file\", \"answer\"]")
        seats = check_seats(seats, f"{path}: seats")
    policy = Policy(thresholds, raw.get("budget"), seeds, probes, str(path), sections["kd"], sections["datafree"],
                    sections["robustness"], seats)
    apply_sections(policy, *budget_configs(policy.budget or "quick"))  # validate the sections now, not mid-run
    robustness_config(policy)
    return policy


def apply_sections(policy: Policy, kd_cfg, df_cfg):
    """The budget's KD/data-free settings with the policy's ``[kd]``/``[datafree]`` fields replaced."""
    out = []
    for name, cfg, section in (("kd", kd_cfg, policy.kd), ("datafree", df_cfg, policy.datafree)):
        check_keys(section, sorted(f.name for f in fields(cfg)), str(policy.source), f"[{name}] key")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
        for k, v in values.items():
            _check_type(policy.source, name, k, v, getattr(cfg, k))
        try:
            out.append(replace(cfg, **values))
        except (TypeError, ValueError) as e:
            raise InputError(f"{policy.source}: bad [{name}] settings ({e})") from None
    return tuple(out)


def _check_type(source, section: str, key: str, value, default) -> None:
    """A policy value must have the type of the setting it replaces: ``epochs = "ten"`` is refused here, not
    deep inside a training loop."""
    def kind(v):
        if isinstance(v, bool):
            return "a boolean (true/false)"
        if isinstance(v, int):
            return "an integer"
        if isinstance(v, float):
            return "a number"
        if isinstance(v, str):
            return "a string"
        if isinstance(v, tuple):
            return "a list"
        return None

    want = kind(default)
    if want is None or value is None:
        return
    ok = kind(value) == want or (want == "a number" and kind(value) == "an integer")
    if isinstance(default, tuple) and isinstance(value, tuple) and default:
        inner = kind(default[0])
        ok = ok and all(kind(v) == inner or (inner == "a number" and kind(v) == "an integer") for v in value)
        want = f"a list of {inner.split(' ', 1)[1]}s"
    if not ok:
        raise InputError(f"{source}: [{section}] {key} must be {want}, got {value!r}")


def robustness_config(policy: Policy):
    """The robustness evaluation a policy asks for: its ``[robustness]`` section, with the attacks its
    thresholds read added (clean always included)."""
    section = dict(policy.robustness)
    check_keys(section, sorted(f.name for f in fields(RobustnessConfig)), str(policy.source), "[robustness] key")
    attacks = list(section.pop("attacks", ["clean"]))
    attacks += [a for a in ["clean", *policy.thresholds.robustness_attacks()] if a not in attacks]
    try:
        return RobustnessConfig(attacks=tuple(attacks), **section)
    except (TypeError, InputError) as e:
        raise InputError(f"{policy.source}: bad [robustness] settings ({e})") from None


def with_overrides(policy: Policy, **overrides: float | None) -> Policy:
    """Command-line thresholds (not None) replace the policy's."""
    for k, v in overrides.items():
        if k not in THRESHOLD_KEYS:
            raise InputError(f"unknown threshold {k!r}; valid: {', '.join(THRESHOLD_KEYS)}")
        if v is not None:
            setattr(policy.thresholds, k, float(v))
    policy.thresholds.validate()
    return policy


def as_policy(policy: str | Path | Policy | Mapping[str, float | None] | None) -> Policy:
    """The policy a run applies: a :class:`Policy`, a TOML file, or a mapping of thresholds that override the
    default policy's (``{"max_kd_gain": 1.0}``); None: the default policy. A file's thresholds with some of them
    replaced: ``with_overrides(load_policy(path), max_kd_gain=1.0)``."""
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, Mapping):
        return with_overrides(load_policy(None), **policy)
    return load_policy(policy)
