"""The verification report as typed records: what ``verify`` returns and what every output (tables, summary,
JUnit, plot, model card) reads by attribute.

The JSON schema is :data:`~shieldkit.verify.report.REPORT_SCHEMA` (version 3; what changed is listed beside
:data:`~shieldkit.verify.report.REPORT_SCHEMA_VERSION`): a record is read from
a report's JSON by :meth:`VerificationReport.from_dict` and written back by :meth:`~Record.to_dict`, which gives
the same document (keys a record does not model are kept in ``extra``, and keys the document did not have are
not invented), so a report written by an older or newer shieldkit survives the round trip.

One name differs from the JSON on purpose: the report's ``attacks`` section (what ran against the artefact) is
:attr:`VerificationReport.probes`, the word the command line uses (docs/architecture.md, "Glossary").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from shieldkit.errors import InputError
from shieldkit.records import Record, TextEnum, _by_name, _each, _optional

from .report import REPORT_SCHEMA_VERSION


class Verdict(TextEnum):
    """A verification's outcome; compares equal to its JSON string (``Verdict.PASS == "PASS"``)."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True, kw_only=True)
class Check(Record):
    """One threshold applied to one figure: ``value op threshold``; ``seat`` for the per-seat KD-gain check."""

    name: str = ""
    figure: str = ""
    value: float | None = None
    op: str = "<="
    threshold: float = 0.0
    passed: bool = False
    seat: str | None = None

    @property
    def label(self) -> str:
        """The check's name with its seat (``max_kd_gain@file``)."""
        return f"{self.name}@{self.seat}" if self.seat else self.name

    @property
    def violation(self) -> str:
        return f"{self.figure} = {self.value:.4g} violates {self.label} ({self.op} {self.threshold:g})"


@dataclass(frozen=True, kw_only=True)
class SeatFigures(Record):
    """The deciding attacker at one seat: its gain beyond the baseline, with one-sided 95 % bounds."""

    kd_gain: float | None = None
    kd_gain_lower: float | None = None
    kd_gain_upper: float | None = None
    kd_attacker: str | None = None
    baseline: str | None = None
    baseline_accuracy: float | None = None


@dataclass(frozen=True, kw_only=True)
class SeatResult(Record):
    """One seat: who sits there, what it reaches, whether the policy gates it, its figures, checks and verdict."""

    attacker: str = ""
    reached: str = ""
    gated: bool = False
    figures: SeatFigures | None = None
    checks: list[Check] = field(default_factory=list)
    verdict: Verdict | None = None

    LOAD: ClassVar = {"figures": _optional(SeatFigures.from_dict),
                      "checks": _each(Check.from_dict), "verdict": _optional(Verdict)}

    @property
    def kd(self) -> SeatFigures | None:
        """The seat's KD figures; None when the kd probe measured nothing here."""
        return self.figures if self.figures is not None and self.figures.kd_gain is not None else None


@dataclass(frozen=True, kw_only=True)
class StudentResult(Record):
    """One attacker (student) of the KD panel: its test accuracy per seed and their mean."""

    mean: float | None = None
    runs: list[float] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class KDSeatProbe(Record):
    """The KD panel at one seat: every student, the deciding attacker (the student whose gain has the largest
    upper bound; ``best_kd_accuracy`` is its accuracy) and the hard-label baseline."""

    students: dict[str, StudentResult] = field(default_factory=dict)
    deciding_attacker: str | None = None
    best_kd_accuracy: float | None = None
    hard_label_accuracy: float | None = None
    kd_gain: float | None = None
    kd_gain_upper: float | None = None

    LOAD: ClassVar = {"students": _by_name(StudentResult.from_dict)}


@dataclass(frozen=True, kw_only=True)
class DataFreeResult(Record):
    """The data-free probe's figures: the generator-trained student's test accuracy, how the oracle was reached
    (``white-box``/``black-box``), at which seat, and whether the run completed its iterations."""

    student_accuracy: float | None = None
    mode: str | None = None
    seat: str | None = None
    iterations: int | None = None
    stopped: str | None = None
    queries: int | None = None
    seconds: float | None = None
    bn_matching: bool | None = None


@dataclass(frozen=True, kw_only=True)
class ProbeFigures(Record):
    """A probe's figures; the KD probe's per-seat panels are typed (``seats``), the rest kept as they are."""

    seats: dict[str, KDSeatProbe] | None = None

    LOAD: ClassVar = {"seats": _by_name(KDSeatProbe.from_dict)}


