"""postseal signatures against real peers: OpenSSL 3.0, gpgsm 2.2 and NSS (Thunderbird's
engine), both ways, plus tampered content (see INTEROP.md for the command lines)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from postseal.smime.mime import build_pkcs7_mime, parse_smime
from postseal.smime.sign import sign
from postseal.smime.verify import verify, verify_cms, verify_detached
from tests.peers import require_tool, shared_testdata
from tests.smime.signing_fixtures import NOW, P12_PASSWORD, pki, write_pki_files

pytestmark = pytest.mark.interop

MSG = (
    b"From: {who}@example.org\r\nTo: bob@example.org\r\nSubject: interop\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    b"Gr\xc3\xbc\xc3\x9fe aus postseal.\r\nZweite Zeile.\r\n"
)
SIGNED = [("alice", False), ("alice", True), ("carol", False), ("carol", True)]
IDS = ["rsa-detached", "rsa-opaque", "ecdsa-detached", "ecdsa-opaque"]


def _run(
    *cmd: str | Path,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, check=False, timeout=30, env=env, input=stdin
    )


def _split() -> Path:
    return shared_testdata().parent / "interop" / "smime_split.py"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("peers")
    write_pki_files(base, "alice", "carol", "bob")
    p = pki()
    for name in ("alice", "carol", "bob"):
        user = p.users[name]
        body = MSG.replace(b"{who}", name.encode())
        (base / f"{name}.mime").write_bytes(body)
        for opaque in (False, True):
            signed = sign(
                body,
                signer_cert=user.cert,
                signer_key=user.key,
                chain=p.chain,
                signing_time=NOW,
                opaque=opaque,
            )
            (base / f"{name}-{'opaque' if opaque else 'detached'}.eml").write_bytes(signed)
            bad = _tamper(signed, opaque=opaque)
            (base / f"{name}-{'opaque' if opaque else 'detached'}-tampered.eml").write_bytes(bad)
    return base


def _tamper(signed: bytes, *, opaque: bool) -> bytes:
    if not opaque:
        return signed.replace(b"Zweite Zeile.", b"Zweite Zeile!")
    der = parse_smime(signed).der  # type: ignore[union-attr]
    return build_pkcs7_mime(
        der.replace(b"Zweite Zeile.", b"Zweite Zeile!"), smime_type="signed-data"
    )


def _name(signer: str, opaque: bool, tampered: bool = False) -> str:
    return f"{signer}-{'opaque' if opaque else 'detached'}{'-tampered' if tampered else ''}.eml"


# ---------------------------------------------------------------- OpenSSL


def _openssl_verify(work: Path, message: str) -> subprocess.CompletedProcess[bytes]:
    openssl = require_tool("openssl", package="openssl")
    return _run(
        openssl,
        "cms",
        "-verify",
        "-in",
        work / message,
        "-CAfile",
        work / "cas+crl.pem",
        "-crl_check",
        "-purpose",
        "smimesign",
        "-out",
        work / f"{message}.out",
    )


@pytest.mark.parametrize(("signer", "opaque"), SIGNED, ids=IDS)
def test_openssl_verifies_ours(work: Path, signer: str, opaque: bool) -> None:
    good = _openssl_verify(work, _name(signer, opaque))
    assert good.returncode == 0, good.stderr.decode()
    assert b"Zweite Zeile." in (work / f"{_name(signer, opaque)}.out").read_bytes()
    bad = _openssl_verify(work, _name(signer, opaque, tampered=True))
    assert bad.returncode != 0
    assert not verify(
        (work / _name(signer, opaque, True)).read_bytes(), validate_chain=pki().validator(), now=NOW
    ).ok


def test_openssl_rejects_our_revoked_signer(work: Path) -> None:
    assert _openssl_verify(work, _name("bob", False)).returncode != 0


@pytest.mark.parametrize("signer", ["alice", "carol"])
@pytest.mark.parametrize("nodetach", [False, True], ids=["detached", "opaque"])
def test_we_verify_openssl(work: Path, signer: str, nodetach: bool) -> None:
    openssl = require_tool("openssl", package="openssl")
    out = work / f"openssl-{signer}-{nodetach}.eml"
    extra = ["-nodetach"] if nodetach else []
    made = _run(
        openssl,
        "cms",
        "-sign",
        "-in",
        work / f"{signer}.mime",
        "-signer",
        work / f"{signer}.pem",
        "-inkey",
        work / f"{signer}.key",
        "-certfile",
        work / "issuing.pem",
        "-md",
        "sha256",
        *extra,
        "-out",
        out,
    )
    assert made.returncode == 0, made.stderr.decode()
    result = verify(out.read_bytes(), validate_chain=pki().validator(), now=NOW)
    assert result.ok, result.summary()
    tampered = out.read_bytes().replace(b"Zweite Zeile.", b"Zweite Zeile!")
    if not nodetach:
        assert not verify(tampered, validate_chain=pki().validator(), now=NOW).ok


def test_we_verify_openssl_two_signers_and_sha1(work: Path) -> None:
    openssl = require_tool("openssl", package="openssl")
    two = work / "openssl-two.eml"
    made = _run(
        openssl,
        "cms",
        "-sign",
        "-in",
        work / "alice.mime",
        "-signer",
        work / "alice.pem",
        "-inkey",
        work / "alice.key",
        "-signer",
        work / "carol.pem",
        "-inkey",
        work / "carol.key",
        "-certfile",
        work / "issuing.pem",
        "-out",
        two,
    )
    assert made.returncode == 0, made.stderr.decode()
    result = verify(two.read_bytes(), validate_chain=pki().validator(), now=NOW)
    assert len(result.signers) == 2
    assert {s.addresses[0]: s.from_matches for s in result.signers} == {
        "alice@example.org": True,
        "carol@example.org": False,
    }
    assert all(s.content_intact and s.signature_valid and s.chain.trusted for s in result.signers)
    weak = work / "openssl-sha1.eml"
    made = _run(
        openssl,
        "cms",
        "-sign",
        "-in",
        work / "alice.mime",
        "-signer",
        work / "alice.pem",
        "-inkey",
        work / "alice.key",
        "-md",
        "sha1",
        "-out",
        weak,
    )
    assert made.returncode == 0, made.stderr.decode()
    strict = verify(
        weak.read_bytes(), validate_chain=pki().validator(), now=NOW, extra_certs=[pki().issuing]
    )
    assert not strict.ok
    assert not strict.signers[0].algorithm_acceptable


# ---------------------------------------------------------------- gpgsm


@pytest.fixture(scope="module")
def gnupg(work: Path) -> Iterator[dict[str, str]]:
    gpgsm = require_tool("gpgsm", package="gpgsm")
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    (home / "gpg-agent.conf").write_text("allow-loopback-pinentry\n")
    (home / "gpgsm.conf").write_text("disable-dirmngr\n")
    env = {**os.environ, "GNUPGHOME": str(home)}
    # gpgsm trustlist entries are SHA-1 fingerprints
    fingerprint = pki().root.fingerprint(hashes.SHA1()).hex(":").upper()  # noqa: S303
    (home / "trustlist.txt").write_text(f"{fingerprint} S relax\n")
    for der in ("root.der", "issuing.der"):
        assert _run(gpgsm, "--batch", "--import", work / der, env=env).returncode == 0
    yield env
    gpgconf = require_tool("gpgconf", package="gnupg")
    _run(gpgconf, "--kill", "all", env=env)


def _gpgsm(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return _run(
        "gpgsm",
        "--batch",
        "--yes",
        "--pinentry-mode",
        "loopback",
        "--passphrase-fd",
        "0",
        *args,
        env=env,
        stdin=P12_PASSWORD + b"\n",
    )


@pytest.mark.parametrize(("signer", "opaque"), SIGNED, ids=IDS)
def test_gpgsm_verifies_ours(work: Path, gnupg: dict[str, str], signer: str, opaque: bool) -> None:
    for tampered in (False, True):
        message = work / _name(signer, opaque, tampered)
        if opaque:
            der = work / f"{message.name}.p7m"
            _run(sys.executable, _split(), "p7m", message, der)
            run = _gpgsm(
                gnupg,
                "--disable-crl-checks",
                "--output",
                work / f"{message.name}.g",
                "--verify",
                der,
            )
        else:
            content, sig = work / f"{message.name}.c", work / f"{message.name}.s"
            _run(sys.executable, _split(), "signed", message, content, sig)
            run = _gpgsm(gnupg, "--disable-crl-checks", "--verify", sig, content)
        if tampered:
            assert run.returncode != 0
        else:
            assert run.returncode == 0, run.stderr.decode()
            assert b"Good signature" in run.stderr


def test_we_verify_gpgsm(work: Path, gnupg: dict[str, str]) -> None:
    user = pki().users["alice"]
    p = pki()
    for _ in range(8):  # gpgsm 2.2 rejects some valid legacy p12 files: fresh salt, retry
        legacy = pkcs12.serialize_key_and_certificates(
            b"alice",
            user.key,
            user.cert,
            [p.issuing, p.root],  # type: ignore[arg-type]
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())  # noqa: S303 - legacy p12 for gpgsm
            .build(P12_PASSWORD),
        )
        (work / "alice-retry.p12").write_bytes(legacy)
        imported = _gpgsm(gnupg, "--import", work / "alice-retry.p12")
        if b"secret keys imported: 1" in imported.stderr:
            break
    else:
        pytest.fail("gpgsm would not import the PKCS#12 file")
    sig = work / "gpgsm.sig"
    made = _gpgsm(
        gnupg,
        "--local-user",
        "alice@example.org",
        "--include-certs",
        "-1",
        "--detach-sign",
        "--output",
        sig,
        work / "alice.mime",
    )
    assert made.returncode == 0, made.stderr.decode()
    content = (work / "alice.mime").read_bytes()
    result = verify_detached(content, sig.read_bytes(), validate_chain=pki().validator(), now=NOW)
    assert result.ok, result.summary()
    bad = verify_detached(
        content.replace(b"Zweite", b"Dritte"),
        sig.read_bytes(),
        validate_chain=pki().validator(),
        now=NOW,
    )
    assert not bad.signers[0].content_intact


# ---------------------------------------------------------------- NSS


@pytest.fixture(scope="module")
def nssdb(work: Path) -> Path:
    certutil = require_tool("certutil", package="libnss3-tools")
    db = work / "nss"
    db.mkdir()
    dbarg = f"sql:{db}"
    assert _run(certutil, "-N", "-d", dbarg, "--empty-password").returncode == 0
    assert (
        _run(
            certutil, "-A", "-d", dbarg, "-n", "Test Root", "-t", ",C,", "-i", work / "root.pem"
        ).returncode
        == 0
    )
    imported = _run(
        "pk12util", "-i", work / "alice.p12", "-d", dbarg, "-W", P12_PASSWORD.decode(), "-K", ""
    )
    assert imported.returncode == 0, imported.stderr.decode()
    # after the p12 import: crlutil needs the CRL's issuer (our issuing CA) in the database
    crl = _run("crlutil", "-I", "-d", dbarg, "-i", work / "crl.der")
    assert crl.returncode == 0, crl.stderr.decode()
    return db


def _nss_status(db: Path, der: Path, content: Path | None) -> str:
    cmsutil = require_tool("cmsutil", package="libnss3-tools")
    extra = ["-c", content] if content else []
    run = _run(cmsutil, "-D", "-i", der, *extra, "-d", f"sql:{db}", "-u", "4", "-n", "-h", "2")
    found = re.search(r"signer0\.status=([A-Za-z]+)", run.stdout.decode(errors="replace"))
    if found:
        return found.group(1)
    return f"no status (rc={run.returncode}: {run.stderr.decode(errors='replace')[:200]})"


@pytest.mark.parametrize(("signer", "opaque"), SIGNED, ids=IDS)
def test_nss_verifies_ours(work: Path, nssdb: Path, signer: str, opaque: bool) -> None:
    statuses = []
    for tampered in (False, True):
        message = work / _name(signer, opaque, tampered)
        if opaque:
            der = work / f"{message.name}.n.p7m"
            _run(sys.executable, _split(), "p7m", message, der)
            statuses.append(_nss_status(nssdb, der, None))
        else:
            content, sig = work / f"{message.name}.nc", work / f"{message.name}.ns"
            _run(sys.executable, _split(), "signed", message, content, sig)
            statuses.append(_nss_status(nssdb, sig, content))
    good, bad = statuses
    assert good == "GoodSignature"
    assert bad != "GoodSignature"


def test_nss_reports_revoked_signer_untrusted(work: Path, nssdb: Path) -> None:
    content, sig = work / "bob.nc", work / "bob.ns"
    _run(sys.executable, _split(), "signed", work / _name("bob", False), content, sig)
    assert _nss_status(nssdb, sig, content) == "SigningCertNotTrusted"


@pytest.mark.parametrize("detached", [True, False], ids=["detached", "opaque"])
def test_we_verify_nss(work: Path, nssdb: Path, detached: bool) -> None:
    cmsutil = require_tool("cmsutil", package="libnss3-tools")
    out = work / f"nss-{detached}.der"
    flags = ["-T"] if detached else []
    # -Y NONE: by default cmsutil names the signing certificate as encryption key and
    # refuses because it lacks keyEncipherment (SEC_ERROR_INADEQUATE_KEY_USAGE)
    made = _run(
        cmsutil,
        "-S",
        *flags,
        "-G",
        "-Y",
        "NONE",
        "-P",
        "-N",
        "alice",
        "-H",
        "SHA256",
        "-i",
        work / "alice.mime",
        "-d",
        f"sql:{nssdb}",
        "-p",
        "",
        "-o",
        out,
    )
    assert made.returncode == 0, made.stderr.decode()
    content = (work / "alice.mime").read_bytes()
    result = verify_cms(
        out.read_bytes(),
        content=content if detached else None,
        validate_chain=pki().validator(),
        now=NOW,
    )
    assert result.ok, result.summary()
    assert result.content == content
    if detached:
        bad = verify_detached(
            content + b"x", out.read_bytes(), validate_chain=pki().validator(), now=NOW
        )
        assert not bad.ok
