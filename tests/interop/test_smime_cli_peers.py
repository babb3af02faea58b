"""The ``postseal smime`` command line judged by real peers (INTEROP.md command lines):
OpenSSL 3.0 verifies and decrypts what the CLI writes, the CLI verifies and decrypts what
OpenSSL writes, and NSS (Thunderbird's engine) accepts a CLI signature."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.e2e.cli import Org, copy_org, init_org
from tests.peers import require_tool, shared_testdata

pytestmark = pytest.mark.interop

KEY_TYPES = ("rsa-2048", "ecdsa-p256")
P12_PASSWORD = "interop-pass-1"
SUBJECT = "CLI interop"
TIMEOUT = 30


@dataclass(frozen=True)
class Peer:
    org: Org
    key_type: str
    files: Path

    def path(self, name: str) -> Path:
        return self.files / name


def _run(*cmd: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, check=False, timeout=TIMEOUT, input=stdin
    )


def _message(sender: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: bob@example.org\r\nSubject: {SUBJECT}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Gr\u00fc\u00dfe aus postseal.\r\nZweite Zeile.\r\n"
    ).encode()


def _export_key(org: Org, address: str, files: Path, name: str) -> None:
    """``name.pem`` (certificate) and ``name.key`` (private key, unencrypted PEM)."""
    openssl = require_tool("openssl", package="openssl")
    p12 = files / f"{name}.p12"
    org.ok(
        "cert", "export", address, "--format", "p12", "--with-key", "--password-stdin",
        "--out", str(p12), stdin=f"{P12_PASSWORD}\n",
    )  # fmt: skip
    org.ok("cert", "export", address, "--format", "pem", "--out", str(files / f"{name}.pem"))
    extracted = _run(
        openssl, "pkcs12", "-in", p12, "-nodes", "-nocerts", "-passin", f"pass:{P12_PASSWORD}",
        "-out", files / f"{name}.key",
    )  # fmt: skip
    assert extracted.returncode == 0, extracted.stderr.decode()


@pytest.fixture(scope="module", params=KEY_TYPES)
def peer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Peer:
    key_type: str = request.param
    base = tmp_path_factory.mktemp(f"cli-peers-{key_type}")
    org = init_org(base / "org", key_type=key_type)
    for local in ("alice", "bob"):
        org.ok("user", "add", f"{local}@example.org")
    files = base / "files"
    files.mkdir()
    org.ok("ca", "export", "--out", str(files / "cas.pem"))
    root, issuing = x509.load_pem_x509_certificates((files / "cas.pem").read_bytes())
    (files / "root.pem").write_bytes(root.public_bytes(Encoding.PEM))
    (files / "issuing.pem").write_bytes(issuing.public_bytes(Encoding.PEM))
    org.ok("crl", "export", "--out", str(files / "crl.pem"))
    org.ok("crl", "export", "--format", "der", "--out", str(files / "crl.der"))
    # OpenSSL 3.0 `cms` has no -CRLfile: the CRL goes into the CAfile bundle
    bundle = (files / "cas.pem").read_bytes() + (files / "crl.pem").read_bytes()
    (files / "cas+crl.pem").write_bytes(bundle)
    _export_key(org, "alice@example.org", files, "alice")
    _export_key(org, "bob@example.org", files, "bob")
    (files / "msg.mime").write_bytes(_message("alice@example.org"))
    return Peer(org, key_type, files)


def _openssl_verify(peer: Peer, signed: Path, cafile: Path) -> subprocess.CompletedProcess[bytes]:
    openssl = require_tool("openssl", package="openssl")
    return _run(
        openssl, "cms", "-verify", "-in", signed, "-CAfile", cafile, "-crl_check",
        "-purpose", "smimesign", "-out", signed.with_suffix(".content"),
    )  # fmt: skip


def _cli_sign(peer: Peer, name: str, *extra: str) -> Path:
    out = peer.path(name)
    peer.org.ok(
        "smime", "sign", "--as", "alice@example.org", "--in", str(peer.path("msg.mime")),
        "--out", str(out), *extra,
    )  # fmt: skip
    return out


# ---------------------------------------------------------------- postseal -> OpenSSL


@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
def test_openssl_verifies_cli_signature(peer: Peer, opaque: bool) -> None:
    signed = _cli_sign(peer, f"cli-signed-{opaque}.eml", *(["--opaque"] if opaque else []))
    good = _openssl_verify(peer, signed, peer.path("cas+crl.pem"))
    assert good.returncode == 0, good.stderr.decode()
    assert b"Verification successful" in good.stderr
    ours = peer.path(f"cli-signed-{opaque}.ours")
    verified = peer.org.run(
        "smime", "verify", "--no-harvest", "--in", str(signed), "--out", str(ours)
    )
    assert verified.status == 0, verified.stdout
    # the 8-bit body was re-encoded before signing; both sides see the same signed entity
    content = signed.with_suffix(".content").read_bytes()
    assert content == ours.read_bytes()
    assert b"Content-Transfer-Encoding: quoted-printable" in content
    assert b"Zweite Zeile." in content


def test_openssl_rejects_cli_signature_after_revocation(peer: Peer, tmp_path: Path) -> None:
    own = copy_org(peer.org, tmp_path / "org")
    signed = tmp_path / "signed.eml"
    own.ok(
        "smime", "sign", "--as", "alice@example.org", "--in", str(peer.path("msg.mime")),
        "--out", str(signed),
    )  # fmt: skip
    own.ok("cert", "revoke", own.serial_of("alice@example.org"), "--reason", "keyCompromise")
    own.ok("crl", "export", "--out", str(tmp_path / "crl.pem"))
    bundle = tmp_path / "cas+crl.pem"
    bundle.write_bytes(peer.path("cas.pem").read_bytes() + (tmp_path / "crl.pem").read_bytes())
    bad = _openssl_verify(peer, signed, bundle)
    assert bad.returncode != 0
    assert b"revoked" in bad.stderr


def test_openssl_decrypts_cli_encryption(peer: Peer) -> None:
    openssl = require_tool("openssl", package="openssl")
    encrypted = peer.path("cli-encrypted.eml")
    made = peer.org.run(
        "smime", "encrypt", "--to", "bob@example.org", "--from", "alice@example.org",
        "--in", str(peer.path("msg.mime")), "--out", str(encrypted),
    )  # fmt: skip
    assert made.status == 0, made.stderr
    assert "AES-256-CBC" in made.stderr
    plain = peer.path("cli-encrypted.plain")
    opened = _run(
        openssl, "cms", "-decrypt", "-in", encrypted, "-recip", peer.path("bob.pem"),
        "-inkey", peer.path("bob.key"), "-out", plain,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr.decode()
    entity = plain.read_bytes()
    assert f"Subject: {SUBJECT}".encode() in entity  # RFC 9788: protected inside
    assert "Grüße aus postseal.".encode() in entity or b"Gr=C3=BC=C3=9Fe" in entity
    assert b"Zweite Zeile." in entity


# ---------------------------------------------------------------- OpenSSL -> postseal


@pytest.mark.parametrize("nodetach", [False, True], ids=["detached", "opaque"])
def test_cli_verifies_openssl_signature(peer: Peer, nodetach: bool, tmp_path: Path) -> None:
    openssl = require_tool("openssl", package="openssl")
    signed = tmp_path / "openssl-signed.eml"
    made = _run(
        openssl, "cms", "-sign", "-in", peer.path("msg.mime"), "-signer", peer.path("alice.pem"),
        "-inkey", peer.path("alice.key"), "-certfile", peer.path("issuing.pem"), "-md", "sha256",
        *(["-nodetach"] if nodetach else []), "-out", signed,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr.decode()
    result = peer.org.run("smime", "verify", "--no-harvest", "--in", str(signed))
    assert result.status == 0, result.stdout + result.stderr
    assert result.stdout.startswith("good signature by alice@example.org")
    tampered = tmp_path / "tampered.eml"
    tampered.write_bytes(signed.read_bytes().replace(b"Zweite Zeile.", b"Zweite Zeile!"))
    if not nodetach:
        bad = peer.org.run("smime", "verify", "--no-harvest", "--in", str(tampered))
        assert bad.status == 1
        assert "content altered" in bad.stdout


@pytest.mark.parametrize("cipher", ["-aes-256-cbc", "-aes-128-gcm"])
def test_cli_decrypts_openssl_encryption(peer: Peer, cipher: str, tmp_path: Path) -> None:
    openssl = require_tool("openssl", package="openssl")
    encrypted = tmp_path / "openssl-encrypted.eml"
    made = _run(
        openssl, "cms", "-encrypt", cipher, "-in", peer.path("msg.mime"), "-out", encrypted,
        "-from", "alice@example.org", "-to", "bob@example.org", "-subject", SUBJECT,
        peer.path("bob.pem"),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr.decode()
    opened = peer.org.run("smime", "decrypt", "--as", "bob@example.org", "--in", str(encrypted))
    assert opened.status == 0, opened.stderr
    expected = cipher.removeprefix("-").replace("aes-256", "aes256").replace("aes-128", "aes128")
    assert opened.stderr.startswith(f"postseal: decrypted ({expected}, ")
    assert opened.stdout_bytes.endswith("Grüße aus postseal.\r\nZweite Zeile.\r\n".encode())
    assert f"Subject: {SUBJECT}".encode() in opened.stdout_bytes


# ---------------------------------------------------------------- postseal -> NSS


def test_nss_accepts_cli_signature(peer: Peer, tmp_path: Path) -> None:
    certutil = require_tool("certutil", package="libnss3-tools")
    cmsutil = require_tool("cmsutil", package="libnss3-tools")
    split = shared_testdata().parent / "interop" / "smime_split.py"
    db = tmp_path / "nss"
    db.mkdir()
    dbarg = f"sql:{db}"
    assert _run(certutil, "-N", "-d", dbarg, "--empty-password").returncode == 0
    added = _run(
        certutil, "-A", "-d", dbarg, "-n", "Org Root", "-t", ",C,", "-i", peer.path("root.pem")
    )
    assert added.returncode == 0, added.stderr.decode()
    statuses = []
    for tampered in (False, True):
        signed = _cli_sign(peer, f"nss-{tampered}.eml")
        if tampered:
            signed.write_bytes(signed.read_bytes().replace(b"Zweite Zeile.", b"Zweite Zeile!"))
        content, sig = tmp_path / f"{tampered}.content", tmp_path / f"{tampered}.p7s"
        cut = _run(sys.executable, split, "signed", signed, content, sig)
        assert cut.returncode == 0, cut.stderr.decode()
        shown = _run(
            cmsutil, "-D", "-i", sig, "-c", content, "-d", dbarg, "-u", "4", "-n", "-h", "2"
        )
        found = re.search(r"signer0\.status=([A-Za-z]+)", shown.stdout.decode(errors="replace"))
        statuses.append(found.group(1) if found else f"none: {shown.stderr.decode()[:200]}")
    assert statuses[0] == "GoodSignature"
    assert statuses[1] == "DigestMismatch"
