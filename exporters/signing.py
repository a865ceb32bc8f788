"""Signatures: who released an artefact, and a signed record of what ``verify`` found.

The manifest (:mod:`.manifest`) makes an artefact tamper-*evident*; a signature makes it tamper-*proof*
against anyone without the private key. Signing and checking go through OpenSSF's ``model-signing``
(``pip install "shieldkit[sign]"``), offline, with an elliptic-curve key pair (or a private key and an
X.509 certificate chain). Two files are written into the artefact directory:

- ``model.sig``: a Sigstore bundle (DSSE envelope over an in-toto statement) that lists the sha256 of every
  file in the directory except the signature and attestation files below;
- with ``report=`` (a ``verify --report`` JSON of *this* artefact), ``verify-attestation.json``: an in-toto
  statement whose subjects are the artefact's files and whose predicate is the verify report (verdict,
  figures, thresholds, attacks and budgets), signed in ``verify-attestation.sig``.

:func:`check_signature` verifies both with a public key (or a certificate chain) and raises
:class:`~shieldkit.errors.SignatureError` naming what changed: a file edited, added or removed since
signing, a different key, an attestation about other files. See ``docs/signing.md``.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from shieldkit.errors import InputError, SignatureError
from shieldkit.outputs import disk_error
from shieldkit.utils import atomic_path, read_json

from .manifest import MANIFEST, sha256_file, verify_artefact

SIGNATURE = "model.sig"
ATTESTATION = "verify-attestation.json"
ATTESTATION_SIGNATURE = "verify-attestation.sig"
SIGNING_FILES = (SIGNATURE, ATTESTATION, ATTESTATION_SIGNATURE)
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://github.com/shieldkit/shieldkit/verify-report/v1"


def _model_signing():
    try:
        import model_signing
    except ImportError as e:
        raise InputError(f"signing needs OpenSSF model-signing: pip install \"shieldkit[sign]\" ({e})") from None
    return model_signing


def _hashing(ms):
    return ms.hashing.Config().set_ignored_paths(paths=list(SIGNING_FILES))


def _existing(path: str | Path | None, what: str) -> Path | None:
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    return path


def _reason(e: Exception, target: Path | None = None) -> str:
    """model-signing's verification error as a short phrase (its messages embed whole digests)."""
    text = str(e)
    if "Key mismatch" in text or "public key hash" in text:
        return "it was signed with a different key"
    changed = [target.name if name == "." and target is not None else name
               for name in re.findall(r"Hash mismatch for \\?'([^'\\]+)\\?'", text)]  # quotes escaped in a list's repr
    if changed:
        return f"changed since signing: {', '.join(changed)}"
    if isinstance(e, json.JSONDecodeError) or "bundle" in text.lower():
        return f"the signature file is not a valid signature bundle ({text.strip().splitlines()[0][:120]})"
    for pattern, what in ((r"Extra files found in model '[^']*': (.*?)(?:['\"\]]|$)", "added since signing"),
                          (r"Missing files in model '[^']*': (.*?)(?:['\"\]]|$)", "removed since signing")):
        m = re.search(pattern, text)
        if m:
            return f"{what}: {m.group(1).strip()}"
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return first if len(first) <= 200 else first[:199] + "…"


def _signature_of(ms, signer, target: Path) -> bytes:
    """The signature bundle of ``target`` (a directory or a file), made in a temporary directory: nothing is
    written beside ``target`` while it is hashed."""
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / SIGNATURE
        try:
            signer.set_hashing_config(_hashing(ms)).sign(target, staged)
        except OSError as e:  # model-signing writes the bundle itself: a full disk or a file-size limit lands here
            raise disk_error(e, f"the signature of {target} (staged at {staged})") from None
        return staged.read_bytes()


def _write(path: Path, data: bytes) -> None:
    with atomic_path(path) as out:
        out.write_bytes(data)


