"""Signing (OpenSSF model-signing): `shieldkit sign` round-trips with keys made here; a changed file, an added file,
a re-sealed manifest, a wrong key or an edited attestation fails with exit 2 and one line, and nothing is signed
that has already changed."""

import datetime as dt
import json
import shutil

import pytest

pytest.importorskip("model_signing", reason="pip install -e '.[sign]' (or '.[dev]')")

from cryptography import x509  # noqa: E402 -- model-signing depends on cryptography
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from cli_helpers import one_error_line, run  # noqa: E402
from shieldkit import train  # noqa: E402
from shieldkit.errors import SignatureError  # noqa: E402
from shieldkit.exporters import export, load_runtime  # noqa: E402
from shieldkit.exporters.manifest import MANIFEST, seal  # noqa: E402
from shieldkit.exporters.signing import ATTESTATION, SIGNATURE, check_signature  # noqa: E402


def _key_pair(directory, name, password=None):
    key = ec.generate_private_key(ec.SECP256R1())
    enc = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    (directory / f"{name}.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.PKCS8, enc))
    (directory / f"{name}.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return directory / f"{name}.pem", directory / f"{name}.pub", key


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """An exported artefact, its smoke verify report, and two key pairs; signed with key `a` and the report."""
    d = tmp_path_factory.mktemp("signing")
    train("cnn3", "digits", epochs=2, lr=0.05, progress=False, out=d / "m.pt", model_kwargs={"width": 8})
    export(d / "m.pt", d / "art", data="digits", n=64)
    keys = {name: _key_pair(d, name)[:2] for name in ("a", "b")}
    # a PASS that needs no reference: a policy that checks parity only (a KD margin would need the probe's power)
    (d / "parity.toml").write_text('budget = "smoke"\n[thresholds]\nmin_parity_agreement = 0.99\n')
    r = run("verify", d / "art", "--data", "digits", "--policy", d / "parity.toml", "--report", d / "report.json")
    assert r.exit_code == 0, r.output
    r = run("sign", d / "art", "--key", keys["a"][0], "--report", d / "report.json")
    assert r.exit_code == 0, r.output
    return d, keys


def _copy(signed, tmp_path):
    d, keys = signed
    shutil.copytree(d / "art", tmp_path / "art")
    return tmp_path / "art", keys


def test_round_trip_and_attestation_carries_the_report(signed):
    d, keys = signed
    r = run("inspect", d / "art", "--public-key", keys["a"][1], "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    report = json.loads((d / "report.json").read_text())
    assert info["signature"]["signature"] == "ok"
    assert info["signature"]["attestation"]["verdict"] == report["verdict"] == "PASS"
    assert info["signature"]["attestation"]["figures"]["accuracy"] == report["figures"]["accuracy"]
    statement = json.loads((d / "art" / ATTESTATION).read_text())
    assert statement["predicate"]["report"] == report
    manifest = json.loads((d / "art" / MANIFEST).read_text())
    assert {s["name"] for s in statement["subject"]} == {MANIFEST, *manifest["files"]}
    # the library path: load_runtime checks the signature before it opens the graph
    rt = load_runtime(d / "art", public_key=keys["a"][1])
    assert rt.signature["signature"] == "ok" and rt.signature["attestation"]["verdict"] == "PASS"
    # and verify records the checked key in its report
    r = run("verify", d / "art", "--data", "digits", "--policy", d / "parity.toml",
            "--public-key", keys["a"][1], "--report", d / "report2.json")
    assert r.exit_code == 0, r.output
    sig = json.loads((d / "report2.json").read_text())["artefact"]["signature"]
    assert sig["signature"] == "ok" and sig["key_sha256"] == info["signature"]["key_sha256"]


def test_unsigned_state_is_shown_without_a_key(signed, tmp_path):
    d, _ = signed
    r = run("inspect", d / "art", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["signature"].startswith("signed, with a verify attestation")
    shutil.copytree(d / "art", tmp_path / "plain")
    for name in (SIGNATURE, ATTESTATION, "verify-attestation.sig"):
        (tmp_path / "plain" / name).unlink()
    r = run("inspect", tmp_path / "plain", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["signature"] == "unsigned"


def _changed_byte(art, keys):
    blob = bytearray((art / "model.onnx").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (art / "model.onnx").write_bytes(bytes(blob))
    # whoever changed it also re-sealed the manifest, so the sha256 integrity check alone passes
    manifest = json.loads((art / MANIFEST).read_text())
    files = list(manifest.pop("files"))
    manifest.pop("manifest_sha256")
    (art / MANIFEST).write_text(json.dumps(seal(manifest, art, files), indent=2))


@pytest.mark.parametrize("case,words", [
    ("changed byte, manifest re-sealed", "changed since signing"),
    ("wrong key", "signed with a different key"),
    ("added file", "added since signing: notes.txt"),
    ("removed signature", "is not signed"),
    ("edited attestation", "attestation"),
    ("corrupt signature", "not a valid signature bundle"),
])
def test_tampering_fails_with_one_line(signed, tmp_path, case, words):
    art, keys = _copy(signed, tmp_path)
    pub = keys["a"][1]
    if case.startswith("changed byte"):
        _changed_byte(art, keys)
        r = run("inspect", art, "--json")
        assert r.exit_code == 0, "the re-sealed manifest passes the sha256 check: only the signature catches it"
    elif case == "wrong key":
        pub = keys["b"][1]
    elif case == "added file":
        (art / "notes.txt").write_text("hello")
    elif case == "removed signature":
        (art / SIGNATURE).unlink()
    elif case == "edited attestation":
        statement = json.loads((art / ATTESTATION).read_text())
        statement["predicate"]["verdict"] = "PASS (trust me)"
        (art / ATTESTATION).write_text(json.dumps(statement))
    elif case == "corrupt signature":
        (art / SIGNATURE).write_text("{not a bundle")
    before = {p.name: p.read_bytes() for p in art.iterdir()}
    for args in (("inspect", art, "--public-key", pub),
                 ("verify", art, "--data", "digits", "--budget", "smoke", "--max-kd-gain", "1000",
                  "--public-key", pub, "--report", tmp_path / "r.json")):
        r = run(*args)
        assert r.exit_code == 2, (args[0], r.output)
        assert words in one_error_line(r), (args[0], r.output)
    assert not (tmp_path / "r.json").exists()
    assert {p.name: p.read_bytes() for p in art.iterdir()} == before
    with pytest.raises(SignatureError):
        load_runtime(art, public_key=pub)


def test_sign_refuses_what_it_cannot_vouch_for(signed, tmp_path):
    art, keys = _copy(signed, tmp_path)
    for name in (SIGNATURE, ATTESTATION, "verify-attestation.sig"):
        (art / name).unlink()
    # a public key is not a signing key
    r = run("sign", art, "--key", keys["a"][1])
    assert r.exit_code == 2 and "signing key" in one_error_line(r)
    # a report of another model
    other = json.loads((signed[0] / "report.json").read_text())
    other["artefact"]["sha256"] = {"model.onnx": "0" * 64}
    (tmp_path / "other.json").write_text(json.dumps(other))
    r = run("sign", art, "--key", keys["a"][0], "--report", tmp_path / "other.json")
    assert r.exit_code == 2 and "not on the files of" in one_error_line(r)
    # an artefact that changed since export (manifest not re-sealed)
    (art / "model.safetensors").write_bytes((art / "model.safetensors").read_bytes() + b"\0")
    r = run("sign", art, "--key", keys["a"][0])
    assert r.exit_code == 2 and "changed since export" in one_error_line(r)
    assert not (art / SIGNATURE).exists() and not (art / ATTESTATION).exists()


def test_password_protected_key_from_the_environment(signed, tmp_path, monkeypatch):
    art, _ = _copy(signed, tmp_path)
    key, pub, _ = _key_pair(tmp_path, "locked", password="s3cret")
    r = run("sign", art, "--key", key, "--password-env", "SHIELDKIT_TEST_PW")
    assert r.exit_code == 2 and "SHIELDKIT_TEST_PW" in one_error_line(r)
    r = run("sign", art, "--key", key)
    assert r.exit_code == 2 and "encrypted" in one_error_line(r)
    monkeypatch.setenv("SHIELDKIT_TEST_PW", "s3cret")
    r = run("sign", art, "--key", key, "--password-env", "SHIELDKIT_TEST_PW")
    assert r.exit_code == 0, r.output
    assert "removed the earlier attestation" in r.output  # re-signed without --report: old attestation dropped
    assert check_signature(art, pub)["attestation"] is None


def _certificate(subject, issuer_name, public_key, signing_key, ca):
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)])).public_key(public_key)
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
         .not_valid_after(now + dt.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, content_commitment=False,
                                      key_encipherment=False, data_encipherment=False, key_agreement=False,
                                      encipher_only=False, decipher_only=False), critical=True))
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    return b.sign(signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_certificate_chain_round_trip(signed, tmp_path):
    art, _ = _copy(signed, tmp_path)
    _, _, ca_key = _key_pair(tmp_path, "ca")
    leaf_pem, _, leaf_key = _key_pair(tmp_path, "leaf")
    (tmp_path / "ca.crt").write_bytes(_certificate("test CA", "test CA", ca_key.public_key(), ca_key, True))
    (tmp_path / "leaf.crt").write_bytes(_certificate("release bot", "test CA", leaf_key.public_key(), ca_key, False))
    r = run("sign", art, "--key", leaf_pem, "--certificate", tmp_path / "leaf.crt",
            "--certificate-chain", tmp_path / "ca.crt")
    assert r.exit_code == 0, r.output
    r = run("inspect", art, "--certificate-chain", tmp_path / "ca.crt", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["signature"]["signature"] == "ok", r.output
    _, _, other_ca = _key_pair(tmp_path, "other_ca")
    (tmp_path / "other.crt").write_bytes(_certificate("other CA", "other CA", other_ca.public_key(), other_ca, True))
    r = run("inspect", art, "--certificate-chain", tmp_path / "other.crt")
    assert r.exit_code == 2 and "does not verify" in one_error_line(r)


def test_public_key_needs_an_artefact_directory(signed, tmp_path):
    d, keys = signed
    r = run("verify", d / "m.pt", "--data", "digits", "--budget", "smoke", "--max-kd-gain", "1000",
            "--public-key", keys["a"][1])
    assert r.exit_code == 2 and "not an artefact directory" in one_error_line(r)
    r = run("inspect", d / "art", "--public-key", tmp_path / "missing.pub")
    assert r.exit_code == 2 and "public key not found" in one_error_line(r)


def test_a_changed_file_is_named_however_model_signing_quotes_its_message():
    """model-signing lists its mismatches as the repr of a list of strings: when a digest's bytes hold a double
    quote, that repr escapes the file name's quotes (\\'model.onnx\\'), and the name must still be found."""
    from pathlib import Path

    from shieldkit.exporters.signing import _reason

    plain = ValueError("Signature mismatch: [\"Hash mismatch for 'model.onnx': Expected 'Digest(b'\\x01')'\"]")
    escaped = ValueError("Signature mismatch: ['Hash mismatch for \\'model.onnx\\': Expected b\\'\"\\x01\\'']")
    for e in (plain, escaped):
        assert _reason(e, Path("art")) == "changed since signing: model.onnx", str(e)
