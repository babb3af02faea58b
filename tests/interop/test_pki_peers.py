"""Issue 2 acceptance against real peers: OpenSSL, NSS (Thunderbird's engine) and gpgsm
judge the CA, CRLs and PKCS#12 exports that the postseal CLI produces (see
shared/INTEROP.md for the command lines and their traps)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.e2e.cli import Org, copy_org, init_org
from tests.peers import require_tool

pytestmark = pytest.mark.interop

PEER_TIMEOUT = 60
P12_PASSWORD = "interop-pass-1234"
GPGSM_MAX_ATTEMPTS = 8


def _run(
    args: list[str], *, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=PEER_TIMEOUT,
        check=False,
        input=stdin,
        env=None if env is None else {**os.environ, **env},
    )


@dataclass(frozen=True, slots=True)
class Exported:
    root: Path
    issuing: Path
    crl_pem: Path
    crl_der: Path


def _export_ca(org: Org, where: Path) -> Exported:
    """``ca export`` split into root and issuing CA, and the issuing CA's latest CRL."""
    where.mkdir(parents=True, exist_ok=True)
    bundle = org.ok("ca", "export").stdout_bytes
    root, issuing = x509.load_pem_x509_certificates(bundle)
    assert root.subject == root.issuer
    assert issuing.issuer == root.subject
    paths = Exported(
        where / "root.pem", where / "issuing.pem", where / "crl.pem", where / "crl.der"
    )
    paths.root.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    paths.issuing.write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    org.ok("crl", "export", "--out", str(paths.crl_pem))
    org.ok("crl", "export", "--format", "der", "--out", str(paths.crl_der))
    return paths


def _user_pem(org: Org, address: str, path: Path) -> Path:
    org.ok("cert", "export", address, "--format", "pem", "--out", str(path))
    return path


def _p12(org: Org, address: str, path: Path, *, legacy: bool) -> Path:
    org.ok(
        "cert",
        "export",
        address,
        "--format",
        "p12",
        "--with-key",
        "--password-stdin",
        *(["--legacy-p12"] if legacy else []),
        "--out",
        str(path),
        stdin=P12_PASSWORD + "\n",
    )
    return path


@pytest.fixture(scope="module")
def rsa_org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    org = init_org(tmp_path_factory.mktemp("rsa") / "org", key_type="rsa-2048", org="Interop RSA")
    for address in ("bob@example.org", "carol@example.org", "dave@example.org"):
        org.ok("user", "add", address)
    return org


@pytest.fixture(scope="module")
def ec_org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    org = init_org(tmp_path_factory.mktemp("ec") / "org", key_type="ecdsa-p256", org="Interop EC")
    org.ok("user", "add", "bob@example.org")
    return org


@pytest.fixture(params=["rsa", "ec"])
def any_org(request: pytest.FixtureRequest, tmp_path: Path) -> Org:
    shared: Org = request.getfixturevalue(f"{request.param}_org")
    return copy_org(shared, tmp_path / "org")


# -- OpenSSL -----------------------------------------------------------------------------------


def test_openssl_verify_accepts_then_rejects_after_revoke(any_org: Org, tmp_path: Path) -> None:
    openssl = require_tool("openssl", package="openssl")
    user = _user_pem(any_org, "bob@example.org", tmp_path / "user.pem")

    def verify(ca: Exported) -> subprocess.CompletedProcess[str]:
        return _run(
            [
                openssl,
                "verify",
                "-CAfile",
                str(ca.root),
                "-untrusted",
                str(ca.issuing),
                "-purpose",
                "smimesign",
                "-crl_check",
                "-CRLfile",
                str(ca.crl_pem),
                str(user),
            ]
        )

    accepted = verify(_export_ca(any_org, tmp_path / "before"))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert accepted.stdout.strip() == f"{user}: OK"

    any_org.ok("cert", "revoke", any_org.serial_of("bob@example.org"), "--reason", "keyCompromise")
    any_org.ok("crl", "publish")
    rejected = verify(_export_ca(any_org, tmp_path / "after"))
    assert rejected.returncode != 0
    assert "certificate revoked" in rejected.stdout + rejected.stderr