def _signer(ms, private_key: Path, password: str | None, certificate: Path | None, chain: Sequence[Path]):
    config = ms.signing.Config()
    try:
        if certificate is not None:
            return config.use_certificate_signer(private_key=private_key, signing_certificate=certificate,
                                                 certificate_chain=list(chain))
        # model-signing hands the password to cryptography, which wants bytes
        return config.use_elliptic_key_signer(private_key=private_key,
                                              password=password.encode() if password is not None else None)
    except (ValueError, TypeError) as e:
        raise InputError(f"cannot use {private_key} as a signing key: {_reason(e)}") from None


def artefact_digests(directory: Path, manifest: dict) -> dict[str, str]:
    """name -> sha256 of every file an attestation speaks of: ``manifest.json`` and every file it lists."""
    return {MANIFEST: sha256_file(directory / MANIFEST),
            **{name: entry["sha256"] for name, entry in manifest.get("files", {}).items()}}


def attestation_statement(directory: Path, manifest: dict, report: dict) -> dict:
    """The in-toto statement: subjects = the artefact's files (manifest first), predicate = the verify report."""
    digests = artefact_digests(directory, manifest)
    subjects = [{"name": name, "digest": {"sha256": digest}} for name, digest in digests.items()]
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE,
            "predicate": {"verdict": report.get("verdict"), "attested": datetime.now(timezone.utc).isoformat(
                timespec="seconds"), "report": report}}


def _check_report_is_of(report: dict, manifest: dict, report_path: Path, directory: Path) -> None:
    if not isinstance(report, dict) or report.get("schema") != "shieldkit-verify-report":
        raise InputError(f"{report_path} is not a shieldkit verify report (write one with verify --report)")
    tested = (report.get("artefact") or {}).get("sha256") or {}
    files = artefact_digests(directory, manifest)
    if not tested or any(files.get(name) != digest for name, digest in tested.items()):
        raise InputError(f"{report_path} is a report on {(report.get('artefact') or {}).get('path')}, not on the "
                         f"files of {directory}: verify the artefact directory itself, then sign with that report")


def sign_artefact(directory: str | Path, private_key: str | Path, *, report: str | Path | None = None,
                  password: str | None = None, certificate: str | Path | None = None,
                  certificate_chain: Sequence[str | Path] | None = ()) -> dict:
    """Sign the artefact in ``directory`` (``model.sig``) and, with ``report``, attest the verify report of it
    (``verify-attestation.json`` + ``.sig``). The artefact must be intact (every sha256 of its manifest) and the
    report must be of its files. ``certificate`` (+ ``certificate_chain``) signs with an X.509 certificate instead
    of a bare key. Returns what was written."""
    ms = _model_signing()
    directory = Path(directory)
    manifest = verify_artefact(directory)  # never sign an artefact that has already changed
    key = _existing(private_key, "private key")
    cert = _existing(certificate, "certificate")
    chain = [_existing(c, "certificate chain file") for c in certificate_chain or ()]
    report_data = None
    if report is not None:
        report_path = _existing(report, "verify report")
        report_data = read_json(report_path)
        _check_report_is_of(report_data, manifest, report_path, directory)
    signer = _signer(ms, key, password, cert, chain)  # the key is read once, for both signatures
    # every signature is made before anything in the directory changes: a failure leaves it as it was
    model_signature = _signature_of(ms, signer, directory)
    attestation = None
    if report_data is not None:
        with tempfile.TemporaryDirectory() as tmp:
            staged = Path(tmp) / ATTESTATION
            staged.write_text(json.dumps(attestation_statement(directory, manifest, report_data), indent=2,
                                         sort_keys=True))
            attestation = (staged.read_bytes(), _signature_of(ms, signer, staged))
    _write(directory / SIGNATURE, model_signature)
    written = {"signature": str(directory / SIGNATURE)}
    if attestation is not None:
        _write(directory / ATTESTATION, attestation[0])
        _write(directory / ATTESTATION_SIGNATURE, attestation[1])
        written.update(attestation=str(directory / ATTESTATION), verdict=report_data.get("verdict"))
    elif (directory / ATTESTATION).exists():
        # an attestation from an earlier signing speaks of files that may since have been re-exported
        for name in (ATTESTATION, ATTESTATION_SIGNATURE):
            (directory / name).unlink(missing_ok=True)
        written["removed"] = [ATTESTATION, ATTESTATION_SIGNATURE]
    return written