@dataclass(frozen=True, kw_only=True)
class ProbeRun(Record):
    """What one probe (``kd``, ``datafree``, ``robustness``) did: its settings, figures, oracle queries, seconds."""

    settings: dict = field(default_factory=dict)
    figures: ProbeFigures = field(default_factory=ProbeFigures)
    queries: int = 0
    seconds: float = 0.0

    LOAD: ClassVar = {"figures": ProbeFigures.from_dict}

    def figure(self, name: str, default: Any = None) -> Any:
        """A figure this record does not type (e.g. the data-free student's ``student_accuracy``)."""
        return self.figures.extra.get(name, default)


@dataclass(frozen=True, kw_only=True)
class Figures(Record):
    """The artefact's own figures (thresholds read them); ``reference`` holds the reference model's."""

    accuracy: float | None = None
    accuracy_drop: float | None = None
    parity_agreement: float | None = None
    recorded_accuracy: float | None = None
    recorded_accuracy_source: str | None = None
    recorded_accuracy_drop: float | None = None
    datafree_accuracy: float | None = None
    reference: dict = field(default_factory=dict)
    matched_reference: dict | None = None


@dataclass(frozen=True, kw_only=True)
class PowerReference(Record):
    """A reference's best attacker: its gain and 95 % lower bound, and whether that clears the margin."""

    attacker: str = ""
    gain: float = 0.0
    lower95: float = 0.0
    shown: bool = False


@dataclass(frozen=True, kw_only=True)
class Power(Record):
    """Whether the probe showed it can detect a gain: on the references, against ``margin``."""

    margin: float = 0.0
    references: dict[str, PowerReference] = field(default_factory=dict)

    LOAD: ClassVar = {"references": _by_name(PowerReference.from_dict)}


@dataclass(frozen=True, kw_only=True)
class VerificationReport(Record):
    """A whole verification: what was probed, on what, with which figures, checks, seats and verdict."""

    schema: str = "shieldkit-verify-report"
    schema_version: int = REPORT_SCHEMA_VERSION
    shieldkit_version: str = ""
    created: str = ""
    artefact: dict = field(default_factory=dict)
    reference: dict | None = None
    matched_reference: dict | None = None
    dataset: dict = field(default_factory=dict)
    budget: str = ""
    policy: str | None = None
    probes: dict[str, ProbeRun] = field(default_factory=dict)
    figures: Figures = field(default_factory=Figures)
    thresholds: dict = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    skipped_checks: dict[str, str] = field(default_factory=dict)
    seats: dict[str, SeatResult] = field(default_factory=dict)
    gated_seats: list[str] = field(default_factory=list)
    assumed: str | None = None
    power: Power | None = None
    verdict: Verdict = Verdict.INCONCLUSIVE
    inconclusive: list[str] = field(default_factory=list)
    seconds: float = 0.0

    KEYS: ClassVar = {"probes": "attacks"}
    LOAD: ClassVar = {"probes": _by_name(ProbeRun.from_dict), "figures": Figures.from_dict,
                      "checks": _each(Check.from_dict), "seats": _by_name(SeatResult.from_dict),
                      "power": _optional(Power.from_dict), "verdict": Verdict}

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def kd_seats(self) -> dict[str, KDSeatProbe]:
        """The KD panel per seat ({} when the kd probe did not run)."""
        kd = self.probes.get("kd")
        return dict(kd.figures.seats or {}) if kd is not None else {}

    @property
    def datafree(self) -> DataFreeResult | None:
        """The data-free probe's figures, typed (None when it did not run)."""
        run = self.probes.get("datafree")
        return DataFreeResult.from_dict({**run.figures.extra, **run.figures.to_dict()}) if run is not None else None

    @property
    def target(self) -> str:
        """What was verified, as a report names it: the artefact's path, else its kind."""
        return self.artefact.get("path", self.artefact.get("kind", "?"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "VerificationReport":
        """A report from its JSON text or from a file holding it."""
        text = Path(text_or_path).read_text() if isinstance(text_or_path, Path) or (
            isinstance(text_or_path, str) and not text_or_path.lstrip().startswith("{")) else text_or_path
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"not a verification report (invalid JSON: {e})") from None
        if not isinstance(data, dict) or data.get("schema") != "shieldkit-verify-report":
            raise InputError("not a shieldkit verification report (no schema 'shieldkit-verify-report')")
        return cls.from_dict(data)


def as_report(report: "VerificationReport | dict") -> VerificationReport:
    """``report`` typed: a :class:`VerificationReport` as it is, a report's JSON dict read into one."""
    return report if isinstance(report, VerificationReport) else VerificationReport.from_dict(report)


__all__ = ["Check", "Figures", "KDSeatProbe", "Power", "PowerReference", "ProbeFigures", "ProbeRun", "Record",
           "SeatFigures", "SeatResult", "StudentResult", "Verdict", "VerificationReport", "as_report"]
