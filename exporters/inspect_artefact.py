"""``inspect``: what an artefact directory or a checkpoint is, as a dict (the CLI prints it)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from shieldkit.checkpoint import load_model
from shieldkit.errors import ArtefactError, InputError, SignatureError

from .manifest import MANIFEST, read_manifest, sha256_file, verify_artefact
from .records import InspectResult
from .signing import check_signature, signature_state


def inspect_path(path: str | Path, *, arch: str | None = None, num_classes: int | None = None,
                 trust_pickle: bool = False, public_key: str | Path | None = None,
                 certificate_chain: Sequence[str | Path] | None = ()) -> InspectResult:
    """An :class:`~.records.InspectResult`: an artefact directory -> its manifest plus ``integrity`` ("ok" or what changed) and ``signature``
    (checked with ``public_key`` or ``certificate_chain`` when given: "ok ..." or "FAILED: ..."; else whether it is signed);
    a model file -> its metadata (arch, classes, settings, figures, parameters, sha256)."""
    path = Path(path)
    if (public_key is not None or certificate_chain) and not path.is_dir():
        raise InputError(f"--public-key checks an artefact directory's signature; {path} is not a directory")
    if path.is_dir() and (arch or num_classes):
        raise InputError(f"{path} is an artefact: its manifest states the architecture and classes, so --arch / "
                         f"--num-classes do not apply (they describe a bare state_dict)")
    if path.is_dir():
        manifest = read_manifest(path)
        try:
            verify_artefact(path)
            integrity = "ok: every sha256 matches"
        except ArtefactError as e:
            integrity = f"FAILED: {e}"
        signature: str | dict = signature_state(path)
        if public_key is not None or certificate_chain:
            try:
                checked = check_signature(path, public_key, certificate_chain=certificate_chain)
                signature = {"status": f"ok: signed by the holder of {checked['signed_by']}", **checked}
            except SignatureError as e:
                signature = f"FAILED: {e}"
        return InspectResult.from_dict({"kind": "artefact", "path": str(path), "integrity": integrity,
                                        "signature": signature, **manifest})
    if not path.exists():
        raise InputError(f"not found: {path}")
    if path.name == MANIFEST:
        return inspect_path(path.parent)
    model, info = load_model(path, arch=arch, num_classes=num_classes, trust_pickle=trust_pickle)
    for flag, given, recorded in (("--arch", arch, info.arch), ("--num-classes", num_classes, info.num_classes)):
        if given is not None and recorded is not None and str(given) != str(recorded):
            raise InputError(f"{path} records {flag[2:].replace('-', ' ')} {recorded}; {flag} {given} contradicts it "
                             f"(the flag describes a bare state_dict; drop it)")
    spec = model.spec() if hasattr(model, "spec") else {}
    return InspectResult.from_dict({
        "kind": "checkpoint",
        "path": str(path),
        "format": info.format,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "model": {**spec, "arch": info.arch, "num_classes": info.num_classes, "classes": info.classes,
                  "parameters": sum(p.numel() for p in model.parameters())},
        "input_shape": info.input_shape,
        "settings": info.settings,
        "figures": info.figures,
    })