def _verifier(ms, public_key: Path | None, certificate_chain: Sequence[Path]):
    config = ms.verifying.Config()
    try:
        if public_key is not None:
            return config.use_elliptic_key_verifier(public_key=public_key)
        return config.use_certificate_verifier(certificate_chain=list(certificate_chain))
    except (ValueError, TypeError) as e:
        what = public_key if public_key is not None else ", ".join(map(str, certificate_chain))
        raise InputError(f"cannot use {what} to check signatures: {_reason(e)}") from None


def _verify(ms, public_key, chain, target: Path, signature: Path, what: str) -> None:
    try:
        _verifier(ms, public_key, chain).set_hashing_config(_hashing(ms)).verify(target, signature)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 -- model-signing raises ValueError and library-specific errors
        raise SignatureError(f"{what} does not verify: {_reason(e, target)}") from None


def check_signature(directory: str | Path, public_key: str | Path | None = None, *,
                    certificate_chain: Sequence[str | Path] | None = ()) -> dict:
    """Check ``model.sig`` (and the verify attestation, when present) with ``public_key`` or a certificate chain.

    Returns ``{"signature": "ok", "key_sha256": ..., "attestation": {...} | None}``; raises
    :class:`~shieldkit.errors.SignatureError` when the artefact is unsigned, changed since signing or signed by
    another key, or when its attestation does not verify or speaks of other files."""
    if public_key is None and not certificate_chain:
        raise InputError("checking a signature needs --public-key (or --certificate-chain)")
    ms = _model_signing()
    directory = Path(directory)
    key = _existing(public_key, "public key")
    chain = [_existing(c, "certificate chain file") for c in certificate_chain or ()]
    if not (directory / SIGNATURE).is_file():
        raise SignatureError(f"{directory} is not signed ({SIGNATURE} is missing): sign it with `shieldkit sign`")
    _verify(ms, key, chain, directory, directory / SIGNATURE, f"the signature of {directory}")
    anchor = key if key is not None else chain[0]
    result = {"signature": "ok", "signed_by": str(anchor),
              "key_sha256": sha256_file(anchor), "attestation": None}
    if (directory / ATTESTATION).is_file() or (directory / ATTESTATION_SIGNATURE).is_file():
        result["attestation"] = _check_attestation(ms, key, chain, directory)
    return result


def _check_attestation(ms, key, chain, directory: Path) -> dict:
    if not (directory / ATTESTATION_SIGNATURE).is_file() or not (directory / ATTESTATION).is_file():
        raise SignatureError(f"{directory}: {ATTESTATION} and {ATTESTATION_SIGNATURE} must come together")
    _verify(ms, key, chain, directory / ATTESTATION, directory / ATTESTATION_SIGNATURE,
            f"the verify attestation of {directory}")
    statement = read_json(directory / ATTESTATION, SignatureError)
    manifest = read_json(directory / MANIFEST, SignatureError)
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement.get("subject", [])}
    if subjects != artefact_digests(directory, manifest):
        raise SignatureError(f"the verify attestation of {directory} is about other files than the artefact's "
                             f"(re-verify and sign again)")
    predicate = statement.get("predicate") or {}
    report = predicate.get("report") or {}
    return {"signature": "ok", "verdict": predicate.get("verdict"), "attested": predicate.get("attested"),
            "budget": report.get("budget"), "dataset": (report.get("dataset") or {}).get("name"),
            "figures": {k: (report.get("figures") or {}).get(k) for k in ("accuracy", "kd_gain_upper", "kd_attacker")}}


def signature_state(directory: str | Path) -> str:
    """``"unsigned"``, ``"signed (not checked: give a public key)"`` or with an attestation, for ``inspect``."""
    directory = Path(directory)
    if not (directory / SIGNATURE).is_file():
        return "unsigned"
    extra = f", with a verify attestation ({ATTESTATION})" if (directory / ATTESTATION).is_file() else ""
    return f"signed{extra}; not checked: pass --public-key"
