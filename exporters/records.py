"""The artefact's records, typed: the manifest (:class:`Manifest`, with its :class:`ParityReport`) and what
``inspect`` finds (:class:`InspectResult`, with an :class:`InspectStatus`). Each is read from its JSON and
written back to the same JSON (:class:`~shieldkit.records.Record`), so ``manifest.json``'s schema is unchanged;
tables and verify read attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from shieldkit.records import Record, TextEnum, _by_name, _optional


@dataclass(frozen=True, kw_only=True)
class ParityFigures(Record):
    """One graph on one provider against the torch model (exporters/parity.py, ``compare_logits``)."""

    n: int = 0
    max_abs_diff: float = 0.0
    mean_abs_diff: float = 0.0
    top1_agreement: float = 1.0
    finite: bool = True
    reference_accuracy: float | None = None
    accuracy: float | None = None
    accuracy_drop: float | None = None
    # the int8 graph's and the file seat's entries also say how and where they were measured
    provider: str | None = None
    mode: str | None = None
    tensor: str | None = None

    def line(self) -> str:
        """The figures in one line (a parity failure lists every provider's)."""
        acc = f", accuracy {self.reference_accuracy:.2f} -> {self.accuracy:.2f}" if self.accuracy is not None else ""
        return (f"max |Δlogit| {self.max_abs_diff:.3g}, top-1 agreement {self.top1_agreement * 100:.2f}%"
                f"{'' if self.finite else ', NON-FINITE logits'}{acc}")


@dataclass(frozen=True, kw_only=True)
class ParityReport(Record):
    """Parity of every checked graph: fp32 per provider, the int8 twin, the graph cut at its pre-head tensor."""

    images: str = ""
    thresholds: dict = field(default_factory=dict)
    fp32: dict[str, ParityFigures] = field(default_factory=dict)
    int8: ParityFigures | None = None
    file_seat: ParityFigures | None = None
    safetensors_bit_identical: bool | None = None

    LOAD: ClassVar = {"fp32": _by_name(ParityFigures.from_dict), "int8": _optional(ParityFigures.from_dict),
                      "file_seat": _optional(ParityFigures.from_dict)}

    def agreement(self, variant: str = "fp32") -> float | None:
        """The graph's top-1 agreement with torch: the int8 twin's, or the worst fp32 provider's."""
        if variant == "int8":
            return self.int8.top1_agreement if self.int8 is not None else None
        return min((f.top1_agreement for f in self.fp32.values()), default=None)

    def by_provider(self) -> str:
        """Every fp32 provider's figures, one per line-part: what a parity failure reports."""
        return "; ".join(f"{provider}: {figures.line()}" for provider, figures in self.fp32.items())


@dataclass(frozen=True, kw_only=True)
class Manifest(Record):
    """``manifest.json``: what the artefact is, how it was exported and checked, and every file's sha256."""

    schema: str = ""
    schema_version: int = 0
    shieldkit_version: str = ""
    created: str = ""
    versions: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    input: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)
    onnx: dict = field(default_factory=dict)
    export_settings: dict = field(default_factory=dict)
    parity: ParityReport = field(default_factory=ParityReport)
    provenance: dict = field(default_factory=dict)
    export_seconds: float | None = None
    files: dict = field(default_factory=dict)
    manifest_sha256: str | None = None

    LOAD: ClassVar = {"parity": ParityReport.from_dict}

    @property
    def head(self) -> str:
        return self.output.get("head") or self.output.get("name") or "logits"

    def pre_head(self, variant: str = "fp32") -> str | None:
        """The tensor the output head reads (what a file holder cuts to), in the fp32 graph or the int8 twin."""
        if variant == "int8":
            return self.parity.int8.extra.get("pre_head") if self.parity.int8 is not None else None
        return self.output.get("pre_head")


class InspectStatus(TextEnum):
    """What ``inspect`` found: a checkpoint, an intact artefact, or one whose files or signature fail."""

    CHECKPOINT = "checkpoint"
    OK = "ok"
    INTEGRITY_FAILED = "integrity failed"
    SIGNATURE_FAILED = "signature failed"


@dataclass(frozen=True, kw_only=True)
class InspectResult(Record):
    """``inspect``'s answer: ``kind`` (artefact or checkpoint), ``path``, and for an artefact its ``integrity`` and
    ``signature`` beside the manifest's own keys (kept in ``extra``, as the JSON has them); :attr:`status` sums
    it up."""

    kind: str = ""
    path: str = ""
    integrity: str | None = None
    signature: Any = None

    @property
    def status(self) -> InspectStatus:
        if self.kind != "artefact":
            return InspectStatus.CHECKPOINT
        if not str(self.integrity).startswith("ok"):
            return InspectStatus.INTEGRITY_FAILED
        if str(self.signature).startswith("FAILED"):
            return InspectStatus.SIGNATURE_FAILED
        return InspectStatus.OK

    @property
    def manifest(self) -> Manifest | None:
        """An artefact's manifest, typed (None for a checkpoint)."""
        return Manifest.from_dict(self.extra) if self.kind == "artefact" else None
