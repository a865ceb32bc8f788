"""``export``'s settings, declared once: what the ONNX graph is (:class:`GraphSettings`) and how its parity with
the torch model is checked (:class:`ParitySettings`). The manifest records them under its schema's own names
(``export_settings``: ``batch``, ``parity_n``, ...), which are a data format, not options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from shieldkit.output_heads import DEFAULT_DECISION_CONFIDENCE, OUTPUT_HEADS
from shieldkit.settings import check_settings, setting

from .runtime import VARIANTS
from .to_onnx import INPUT_FORMATS, MIN_OPSET


@dataclass(frozen=True)
class GraphSettings:
    """What the exported graph is: its opset, input, batch axis, output head and int8 twin."""

    opset: int = setting(MIN_OPSET, f"ONNX opset (>= {MIN_OPSET})", minimum=MIN_OPSET)
    batch_size: str | int | None = setting("dynamic", "the graph's batch dimension: 'dynamic' or a fixed size")
    input_format: str = setting("float", "float: NCHW [0,1]; uint8: raw NHWC bytes, /255 inside the graph",
                                choices=INPUT_FORMATS)
    input_shape: str | Sequence[int] | None = setting(None, "C,H,W when neither checkpoint nor --data says")
    head: str | None = setting(None, "what the ONNX graph answers with (its output is named after it): logits; "
                               "confidence (the decision and its confidence, negatives made equal); decision (the "
                               "decision at a fixed confidence). Default: what `protect` recorded, else logits",
                               choices=OUTPUT_HEADS)
    decision_confidence: float = setting(DEFAULT_DECISION_CONFIDENCE, "the confidence the decision head answers "
                                         "with", above=0)
    with_weights: bool = setting(False, "also ship model.safetensors (the plain network) beside a head: an audit "
                                 "bundle, never a device artefact (the weights bypass the head)")
    quantize: str | None = setting(None, "also write model.int8.onnx", choices=("int8",))
    calibration_n: int = setting(512, "training images to calibrate int8 on", minimum=1)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class RuntimeSettings:
    """How the model under test is loaded and run (``evaluate``, ``verify``): which ONNX Runtime graph of an
    artefact answers and on which providers, the signature the artefact must carry, and whether a model file
    that is a full pickle may be loaded."""

    providers: str | Sequence[str] | None = setting("cpu", "ONNX Runtime providers, e.g. cpu or cuda,cpu")
    variant: str = setting("fp32", "which graph of an artefact: fp32 | int8 (--quantize)", choices=tuple(VARIANTS))
    public_key: str | Path | None = setting(None, "the artefact's signature (model.sig) must verify with this "
                                            "public key (PEM) before anything runs; exit 2 if not")
    certificate_chain: Sequence[str | Path] | None = setting(None, "check the signature against this CA chain "
                                                             "(PEM; repeat the option) instead of --public-key")
    trust_pickle: bool = setting(False, "allow loading a fully pickled model (runs code!)")

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class ParitySettings:
    """How the graph is checked against the torch model on ONNX Runtime (exit 1 when it misses)."""

    n: int = setting(1000, "test images for the parity check", minimum=1)
    providers: str | Sequence[str] | None = setting("cpu", "ONNX Runtime providers to check parity on, e.g. cpu,cuda")
    max_abs_diff: float = setting(1e-3, "fp32 parity: max |Δlogit|", minimum=0)
    min_agreement: float = setting(0.999, "fp32 parity: min top-1 agreement (0..1)", minimum=0)
    seed: int = setting(0, "seeds the parity images' sample (and the random ones used when no --data is given)")

    def __post_init__(self) -> None:
        check_settings(self)