def test_openssl_refuses_without_a_crl_for_the_issuer(rsa_org: Org, tmp_path: Path) -> None:
    """-crl_check cannot silently pass: the exported CRL is what makes verify succeed."""
    openssl = require_tool("openssl", package="openssl")
    ca = _export_ca(rsa_org, tmp_path)
    user = _user_pem(rsa_org, "bob@example.org", tmp_path / "user.pem")
    done = _run(
        [
            openssl,
            "verify",
            "-CAfile",
            str(ca.root),
            "-untrusted",
            str(ca.issuing),
            "-purpose",
            "smimesign",
            "-crl_check",
            str(user),
        ]
    )
    assert done.returncode != 0
    assert "unable to get certificate CRL" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("legacy", "profile"),
    [(False, "PBES2, PBKDF2, AES-256-CBC"), (True, "pbeWithSHA1And3-KeyTripleDES-CBC")],
    ids=["aes", "legacy"],
)
def test_openssl_opens_both_p12_profiles_with_the_right_password_only(
    rsa_org: Org, tmp_path: Path, legacy: bool, profile: str
) -> None:
    openssl = require_tool("openssl", package="openssl")
    p12 = _p12(rsa_org, "bob@example.org", tmp_path / "bob.p12", legacy=legacy)
    base = [openssl, "pkcs12", "-info", "-noout", "-in", str(p12), *(["-legacy"] if legacy else [])]
    good = _run([*base, "-passin", f"pass:{P12_PASSWORD}"])
    assert good.returncode == 0, good.stderr
    assert f"Shrouded Keybag: {profile}" in good.stderr
    assert good.stderr.count("Certificate bag") == 3  # the user, the issuing CA and the root
    bad = _run([*base, "-passin", "pass:not-the-password"])
    assert bad.returncode != 0
    assert "mac verify error" in bad.stderr.lower()


# -- NSS -------------------------------------------------------------------------------------------


def _nss_db(ca: Exported, where: Path) -> Path:
    certutil = require_tool("certutil", package="libnss3-tools")
    where.mkdir()
    db = f"sql:{where}"
    for args in (
        ["-N", "-d", db, "--empty-password"],
        ["-A", "-d", db, "-n", "postseal root", "-t", ",C,", "-i", str(ca.root)],
        ["-A", "-d", db, "-n", "postseal issuing", "-t", ",,", "-i", str(ca.issuing)],
    ):
        done = _run([certutil, *args])
        assert done.returncode == 0, done.stderr
    return where


def _nss_verify(db: Path, nickname: str, usage: str) -> str:
    certutil = require_tool("certutil", package="libnss3-tools")
    done = _run([certutil, "-V", "-d", f"sql:{db}", "-n", nickname, "-u", usage])
    return (done.stdout + done.stderr).strip()


def test_nss_accepts_an_rsa_user_as_signer_and_recipient_then_honours_the_crl(
    rsa_org: Org, tmp_path: Path
) -> None:
    certutil = require_tool("certutil", package="libnss3-tools")
    pk12util = require_tool("pk12util", package="libnss3-tools")
    crlutil = require_tool("crlutil", package="libnss3-tools")
    org = copy_org(rsa_org, tmp_path / "org")
    db = _nss_db(_export_ca(org, tmp_path / "ca"), tmp_path / "nss")
    p12 = _p12(org, "carol@example.org", tmp_path / "carol.p12", legacy=False)
    imported = _run([pk12util, "-i", str(p12), "-d", f"sql:{db}", "-W", P12_PASSWORD, "-K", ""])
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "PKCS12 IMPORT SUCCESSFUL" in imported.stdout + imported.stderr

    listing = _run([certutil, "-L", "-d", f"sql:{db}"]).stdout
    nickname = "carol@example.org"  # the p12 friendly name
    assert any(line.startswith(nickname) and "u,u,u" in line for line in listing.splitlines()), (
        listing
    )
    assert _nss_verify(db, nickname, "S") == "certutil: certificate is valid"
    assert _nss_verify(db, nickname, "R") == "certutil: certificate is valid"

    org.ok("cert", "revoke", org.serial_of("carol@example.org"), "--reason", "keyCompromise")
    after = _export_ca(org, tmp_path / "after")
    done = _run([crlutil, "-I", "-d", f"sql:{db}", "-i", str(after.crl_der)])
    assert done.returncode == 0, done.stderr
    for usage in ("S", "R"):
        verdict = _nss_verify(db, nickname, usage)
        assert "certificate is invalid" in verdict
        assert "revoked" in verdict


