"""``manifest.json``: what an exported artefact is, and the sha256 of every file in it.

The manifest also carries ``manifest_sha256``, the sha256 of its own canonical JSON without that
field, so an edited manifest is caught as well as an edited model file. This makes an artefact
tamper-*evident* against accidental or careless changes; it is not a signature (whoever can rewrite
the files can recompute the digests), so sign the directory where the threat is deliberate.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from shieldkit.errors import ArtefactError
from shieldkit.utils import read_json

MANIFEST = "manifest.json"
SCHEMA = "shieldkit-artefact"
SCHEMA_VERSION = 1


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def seal(manifest: dict, directory: str | Path, files: list[str]) -> dict:
    """Add ``files`` (name -> sha256, bytes) and the manifest's own digest; returns the sealed manifest."""
    directory = Path(directory)
    manifest = dict(manifest)
    manifest["files"] = {name: {"sha256": sha256_file(directory / name), "bytes": (directory / name).stat().st_size}
                         for name in files}
    manifest["manifest_sha256"] = hashlib.sha256(_canonical(manifest)).hexdigest()
    return manifest


def read_manifest(directory: str | Path) -> dict:
    path = Path(directory) / MANIFEST
    if not Path(directory).is_dir():
        raise ArtefactError(f"artefact directory not found: {directory}")
    if not path.is_file():
        raise ArtefactError(f"{directory} is not a shieldkit artefact: {MANIFEST} is missing")
    manifest = read_json(path, ArtefactError)
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise ArtefactError(f"{path} is not a shieldkit manifest (schema {SCHEMA!r} expected)")
    if manifest.get("schema_version", 0) > SCHEMA_VERSION:
        raise ArtefactError(f"{path} has schema version {manifest['schema_version']}; this shieldkit reads up to "
                            f"{SCHEMA_VERSION} (upgrade shieldkit)")
    return manifest


def verify_artefact(directory: str | Path) -> dict:
    """Check the manifest's own digest and every file's sha256; return the manifest or raise :class:`ArtefactError`."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest.get("manifest_sha256") != hashlib.sha256(_canonical(manifest)).hexdigest():
        raise ArtefactError(f"{directory / MANIFEST} has been edited since export (its manifest_sha256 does not match "
                            f"its content); re-export the model")
    for name, entry in manifest.get("files", {}).items():
        path = directory / name
        if not path.is_file():
            raise ArtefactError(f"{path} is listed in the manifest but missing")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise ArtefactError(f"{path} has been changed since export: sha256 {digest[:16]}… but the manifest "
                                f"says {entry['sha256'][:16]}…")
    return manifest
