"""Issue 3 acceptance through the real CLI: ``smime sign|verify|encrypt|decrypt`` and
``contact list|import|remove``, on an ECDSA P-256 and an RSA-2048 organisation.

Each test works on its own copy of a module-built organisation, so harvested contacts,
revocations and trust changes never leak between tests. "The other organisation" is the
one with the other key type: its users sign and receive across the two trust domains.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from postseal.cli.main import main
from tests.e2e.cli import PROCESS_TIMEOUT, CliResult, Org, clean_environ, copy_org, init_org

KEY_TYPES = ("ecdsa-p256", "rsa-2048")
DOMAINS = {"ecdsa-p256": "example.org", "rsa-2048": "example.net"}
ORG_NAMES = {"ecdsa-p256": "Alpha Org", "rsa-2048": "Beta Org"}
SUBJECT = "Quarterly numbers"
PLACEHOLDER = "[...]"
BOUNDED_SECONDS = 5.0


@dataclass(frozen=True)
class Site:
    """One organisation: its CLI handle, mail domain and exported PKI files."""

    org: Org
    key_type: str
    files: Path

    @property
    def domain(self) -> str:
        return DOMAINS[self.key_type]

    def addr(self, local: str) -> str:
        return f"{local}@{self.domain}"

    def message(self, sender: str = "alice", to: str = "bob", body: str = "Hello Bob.") -> bytes:
        return (
            f"From: {self.addr(sender)}\r\nTo: {self.addr(to)}\r\nSubject: {SUBJECT}\r\n"
            f"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\n{body}\r\nSecond line.\r\n"
        ).encode()


def _build_site(base: Path, key_type: str) -> Site:
    org = init_org(
        base / "org", key_type=key_type, org=ORG_NAMES[key_type], domain=DOMAINS[key_type]
    )
    for local in ("alice", "bob"):
        org.ok("user", "add", f"{local}@{DOMAINS[key_type]}")
    org.ok("user", "add", "--no-cert", f"carol@{DOMAINS[key_type]}")
    files = base / "files"
    files.mkdir()
    org.ok("ca", "export", "--out", str(files / "ca.pem"))
    root, issuing = x509.load_pem_x509_certificates((files / "ca.pem").read_bytes())
    (files / "root.pem").write_bytes(root.public_bytes(Encoding.PEM))
    (files / "issuing.pem").write_bytes(issuing.public_bytes(Encoding.PEM))
    org.ok("crl", "export", "--out", str(files / "issuing-crl.pem"))
    org.ok("crl", "export", "--ca", "root", "--out", str(files / "root-crl.pem"))
    return Site(org, key_type, files)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Site]:
    return {kt: _build_site(tmp_path_factory.mktemp(kt), kt) for kt in KEY_TYPES}


@pytest.fixture(params=KEY_TYPES)
def site(request: pytest.FixtureRequest, sites: dict[str, Site], tmp_path: Path) -> Site:
    shared = sites[request.param]
    return Site(copy_org(shared.org, tmp_path / "own"), shared.key_type, shared.files)


@pytest.fixture
def alpha(sites: dict[str, Site], tmp_path: Path) -> Site:
    """A private copy of the ECDSA organisation."""
    shared = sites["ecdsa-p256"]
    return Site(copy_org(shared.org, tmp_path / "alpha"), shared.key_type, shared.files)


@pytest.fixture
def beta(sites: dict[str, Site], tmp_path: Path) -> Site:
    """A private copy of the RSA organisation (the outside correspondent)."""
    shared = sites["rsa-2048"]
    return Site(copy_org(shared.org, tmp_path / "beta"), shared.key_type, shared.files)


# -- helpers ------------------------------------------------------------------------------


@contextlib.contextmanager
def _binary_streams(data: bytes) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    out, err = io.BytesIO(), io.BytesIO()
    wrapped = [io.TextIOWrapper(b, encoding="utf-8", write_through=True) for b in (out, err)]
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = stdin, wrapped[0], wrapped[1]
    try:
        yield out, err
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        for stream in wrapped:
            stream.flush()
            stream.detach()


def run_stdin(org: Org, *args: str, data: bytes, as_json: bool = False) -> CliResult:
    """Like ``tests.e2e.cli.invoke`` but with a binary standard input (``invoke`` gives a
    StringIO, which has no ``.buffer`` for the ``smime`` commands to read bytes from)."""
    argv = ["--data-dir", str(org.data_dir), *(["--json"] if as_json else []), *args]
    with (
        mock.patch.dict(os.environ, clean_environ(), clear=True),
        _binary_streams(data) as (out, err),
    ):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    return CliResult(status, out.getvalue(), err.getvalue().decode("utf-8"))


def _headers(message: bytes) -> str:
    """The top-level header block, unfolded."""
    head = re.split(rb"\r?\n\r?\n", message, maxsplit=1)[0].decode()
    return re.sub(r"\r?\n[ \t]+", " ", head)


def _header(message: bytes, name: str) -> list[str]:
    found = re.findall(rf"^{name}:[ \t]*(.*)$", _headers(message), re.IGNORECASE | re.MULTILINE)
    return [value.strip() for value in found]


def _single_error(result: CliResult) -> str:
    assert result.status == 1, result
    assert "Traceback" not in result.stderr
    assert len(result.error_lines) == 1, result.stderr
    line = result.error_lines[0]
    assert line.startswith("postseal: error: "), line
    return line


def _signed(site: Site, tmp_path: Path, *, opaque: bool = False, signer: str = "alice") -> Path:
    source, target = tmp_path / "msg.eml", tmp_path / f"signed-{signer}-{opaque}.eml"
    source.write_bytes(site.message(sender=signer))
    args = ["smime", "sign", "--as", site.addr(signer), "--in", str(source), "--out", str(target)]
    site.org.ok(*args, *(["--opaque"] if opaque else []))
    return target


def _verify_json(org: Org, path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = org.run("smime", "verify", "--in", str(path), *extra, as_json=True)
    assert "Traceback" not in result.stderr
    return result.status, result.json()


def _encrypt(site: Site, tmp_path: Path, *args: str, name: str = "enc.eml") -> tuple[Path, str]:
    source, target = tmp_path / "plain.eml", tmp_path / name
    source.write_bytes(site.message())
    result = site.org.run("smime", "encrypt", *args, "--in", str(source), "--out", str(target))
    assert result.status == 0, result.stderr
    assert result.stdout == ""
    return target, result.stderr


def _flip_opaque(signed: bytes, old: bytes, new: bytes) -> bytes:
    head, _, body = re.split(rb"(\r?\n\r?\n)", signed, maxsplit=1)
    der = base64.b64decode(body)
    assert der.count(old) == 1
    tampered = base64.encodebytes(der.replace(old, new)).replace(b"\n", b"\r\n")
    return head + b"\r\n\r\n" + tampered


# -- signing and verification -------------------------------------------------------------


def test_sign_detached_from_file_and_verify(site: Site, tmp_path: Path) -> None:
    signed = _signed(site, tmp_path)
    data = signed.read_bytes()
    content_type = _header(data, "Content-Type")[0]
    assert content_type.startswith("multipart/signed;")
    assert 'protocol="application/pkcs7-signature"' in content_type
    assert "micalg=sha-256" in content_type
    assert b"Content-Type: application/pkcs7-signature" in data
    assert b"x-pkcs7" not in data
    assert b"Hello Bob." in data  # readable without S/MIME

    human = site.org.run("smime", "verify", "--in", str(signed))
    assert human.status == 0, human.stderr
    assert re.fullmatch(
        rf"good signature by {re.escape(site.addr('alice'))}, signed \d{{4}}-\d\d-\d\d \d\d:\d\d UTC",
        human.stdout.strip(),
    ), human.stdout

    status, report = _verify_json(site.org, signed)
    assert status == 0
    assert report["ok"] is True
    assert report["detached"] is True
    (signer,) = report["signers"]
    assert signer["signer"] == site.addr("alice")
    assert signer["content_intact"] is True
    assert signer["signature_valid"] is True
    assert signer["chain"]["trusted"] is True
    assert signer["chain"]["status"] == "valid"
    assert signer["from_matches"] is True
    assert signer["from_addresses"] == [site.addr("alice")]
    assert signer["algorithm_acceptable"] is True
    assert signer["digest_algorithm"] == "sha256"
    expected = "ecdsa" if site.key_type.startswith("ecdsa") else "rsassa_pkcs1v15"
    assert signer["signature_algorithm"] == expected
    assert signer["capabilities"][:2] == ["aes256-gcm", "aes128-gcm"]
    assert signer["problems"] == []


def test_sign_opaque_from_stdin_to_stdout_and_verify_from_stdin(site: Site, tmp_path: Path) -> None:
    signed = run_stdin(
        site.org, "smime", "sign", "--as", site.addr("alice"), "--opaque", data=site.message()
    )
    assert signed.status == 0, signed.stderr
    assert signed.stderr == ""
    content_type = _header(signed.stdout_bytes, "Content-Type")[0]
    assert content_type.startswith("application/pkcs7-mime;")
    assert "smime-type=signed-data" in content_type
    assert b"Hello Bob." not in signed.stdout_bytes  # opaque: inside the base64 DER

    content = tmp_path / "content.eml"
    verified = run_stdin(
        site.org, "smime", "verify", "--out", str(content), data=signed.stdout_bytes
    )
    assert verified.status == 0, verified.stderr
    assert verified.stdout.startswith(f"good signature by {site.addr('alice')}")
    # the signed entity, canonical (CRLF): what was signed, byte for byte
    assert content.read_bytes() == site.message()

    report = run_stdin(site.org, "smime", "verify", data=signed.stdout_bytes, as_json=True).json()
    assert report["ok"] is True
    assert report["detached"] is False


def test_empty_standard_input_is_one_clear_error(alpha: Site) -> None:
    for args in (
        ("sign", "--as", alpha.addr("alice")),
        ("verify",),
        ("decrypt", "--as", alpha.addr("bob")),
    ):
        line = _single_error(run_stdin(alpha.org, "smime", *args, data=b""))
        assert "no message on standard input" in line


def test_real_process_pipeline_over_stdin_and_stdout(alpha: Site) -> None:
    command = [sys.executable, "-m", "postseal", "--data-dir", str(alpha.org.data_dir), "smime"]

    def run(*args: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*command, *args],
            input=data,
            capture_output=True,
            env=clean_environ(),
            timeout=PROCESS_TIMEOUT,
            check=False,
        )

    signed = run("sign", "--as", alpha.addr("alice"), data=alpha.message())
    assert signed.returncode == 0, signed.stderr.decode()
    assert signed.stdout.startswith(b"MIME-Version: 1.0")
    verified = run("verify", "--no-harvest", data=signed.stdout)
    assert verified.returncode == 0, verified.stderr.decode()
    assert verified.stdout.decode().startswith(f"good signature by {alpha.addr('alice')}")
    garbage = run("verify", data=random.Random(3).randbytes(4096))
    assert garbage.returncode == 1
    assert b"Traceback" not in garbage.stderr
    assert len(garbage.stderr.decode().strip().splitlines()) == 1


def test_from_mismatch_fails_and_says_so(site: Site, tmp_path: Path) -> None:
    signed = _signed(site, tmp_path)
    other = site.addr("bob")
    result = site.org.run("smime", "verify", "--in", str(signed), "--from", other)
    assert result.status == 1
    assert f"signer {site.addr('alice')} does not match From: {other}" in result.stdout
    status, report = _verify_json(site.org, signed, "--from", other)
    assert status == 1
    assert report["signers"][0]["from_matches"] is False
    assert report["signers"][0]["signature_valid"] is True

    # alice signs a message whose own From: header names bob
    forged = tmp_path / "forged.eml"
    forged.write_bytes(site.message(sender="bob"))
    out = tmp_path / "forged-signed.eml"
    site.org.ok("smime", "sign", "--as", site.addr("alice"), "--in", str(forged), "--out", str(out))
    result = site.org.run("smime", "verify", "--in", str(out))
    assert result.status == 1
    assert "does not match From:" in result.stdout


@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
def test_one_flipped_byte_is_content_altered(site: Site, tmp_path: Path, opaque: bool) -> None:
    signed = _signed(site, tmp_path, opaque=opaque)
    data = signed.read_bytes()
    if opaque:
        tampered = _flip_opaque(data, b"Hello Bob.", b"Hello Bop.")
    else:
        assert data.count(b"Hello Bob.") == 1
        tampered = data.replace(b"Hello Bob.", b"Hello Bop.")
    bad = tmp_path / "tampered.eml"
    bad.write_bytes(tampered)
    result = site.org.run("smime", "verify", "--in", str(bad))
    assert result.status == 1
    assert "content altered" in result.stdout
    assert "good signature" not in result.stdout
    status, report = _verify_json(site.org, bad)
    assert status == 1
    assert report["signers"][0]["content_intact"] is False
    assert report["ok"] is False
    assert site.org.json("contact", "list") == []  # a bad signature is never harvested


def test_revoked_signer_reports_date_and_reason(site: Site, tmp_path: Path) -> None:
    signed = _signed(site, tmp_path)
    serial = site.org.serial_of(site.addr("alice"))
    site.org.ok("cert", "revoke", serial, "--reason", "keyCompromise")
    result = site.org.run("smime", "verify", "--in", str(signed))
    assert result.status == 1
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert f"signer {site.addr('alice')} revoked on {today} (keyCompromise)" in result.stdout
    status, report = _verify_json(site.org, signed)
    chain = report["signers"][0]["chain"]
    assert (status, chain["status"], chain["revocation_reason"]) == (1, "revoked", "keyCompromise")
    assert chain["revoked_at"].startswith(today)


def test_signing_without_a_certificate_names_the_user_and_produces_nothing(
    site: Site, tmp_path: Path
) -> None:
    work = tmp_path / "io"
    work.mkdir()
    source, target = work / "msg.eml", work / "never.eml"
    source.write_bytes(site.message(sender="carol"))
    for extra in ([], ["--opaque"]):
        result = site.org.run(
            "smime",
            "sign",
            "--as",
            site.addr("carol"),
            "--in",
            str(source),
            "--out",
            str(target),
            *extra,
        )
        line = _single_error(result)
        assert site.addr("carol") in line
        assert f"postseal cert issue {site.addr('carol')}" in line
        assert result.stdout == ""
        assert not target.exists()
    assert list(work.iterdir()) == [source]  # no temporary file left behind either


# -- another organisation: trust, CRLs, harvest -------------------------------------------


def _trust_other(own: Site, other: Site) -> None:
    own.org.ok("trust", "add-root", str(other.files / "root.pem"))
    own.org.ok("trust", "add-intermediate", str(other.files / "issuing.pem"))
    own.org.ok("crl", "import", str(other.files / "issuing-crl.pem"))
    own.org.ok("crl", "import", str(other.files / "root-crl.pem"))


def test_other_organisation_untrusted_names_trust_add_root(
    alpha: Site, beta: Site, tmp_path: Path
) -> None:
    signed = _signed(beta, tmp_path)
    result = alpha.org.run("smime", "verify", "--in", str(signed))
    assert result.status == 1
    assert "`postseal trust add-root FILE`" in result.stdout
    assert "Beta Org Root CA" in result.stdout
    status, report = _verify_json(alpha.org, signed)
    assert status == 1
    assert report["signers"][0]["chain"]["trusted"] is False
    assert report["signers"][0]["signature_valid"] is True
    assert alpha.org.json("contact", "list") == []


def test_other_organisation_is_reported_as_untrusted_root(
    alpha: Site, beta: Site, tmp_path: Path
) -> None:
    signed = _signed(beta, tmp_path)
    result = alpha.org.run("smime", "verify", "--in", str(signed))
    assert result.status == 1
    assert "untrusted root" in result.stdout
    assert _verify_json(alpha.org, signed)[1]["signers"][0]["chain"]["status"] == "untrusted-root"


def test_trusting_the_other_root_then_its_crls(alpha: Site, beta: Site, tmp_path: Path) -> None:
    signed = _signed(beta, tmp_path)
    alpha.org.ok("trust", "add-root", str(beta.files / "root.pem"))
    # the root alone: the chain builds, but the issuing CA's CRL is missing
    result = alpha.org.run("smime", "verify", "--in", str(signed))
    assert result.status == 1
    assert "no current CRL for CN=Beta Org S/MIME Issuing CA" in result.stdout
    assert "`postseal crl import FILE`" in result.stdout
    # that CRL cannot be imported before its issuer is known to the trust store
    refused = _single_error(alpha.org.run("crl", "import", str(beta.files / "issuing-crl.pem")))
    assert "not signed by any CA postseal knows" in refused
    assert "add-intermediate" in refused
    alpha.org.ok("trust", "add-intermediate", str(beta.files / "issuing.pem"))
    alpha.org.ok("crl", "import", str(beta.files / "issuing-crl.pem"))
    # the issuing CA's own revocation status comes from the root's CRL
    result = alpha.org.run("smime", "verify", "--in", str(signed))
    assert result.status == 1
    assert "no current CRL for CN=Beta Org Root CA" in result.stdout
    alpha.org.ok("crl", "import", str(beta.files / "root-crl.pem"))
    result = alpha.org.run("smime", "verify", "--in", str(signed), "--no-harvest")
    assert result.status == 0, result.stdout
    assert result.stdout.startswith(f"good signature by {beta.addr('alice')}")
    assert alpha.org.json("contact", "list") == []  # --no-harvest


def test_other_organisation_revocation_comes_from_its_crl(
    alpha: Site, beta: Site, tmp_path: Path
) -> None:
    signed = _signed(beta, tmp_path)
    _trust_other(alpha, beta)
    assert alpha.org.run("smime", "verify", "--in", str(signed)).status == 0
    beta.org.ok(
        "cert", "revoke", beta.org.serial_of(beta.addr("alice")), "--reason", "affiliationChanged"
    )
    fresh = tmp_path / "fresh-crl.pem"
    beta.org.ok("crl", "export", "--out", str(fresh))
    alpha.org.ok("crl", "import", str(fresh))
    result = alpha.org.run("smime", "verify", "--in", str(signed))
    assert result.status == 1
    assert re.search(
        rf"signer {re.escape(beta.addr('alice'))} revoked on \d{{4}}-\d\d-\d\d \(affiliationChanged\)",
        result.stdout,
    ), result.stdout


def test_harvested_contact_gets_the_strongest_common_algorithm(
    alpha: Site, beta: Site, tmp_path: Path
) -> None:
    signed = _signed(beta, tmp_path)
    _trust_other(alpha, beta)
    assert alpha.org.run("smime", "verify", "--in", str(signed)).status == 0
    contacts = alpha.org.json("contact", "list")
    (row,) = [c for c in contacts if c["address"] == beta.addr("alice")]
    assert row["source"] == "harvested"
    assert row["capabilities"] == [
        "aes256-gcm",
        "aes128-gcm",
        "aes256-cbc",
        "aes128-cbc",
        "rsaes-oaep",
    ]
    assert alpha.org.json("contact", "list", "--address", beta.addr("alice")) == [row]

    encrypted, stderr = _encrypt(alpha, tmp_path, "--to", beta.addr("alice"))
    assert stderr == (
        "postseal: AES-256-GCM with RSA-OAEP (SHA-256): "
        "the strongest cipher every recipient advertises\n"
    )
    assert "smime-type=authEnveloped-data" in _header(encrypted.read_bytes(), "Content-Type")[0]
    # the outside correspondent reads it with its own postseal
    opened = beta.org.run("smime", "decrypt", "--as", beta.addr("alice"), "--in", str(encrypted))
    assert opened.status == 0, opened.stderr
    assert _header(opened.stdout_bytes, "Subject") == [SUBJECT]
    assert "(aes256-gcm, rsa-oaep" in opened.stderr

    # with the sender's copy, alice's own (unknown) capabilities bring it down to CBC
    _, stderr = _encrypt(alpha, tmp_path, "--to", beta.addr("alice"), "--from", alpha.addr("alice"))
    assert stderr.startswith("postseal: AES-256-CBC with ")
    assert "RSA-OAEP (SHA-256)" in stderr
    assert "ECDH P-256" in stderr
    assert f"{alpha.addr('alice')}'s capabilities are unknown" in stderr


def test_contact_import_with_capabilities_and_remove(
    alpha: Site, beta: Site, tmp_path: Path
) -> None:
    _trust_other(alpha, beta)
    pem = tmp_path / "bob.pem"
    beta.org.ok("cert", "export", beta.addr("bob"), "--format", "pem", "--out", str(pem))
    bad = alpha.org.run("contact", "import", str(pem), "--capabilities", "aes128-cbc,rot13")
    assert "unknown capability 'rot13'" in _single_error(bad)
    imported = alpha.org.json("contact", "import", str(pem), "--capabilities", "aes128-cbc")
    assert [(r["address"], r["source"]) for r in imported] == [(beta.addr("bob"), "imported")]
    (row,) = alpha.org.json("contact", "list", "--address", beta.addr("bob"))
    assert row["capabilities"] == ["aes128-cbc"]

    encrypted, stderr = _encrypt(alpha, tmp_path, "--to", beta.addr("bob"))
    assert stderr == (
        "postseal: AES-128-CBC with RSA PKCS#1 v1.5: "
        "the strongest cipher every recipient advertises\n"
    )
    opened = beta.org.run("smime", "decrypt", "--as", beta.addr("bob"), "--in", str(encrypted))
    assert opened.status == 0, opened.stderr
    assert "(aes128-cbc, rsa-pkcs1v15)" in opened.stderr
    gcm = alpha.org.run(
        "smime",
        "encrypt",
        "--to",
        beta.addr("bob"),
        "--cipher",
        "aes256-gcm",
        "--in",
        str(encrypted),
    )
    assert "does not advertise it" in _single_error(gcm)

    removed = alpha.org.ok("contact", "remove", beta.addr("bob").upper())
    assert removed.stdout.strip() == f"removed 1 certificate(s) of {beta.addr('bob')}"
    assert alpha.org.json("contact", "list", "--address", beta.addr("bob")) == []
    target = tmp_path / "never.eml"
    refused = alpha.org.run(
        "smime", "encrypt", "--to", beta.addr("bob"), "--in", str(encrypted), "--out", str(target)
    )
    assert f"no valid certificate for {beta.addr('bob')}" in _single_error(refused)
    assert not target.exists()
    again = alpha.org.run("contact", "remove", beta.addr("bob"))
    assert "no contact" in _single_error(again)


def test_untrusted_imported_contact_explains_why_it_cannot_be_used(
    alpha: Site, beta: Site, tmp_path: Path
) -> None:
    pem = tmp_path / "bob.pem"
    beta.org.ok("cert", "export", beta.addr("bob"), "--format", "pem", "--out", str(pem))
    alpha.org.ok("contact", "import", str(pem))
    source = tmp_path / "plain.eml"
    source.write_bytes(alpha.message())
    refused = alpha.org.run("smime", "encrypt", "--to", beta.addr("bob"), "--in", str(source))
    assert "trust add-root" in _single_error(refused)


# -- encryption and decryption ------------------------------------------------------------


def test_encrypt_to_bob_readable_by_bob_and_the_sender(site: Site, tmp_path: Path) -> None:
    encrypted, stderr = _encrypt(
        site, tmp_path, "--to", site.addr("bob"), "--from", site.addr("alice")
    )
    km = "ECDH P-256" if site.key_type.startswith("ecdsa") else "RSA PKCS#1 v1.5"
    assert stderr.startswith(f"postseal: AES-256-CBC with {km}: ")
    assert stderr.endswith(" are unknown; NSS 3.87 and gpgsm 2.2 read nothing stronger\n")
    assert site.addr("bob") in stderr
    data = encrypted.read_bytes()
    assert "smime-type=enveloped-data" in _header(data, "Content-Type")[0]
    assert _header(data, "Subject") == [PLACEHOLDER]  # RFC 9788: the real one travels inside
    assert SUBJECT.encode() not in data
    assert b"Hello Bob" not in data
    assert _header(data, "From") == [site.addr("alice")]

    for reader in ("bob", "alice"):
        opened = site.org.run("smime", "decrypt", "--as", site.addr(reader), "--in", str(encrypted))
        assert opened.status == 0, opened.stderr
        assert _header(opened.stdout_bytes, "Subject") == [SUBJECT]
        assert _header(opened.stdout_bytes, "To") == [site.addr("bob")]
        assert b"Hello Bob.\r\nSecond line.\r\n" in opened.stdout_bytes
        assert re.fullmatch(r"postseal: decrypted \(aes256-cbc, [\w-]+\)\n", opened.stderr)


def test_decrypt_for_someone_else_or_without_a_key_is_one_clear_error(
    site: Site, tmp_path: Path
) -> None:
    encrypted, _ = _encrypt(site, tmp_path, "--to", site.addr("bob"))
    out = tmp_path / "never.eml"
    stranger = site.org.run(
        "smime", "decrypt", "--as", site.addr("admin"), "--in", str(encrypted), "--out", str(out)
    )
    assert f"not addressed to CN={site.addr('admin')}" in _single_error(stranger)
    keyless = site.org.run(
        "smime", "decrypt", "--as", site.addr("carol"), "--in", str(encrypted), "--out", str(out)
    )
    assert site.addr("carol") in _single_error(keyless)
    assert not out.exists()


def test_encrypt_to_users_without_certificates_names_all_and_produces_nothing(
    site: Site, tmp_path: Path
) -> None:
    source, target = tmp_path / "plain.eml", tmp_path / "never.eml"
    source.write_bytes(site.message())
    one = site.org.run(
        "smime", "encrypt", "--to", site.addr("carol"), "--in", str(source), "--out", str(target)
    )
    line = _single_error(one)
    assert f"cannot encrypt: no valid certificate for {site.addr('carol')}" in line
    assert not target.exists()
    several = site.org.run(
        "smime", "encrypt", "--to", site.addr("carol"), "--to", site.addr("bob"),
        "--to", "zed@nowhere.example", "--in", str(source), "--out", str(target),
    )  # fmt: skip
    line = _single_error(several)
    assert f"no valid certificate for {site.addr('carol')}, zed@nowhere.example" in line
    assert site.addr("bob") not in line
    assert not target.exists()
    assert several.stdout == ""


def test_sign_then_encrypt_and_decrypt_verifies_the_inner_signature(
    site: Site, tmp_path: Path
) -> None:
    encrypted, _ = _encrypt(
        site, tmp_path, "--to", site.addr("bob"), "--from", site.addr("alice"), "--sign"
    )
    assert _header(encrypted.read_bytes(), "Subject") == [PLACEHOLDER]
    opened = site.org.run("smime", "decrypt", "--as", site.addr("bob"), "--in", str(encrypted))
    assert opened.status == 0, opened.stderr
    lines = opened.stderr.splitlines()
    assert lines[0].startswith("postseal: decrypted (aes256-cbc, ")
    assert lines[1].startswith(f"postseal: good signature by {site.addr('alice')}, signed ")
    assert f"Subject: {SUBJECT}".encode() in opened.stdout_bytes
    assert "multipart/signed" in _header(opened.stdout_bytes, "Content-Type")[0]
    # an encrypt --sign without a sender cannot sign
    source = tmp_path / "plain.eml"
    refused = site.org.run(
        "smime", "encrypt", "--to", site.addr("bob"), "--sign", "--in", str(source)
    )
    assert "--from" in _single_error(refused)


def test_sign_then_encrypt_restores_the_real_subject(alpha: Site, tmp_path: Path) -> None:
    encrypted, _ = _encrypt(
        alpha, tmp_path, "--to", alpha.addr("bob"), "--from", alpha.addr("alice"), "--sign"
    )
    opened = alpha.org.run("smime", "decrypt", "--as", alpha.addr("bob"), "--in", str(encrypted))
    assert opened.status == 0, opened.stderr
    assert _header(opened.stdout_bytes, "Subject") == [SUBJECT]


@pytest.mark.parametrize("cipher", ["aes256-gcm", "aes128-cbc"])
def test_explicit_cipher_is_honoured(site: Site, tmp_path: Path, cipher: str) -> None:
    encrypted, stderr = _encrypt(site, tmp_path, "--to", site.addr("bob"), "--cipher", cipher)
    label = {"aes256-gcm": "AES-256-GCM", "aes128-cbc": "AES-128-CBC"}[cipher]
    assert stderr.startswith(f"postseal: {label} with ")
    assert stderr.endswith(": chosen explicitly by the caller\n")
    smime_type = "authEnveloped-data" if cipher.endswith("gcm") else "enveloped-data"
    assert f"smime-type={smime_type}" in _header(encrypted.read_bytes(), "Content-Type")[0]
    opened = site.org.run("smime", "decrypt", "--as", site.addr("bob"), "--in", str(encrypted))
    assert opened.status == 0, opened.stderr
    assert opened.stderr.startswith(f"postseal: decrypted ({cipher}, ")
    assert _header(opened.stdout_bytes, "Subject") == [SUBJECT]


def test_altered_gcm_ciphertext_is_message_altered(alpha: Site, tmp_path: Path) -> None:
    encrypted, _ = _encrypt(alpha, tmp_path, "--to", alpha.addr("bob"), "--cipher", "aes256-gcm")
    data = encrypted.read_bytes()
    head, _, body = re.split(rb"(\r?\n\r?\n)", data, maxsplit=1)
    der = bytearray(base64.b64decode(body))
    der[-40] ^= 0x01  # inside the ciphertext or the tag at the end
    bad = tmp_path / "bad.eml"
    bad.write_bytes(head + b"\r\n\r\n" + base64.encodebytes(bytes(der)))
    result = alpha.org.run("smime", "decrypt", "--as", alpha.addr("bob"), "--in", str(bad))
    assert "the message was altered or is not for this key" in _single_error(result)
    assert result.stdout == ""


# -- hostile input ------------------------------------------------------------------------


def _hostile_inputs(signed: bytes, pkcs7: bytes) -> dict[str, bytes]:
    """Damaged variants of a detached signature and of an application/pkcs7-mime message
    (signed-data for verify, enveloped-data for decrypt, so each reaches its DER parser)."""
    head, _, body = re.split(rb"(\r?\n\r?\n)", pkcs7, maxsplit=1)
    der = base64.b64decode(body)
    cut = signed.index(b"Content-Type: application/pkcs7-signature")
    boundary = re.search(rb'boundary="([^"]+)"', signed)
    assert boundary is not None
    return {
        "empty": b"",
        "random-bytes": random.Random(7).randbytes(3000),
        "truncated-base64": pkcs7[: len(pkcs7) - 37],
        "truncated-der": head + b"\r\n\r\n" + base64.encodebytes(der[: len(der) // 2]),
        "signature-part-cut": signed[:cut],
        "signature-part-empty": signed[:cut] + b"Content-Type: application/pkcs7-signature\r\n\r\n\r\n--"
        + boundary.group(1) + b"--\r\n",
        "absurd-length": head + b"\r\n\r\n" + base64.encodebytes(b"\x30\x84\x7f\xff\xff\xff" + der[:64]),
        "deep-nesting": head + b"\r\n\r\n" + base64.encodebytes(b"\x30\x80" * 4000),
    }  # fmt: skip


HOSTILE = [
    "empty",
    "random-bytes",
    "truncated-base64",
    "truncated-der",
    "signature-part-cut",
    "signature-part-empty",
    "absurd-length",
    "deep-nesting",
]


@pytest.fixture(scope="module")
def hostile(
    sites: dict[str, Site], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Path]:
    site = sites["ecdsa-p256"]
    base = tmp_path_factory.mktemp("hostile")
    signed = _signed(site, base).read_bytes()
    opaque = _signed(site, base, opaque=True).read_bytes()
    plain, encrypted = base / "plain.eml", base / "enc.eml"
    plain.write_bytes(site.message())
    args = ["--to", site.addr("bob"), "--in", str(plain), "--out", str(encrypted)]
    site.org.ok("smime", "encrypt", *args)
    paths = {}
    for action, pkcs7 in (("verify", opaque), ("decrypt", encrypted.read_bytes())):
        for name, data in _hostile_inputs(signed, pkcs7).items():
            paths[action, name] = base / f"{action}-{name}.eml"
            paths[action, name].write_bytes(data)
    return paths


@pytest.mark.parametrize("case", HOSTILE)
@pytest.mark.parametrize("action", ["verify", "decrypt"])
def test_hostile_input_is_one_clear_error_in_bounded_time(
    sites: dict[str, Site],
    hostile: dict[tuple[str, str], Path],
    tmp_path: Path,
    action: str,
    case: str,
) -> None:
    site = sites["ecdsa-p256"]
    out = tmp_path / "never.eml"
    args = ["--as", site.addr("bob")] if action == "decrypt" else ["--no-harvest"]
    start = time.monotonic()
    result = site.org.run(
        "smime", action, *args, "--in", str(hostile[action, case]), "--out", str(out)
    )
    elapsed = time.monotonic() - start
    assert elapsed < BOUNDED_SECONDS
    line = _single_error(result)
    assert len(line) < 400
    assert result.stdout == ""
    assert not out.exists()