def test_nss_reads_the_legacy_p12_too(rsa_org: Org, tmp_path: Path) -> None:
    pk12util = require_tool("pk12util", package="libnss3-tools")
    db = _nss_db(_export_ca(rsa_org, tmp_path / "ca"), tmp_path / "nss")
    p12 = _p12(rsa_org, "bob@example.org", tmp_path / "bob.p12", legacy=True)
    wrong = _run([pk12util, "-i", str(p12), "-d", f"sql:{db}", "-W", "not-the-password", "-K", ""])
    assert wrong.returncode != 0
    imported = _run([pk12util, "-i", str(p12), "-d", f"sql:{db}", "-W", P12_PASSWORD, "-K", ""])
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert _nss_verify(db, "bob@example.org", "S") == "certutil: certificate is valid"


# -- gpgsm --------------------------------------------------------------------------------------------


@pytest.fixture
def gnupghome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private GNUPGHOME (short path: the agent's socket lives in it); its agent is
    stopped afterwards."""
    require_tool("gpgsm", package="gpgsm")
    home = tmp_path_factory.mktemp("gpg")
    home.chmod(0o700)
    (home / "gpg-agent.conf").write_text("allow-loopback-pinentry\n")
    (home / "gpgsm.conf").write_text("disable-dirmngr\n")
    try:
        yield home
    finally:
        gpgconf = require_tool("gpgconf", package="gnupg")
        _run([gpgconf, "--kill", "all"], env={"GNUPGHOME": str(home)})


def _gpgsm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(
        ["gpgsm", "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase-fd", "0", *args],
        env={"GNUPGHOME": str(home)},
        stdin=P12_PASSWORD + "\n",
    )


def test_gpgsm_imports_the_legacy_p12(
    rsa_org: Org, tmp_path: Path, gnupghome: Path, record_property: pytest.RecordProperty
) -> None:
    ca = _export_ca(rsa_org, tmp_path / "ca")
    root = x509.load_pem_x509_certificate(ca.root.read_bytes())
    (tmp_path / "root.der").write_bytes(root.public_bytes(serialization.Encoding.DER))
    done = _gpgsm(gnupghome, "--import", str(tmp_path / "root.der"))
    assert done.returncode == 0, done.stderr
    sha1 = root.fingerprint(hashes.SHA1()).hex(":").upper()  # noqa: S303 - gpgsm's trustlist format
    (gnupghome / "trustlist.txt").write_text(f"{sha1} S relax\n")

    attempts = 0
    outputs = []
    for attempt in range(1, GPGSM_MAX_ATTEMPTS + 1):
        attempts = attempt
        p12 = _p12(rsa_org, "dave@example.org", tmp_path / f"dave-{attempt}.p12", legacy=True)
        done = _gpgsm(gnupghome, "--import", str(p12))
        outputs.append(done.stderr)
        if "secret keys imported: 1" in done.stderr:
            break
    else:
        pytest.fail(
            f"gpgsm never imported the legacy p12 in {GPGSM_MAX_ATTEMPTS} tries:\n"
            + "\n".join(outputs)
        )
    record_property("gpgsm_attempts", attempts)
    print(f"gpgsm imported the legacy p12 after {attempts} attempt(s)")

    keys = _run(["gpgsm", "--list-secret-keys", "--with-colons"], env={"GNUPGHOME": str(gnupghome)})
    assert keys.returncode == 0, keys.stderr
    assert "dave@example.org" in keys.stdout
    chain = _run(
        ["gpgsm", "--disable-crl-checks", "--list-chain", "dave@example.org"],
        env={"GNUPGHOME": str(gnupghome)},
    )
    assert chain.returncode == 0, chain.stderr
    assert "Interop RSA Root CA" in chain.stdout


def test_gpgsm_refuses_a_wrong_password(rsa_org: Org, tmp_path: Path, gnupghome: Path) -> None:
    p12 = _p12(rsa_org, "dave@example.org", tmp_path / "dave.p12", legacy=True)
    done = _run(
        [
            "gpgsm",
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase-fd",
            "0",
            "--import",
            str(p12),
        ],
        env={"GNUPGHOME": str(gnupghome)},
        stdin="not-the-password\n",
    )
    assert "secret keys imported: 1" not in done.stderr
