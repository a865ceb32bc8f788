"""Running an exported artefact with ONNX Runtime: :func:`load_runtime` and :func:`make_session`.

Providers are always explicit. When a provider that was asked for cannot be used, this is an
error, never a silent fallback to another provider.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from shieldkit.errors import ArtefactError, InputError

from .manifest import verify_artefact
from .signing import check_signature
from .to_onnx import InputSpec

SHORT_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
                   "tensorrt": "TensorrtExecutionProvider"}
VARIANTS = {"fp32": "model.onnx", "int8": "model.int8.onnx"}


def provider_names(providers: str | Sequence[str] | None) -> list[str]:
    """``None`` -> CPU; ``"cuda,cpu"`` or ``["cuda"]`` -> full ONNX Runtime provider names."""
    if providers is None:
        return ["CPUExecutionProvider"]
    if isinstance(providers, str):
        providers = [p for p in providers.split(",") if p.strip()]
    return [SHORT_PROVIDERS.get(p.strip().lower(), p.strip()) for p in providers]


def make_session(path: str | Path, providers: str | Sequence[str] | None = None, threads: int | None = None,
                 spinning: bool = True):
    """An ``onnxruntime.InferenceSession`` on exactly the first provider asked for (else :class:`InputError`).

    ``spinning=False`` stops ONNX Runtime's idle worker threads from busy-waiting between runs: needed
    when the session shares the CPU with torch work (an attacker training students between queries),
    which the spinning threads otherwise slow down many times over.
    """
    import onnxruntime as ort

    names = provider_names(providers)
    available = ort.get_available_providers()
    missing = [p for p in names if p not in available]
    if missing:
        raise InputError(f"ONNX Runtime provider {missing[0]} is not available here; available: {', '.join(available)}")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=names)
    except Exception as e:  # noqa: BLE001 -- onnxruntime raises its own exception types
        raise ArtefactError(f"ONNX Runtime cannot load {path}: {str(e).strip().splitlines()[0]}") from None
    if session.get_providers()[0] != names[0]:
        raise InputError(f"asked for {names[0]} but ONNX Runtime runs {Path(path).name} on "
                         f"{session.get_providers()[0]} (is a GPU present and are its libraries installed?)")
    return session


def run_batched(session, images: np.ndarray, batch_size: int = 256, fixed_batch: int | None = None) -> np.ndarray:
    """Logits for ``images`` in chunks; a graph with a fixed batch gets its last chunk zero-padded."""
    name = session.get_inputs()[0].name
    step = fixed_batch or batch_size
    out = []
    for i in range(0, len(images), step):
        chunk = images[i:i + step]
        n = len(chunk)
        if fixed_batch and n < fixed_batch:
            chunk = np.concatenate([chunk, np.zeros((fixed_batch - n, *chunk.shape[1:]), chunk.dtype)])
        out.append(session.run(None, {name: np.ascontiguousarray(chunk)})[0][:n])
    if not out:
        return np.zeros((0, session.get_outputs()[0].shape[-1]), np.float32)
    return np.concatenate(out)


class Runtime:
    """An exported artefact, checked and loaded: ``predict(images) -> logits`` (numpy, any batch size)."""

    def __init__(self, directory: Path, manifest: dict, session, variant: str, signature: dict | None = None) -> None:
        self.directory = directory
        self.manifest = manifest
        self.session = session
        self.variant = variant
        self.spec = InputSpec.from_dict(manifest["input"])
        self.num_classes = int(manifest["model"]["num_classes"])
        self.classes = manifest["model"].get("classes")
        self.signature = signature  # check_signature's result when a key was given

    @property
    def provider(self) -> str:
        """The execution provider the session runs on."""
        return self.session.get_providers()[0]

    def check_images(self, images) -> np.ndarray:
        """``images`` as the graph's dtype, or :class:`InputError` naming the expected shape/dtype."""
        if hasattr(images, "detach"):
            images = images.detach().cpu().numpy()
        images = np.asarray(images)
        want = self.spec.shape[1:]
        if images.ndim != len(self.spec.shape) or list(images.shape[1:]) != list(want):
            raise InputError(f"this artefact takes {self.spec.dtype} images of shape (N, {', '.join(map(str, want))}) "
                             f"({self.spec.layout}, values {self.spec.value_range}); got shape {tuple(images.shape)}")
        if self.spec.dtype == "uint8":
            if images.dtype != np.uint8:
                raise InputError(f"this artefact takes uint8 images (raw bytes, NHWC); got {images.dtype}")
            return images
        if not np.issubdtype(images.dtype, np.floating):
            raise InputError(f"this artefact takes float images in [0, 1] (NCHW); got {images.dtype}")
        return images.astype(np.float32, copy=False)

    def predict(self, images, batch_size: int = 256) -> np.ndarray:
        """Logits (N, num_classes) for ``images`` laid out as ``self.spec`` says."""
        return run_batched(self.session, self.check_images(images), batch_size, self.spec.fixed_batch)

    def __repr__(self) -> str:
        return (f"Runtime({self.directory}, arch={self.manifest['model']['arch']!r}, variant={self.variant!r}, "
                f"provider={self.provider!r})")


def load_runtime(directory: str | Path, providers: str | Sequence[str] | None = None, variant: str = "fp32",
                 threads: int | None = None, spinning: bool = True, public_key: str | Path | None = None,
                 certificate_chain: Sequence[str | Path] | None = ()) -> Runtime:
    """Check every sha256 in ``directory/manifest.json`` (and, with ``public_key`` or ``certificate_chain``, the
    artefact's signature: :func:`~shieldkit.exporters.signing.check_signature`), then open ``model.onnx`` (or
    ``model.int8.onnx`` with ``variant="int8"``) on ``providers`` (default CPU). Raises :class:`ArtefactError`
    (or its subclass :class:`~shieldkit.errors.SignatureError`) if anything changed."""
    directory = Path(directory)
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    manifest = verify_artefact(directory)
    signature = None
    if public_key is not None or certificate_chain:
        signature = check_signature(directory, public_key, certificate_chain=certificate_chain)
    name = VARIANTS[variant]
    if name not in manifest.get("files", {}):
        raise ArtefactError(f"{directory} has no {variant} model ({name}); export it with --quantize int8")
    return Runtime(directory, manifest, make_session(directory / name, providers, threads, spinning), variant,
                   signature)
