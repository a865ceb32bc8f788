"""The verification report's JSON schema and the checks that make a verdict (the typed report: results.py)."""

from __future__ import annotations

from typing import Any

from shieldkit.errors import InputError

# 2: per-seat results (``seats``, ``gated_seats``, ``assumed``), the probe's ``power``, checks carry their ``seat``,
#    attacks.kd.figures holds one probe per seat (``seats``); the default KD baseline is ``decisions``
# 3: a KD panel names its deciding attacker once (``deciding_attacker``; the duplicate ``best_kd`` is gone);
#    a schema-2 report still loads (verify/results.py keeps the unknown field)
REPORT_SCHEMA_VERSION = 3

_NUMBER_OR_NULL = {"type": ["number", "null"]}
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "shieldkit verification report",
    "type": "object",
    "required": ["schema", "schema_version", "shieldkit_version", "created", "artefact", "reference", "dataset",
                 "budget", "attacks", "figures", "thresholds", "checks", "seats", "gated_seats", "verdict",
                 "seconds"],
    "properties": {
        "schema": {"const": "shieldkit-verify-report"},
        "schema_version": {"const": REPORT_SCHEMA_VERSION},
        "shieldkit_version": {"type": "string"},
        "created": {"type": "string"},
        "artefact": {"type": "object", "required": ["kind", "sha256"],
                     "properties": {"kind": {"type": "string"}, "sha256": {"type": "object"},
                                    "signature": {"type": ["object", "null"]}}},
        "reference": {"type": ["object", "null"]},
        "dataset": {"type": "object", "required": ["name", "num_classes"]},
        "budget": {"type": "string"},
        "policy": {"type": ["string", "null"]},
        "attacks": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["settings", "figures", "queries", "seconds"],
                "properties": {"settings": {"type": "object"}, "figures": {"type": "object"},
                               "queries": {"type": "integer", "minimum": 0}, "seconds": {"type": "number"}},
            },
        },
        "figures": {"type": "object", "required": ["accuracy"],
                    "properties": {"accuracy": {"type": "number"}, "kd_gain": _NUMBER_OR_NULL}},
        "thresholds": {"type": "object", "additionalProperties": _NUMBER_OR_NULL},
        "checks": {
            "type": "array",
            "items": {"type": "object", "required": ["name", "value", "op", "threshold", "passed"],
                      "properties": {"name": {"type": "string"}, "value": {"type": ["number", "null"]},
                                     "op": {"enum": ["<=", ">="]}, "threshold": {"type": "number"},
                                     "passed": {"type": "boolean"}}},
        },
        "verdict": {"enum": ["PASS", "FAIL", "INCONCLUSIVE"]},
        "inconclusive": {"type": "array", "items": {"type": "string"}},
        "skipped_checks": {"type": "object", "additionalProperties": {"type": "string"}},
        "seats": {"type": "object", "required": ["answer", "file"],
                  "additionalProperties": {"type": "object", "required": ["attacker", "reached", "gated", "figures",
                                                                          "checks", "verdict"],
                                           "properties": {"gated": {"type": "boolean"},
                                                          "verdict": {"enum": ["PASS", "FAIL", "INCONCLUSIVE", None]}}}},
        "gated_seats": {"type": "array", "items": {"enum": ["answer", "file"]}, "minItems": 1},
        "assumed": {"type": ["string", "null"]},
        "power": {"type": ["object", "null"]},
        "seconds": {"type": "number"},
    },
}

# threshold name -> (figure it reads, comparison)
CHECKS = {
    "max_kd_gain": ("kd_gain_upper", "<="),  # the one-sided 95 % upper bound of the worst attacker's gain
    "max_datafree_accuracy": ("datafree_accuracy", "<="),
    "max_datafree_ratio": ("datafree_ratio", "<="),
    "max_accuracy_drop": ("accuracy_drop", "<="),
    "max_recorded_accuracy_drop": ("recorded_accuracy_drop", "<="),
    "min_accuracy": ("accuracy", ">="),
    "min_parity_agreement": ("parity_agreement", ">="),
    "min_fgsm": ("fgsm_accuracy", ">="),
    "min_pgd20": ("pgd20_accuracy", ">="),
    "min_cw": ("cw_accuracy", ">="),
    "min_autoattack": ("autoattack_accuracy", ">="),
    "min_square": ("square_accuracy", ">="),
}


def evaluate_checks(figures: dict, thresholds: dict) -> list[dict]:
    """One entry per threshold that is set: value, op, threshold, passed."""
    checks = []
    for name, threshold in thresholds.items():
        if threshold is None:
            continue
        figure, op = CHECKS[name]
        value = figures.get(figure)
        if value is None:
            raise InputError(f"threshold {name} needs the figure {figure!r}, which this run did not measure")
        passed = value <= threshold if op == "<=" else value >= threshold
        checks.append({"name": name, "figure": figure, "value": float(value), "op": op, "threshold": float(threshold),
                       "passed": bool(passed)})
    return checks

