"""Exporters: a model to an ONNX + safetensors artefact with a manifest, checked on ONNX Runtime, and signed.

``export(model, out_dir, data=...)`` writes the artefact; ``load_runtime(out_dir)`` checks every
sha256 (and, given a public key, the signature) and returns an object with ``predict(images) -> logits``;
``inspect_path`` describes an artefact or a checkpoint; :mod:`.signing` signs an artefact and its verify report.
"""

from shieldkit.errors import ArtefactError, ParityError, SignatureError

from .export import ExportConfig, ExportResult, export
from .inspect_artefact import inspect_path
from .manifest import read_manifest, sha256_file, verify_artefact
from .runtime import Runtime, load_runtime, make_session
from .to_onnx import InputSpec, export_onnx, input_spec
from .to_safetensors import export_safetensors

__all__ = ["ArtefactError", "ExportConfig", "ExportResult", "InputSpec", "ParityError", "Runtime", "SignatureError",
           "export", "export_onnx", "export_safetensors", "input_spec", "inspect_path", "load_runtime", "make_session",
           "read_manifest", "sha256_file", "verify_artefact"]
