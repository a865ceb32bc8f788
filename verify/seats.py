"""Seats: where the attacker sits, and the logits each seat reaches (docs/verification.md).

- ``answer``: the graph's output as shipped, what a client of a served model sees (the artefact's oracle,
  with its query budget);
- ``file``: the strongest logits anyone holding the artefact's files reaches. An exported graph is cut just
  below its output head (:mod:`shieldkit.exporters.graph_cut`, one ``onnx.utils.extract_model`` call, found the
  way an attacker reading the graph finds it), and any network file shipped beside it (``model.safetensors``)
  holds the same network (export checks that the cut graph reproduces it). A file holder runs the graph
  locally, so this seat has no query budget. For a torch module behind an
  :class:`~shieldkit.output_heads.OutputHead` the seat is the wrapped module.

A model without a head answers with its logits: its ``file`` seat *is* its ``answer`` seat (``same_as``), and
the probe runs once. The verdict gates the seats a policy names (default both: artefacts go to devices).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from shieldkit.errors import InputError
from shieldkit.exporters.graph_cut import cut_session, pre_head_tensor
from shieldkit.exporters.records import Manifest
from shieldkit.exporters.runtime import VARIANTS, make_session
from shieldkit.output_heads import OutputHead

from .oracle import OnnxOracle, Oracle, TorchOracle

SEATS = ("answer", "file")  # measurement order: the file seat may be the answer seat
DEFAULT_SEATS = ("file", "answer")
ATTACKER = {
    "answer": "a client of the model as shipped: it queries the graph and sees its answers, nothing more",
    "file": "whoever holds the artefact's files (any device it ships to): it cuts the graph below any output head "
            "and reads any network file shipped with it, with no limit on queries",
}
ANSWER_ONLY_ASSUMPTION = ("the policy gates the answer seat only: it assumes the model's files never leave a server "
                          "(a served API); on a device, whoever holds the files reaches the file seat")


def check_seats(seats: Sequence[str] | None, where: str = "seats") -> tuple[str, ...]:
    """The gated seats, validated: a non-empty subset of :data:`SEATS`, in report order (file first)."""
    if seats is None:
        return DEFAULT_SEATS
    if isinstance(seats, str):
        seats = [s.strip() for s in seats.split(",") if s.strip()]
    bad = [s for s in seats if s not in SEATS]
    if bad or not seats:
        raise InputError(f"{where} must be a non-empty list of {', '.join(DEFAULT_SEATS)}, got {list(seats)}")
    return tuple(s for s in DEFAULT_SEATS if s in seats)


@dataclass
class Seat:
    """One seat of one model: the oracle it reaches and how (``reached``); ``same_as`` names the seat whose
    logits these are (nothing to cut), so that it is measured once."""

    name: str
    oracle: Oracle
    reached: str
    same_as: str | None = None

    def describe(self) -> dict:
        return {"seat": self.name, "attacker": ATTACKER[self.name], "reached": self.reached, "same_as": self.same_as,
                "oracle": self.oracle.describe()}


class CutGraphOracle(OnnxOracle):
    """The exported graph cut at its pre-head tensor, run in memory on ONNX Runtime; no query budget (a file
    holder runs it locally)."""

    kind = "onnxruntime-cut"

    def __init__(self, parent: OnnxOracle, session, tensor: str) -> None:
        self.path, self.batch_size, self.spec = parent.path, parent.batch_size, parent.spec
        self.session, self.manifest, self.signature, self.sha256 = session, None, parent.signature, parent.sha256
        self.tensor = tensor
        Oracle.__init__(self, parent.num_classes, None)
        self.variant = parent.variant
        out = session.get_outputs()[0].shape
        if isinstance(out[-1], int) and out[-1] != parent.num_classes:
            raise InputError(f"{parent.path}: the tensor {tensor!r} below the head has {out[-1]} values per image, "
                             f"not one per class ({parent.num_classes})")

    def describe(self) -> dict:
        return {**super().describe(), "cut_at": self.tensor}


def _graph_file(oracle: OnnxOracle) -> Path:
    return oracle.path / VARIANTS[oracle.variant] if oracle.path.is_dir() else oracle.path


def _recorded_pre_head(oracle: OnnxOracle) -> str | None:
    return Manifest.from_dict(oracle.manifest or {}).pre_head(oracle.variant)


def model_seats(oracle: Oracle, providers=None) -> dict[str, Seat]:
    """The ``answer`` and ``file`` seats of the model behind ``oracle``."""
    answer = Seat("answer", oracle, "the graph's output as shipped" if isinstance(oracle, OnnxOracle)
                  else "the module's output")
    if isinstance(oracle, OnnxOracle):
        graph = _graph_file(oracle)
        weights = oracle.path / "model.safetensors" if oracle.path.is_dir() else None
        shipped = " and model.safetensors (the same network, checked at export)" \
            if weights is not None and weights.is_file() else ""
        tensor = _recorded_pre_head(oracle) or pre_head_tensor(graph)
        if tensor is None:
            return {"answer": answer, "file": Seat("file", oracle, f"{graph.name} answers with its logits: nothing to "
                                                   f"cut{shipped}", same_as="answer")}
        session, tensor = cut_session(graph, tensor, lambda p: make_session(p, providers, spinning=False))
        return {"answer": answer, "file": Seat("file", CutGraphOracle(oracle, session, tensor),
                                               f"{graph.name} cut below its head at tensor {tensor!r} "
                                               f"(onnx.utils.extract_model){shipped}")}
    if isinstance(oracle, TorchOracle) and isinstance(oracle.module, OutputHead):
        inner = TorchOracle(oracle.module.model, num_classes=oracle.num_classes, source=oracle.source,
                            sha256=oracle.sha256)
        return {"answer": answer, "file": Seat("file", inner, f"the module inside its {oracle.module.head} head")}
    return {"answer": answer, "file": Seat("file", oracle, "the module answers with its logits", same_as="answer")}
