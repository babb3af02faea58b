"""postseal's EnvelopedData/AuthEnvelopedData against OpenSSL 3.0, gpgsm 2.2 and NSS.

Each direction is a test; so is each measured rejection (gpgsm and NSS read neither
RSA-OAEP nor AES-GCM), so the interop matrix in docs/interop.md stays true. The peers
are the judge (INTEROP.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization

from postseal.smime.decrypt import decrypt, decrypt_cms
from postseal.smime.encrypt import Recipient, encrypt
from postseal.smime.headers import canonical_crlf
from tests.peers import require_tool, shared_testdata
from tests.smime.envelope_fixtures import (
    SAMPLE_MESSAGE,
    party,
    rsa_ca,
    write_ca_pem,
    write_pem,
)

pytestmark = pytest.mark.interop
P12_PASS = "envelope-p12-pass"
ENTITY = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello from the peers.\r\n"


def _run(
    cmd: list[str],
    *,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, env=env, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{cmd[0]} failed ({done.returncode}): {done.stderr.decode()}")
    return done


def _split_p7m(message: Path, der: Path) -> None:
    tool = shared_testdata().parent / "interop" / "smime_split.py"
    _run([sys.executable, str(tool), "p7m", str(message), str(der)])


def _to(name: str, **kwargs: object) -> Recipient:
    who = party(name)
    return Recipient(who.address, who.cert, **kwargs)  # type: ignore[arg-type]


def _encrypted(tmp: Path, name: str, cipher: str, *, oaep: bool = False) -> tuple[Path, bytes]:
    """(message file, the inner entity postseal itself decrypts to)."""
    result = encrypt(SAMPLE_MESSAGE, recipients=[_to(name, prefer_oaep=oaep)], cipher=cipher)
    path = tmp / f"enc-{name}-{cipher}-{oaep}.eml"
    path.write_bytes(result.message)
    who = party(name)
    inner = decrypt(result.message, key=who.decryption_key, certificate=who.cert).content
    return path, inner


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("envelope-pems")
    write_ca_pem(directory)
    for name in ("bob", "carol", "dave"):
        write_pem(directory, party(name))
    (directory / "msg.mime").write_bytes(ENTITY)
    return directory


# --- OpenSSL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cipher", "oaep"),
    [
        ("bob", "aes256-cbc", False),
        ("bob", "aes256-cbc", True),
        ("bob", "aes128-gcm", False),
        ("bob", "aes256-gcm", True),
        ("carol", "aes256-cbc", False),
        ("carol", "aes128-gcm", False),
        ("dave", "aes256-gcm", False),
    ],
)
def test_openssl_decrypts_postseal(pems: Path, name: str, cipher: str, oaep: bool) -> None:
    openssl = require_tool("openssl", package="openssl")
    message, inner = _encrypted(pems, name, cipher, oaep=oaep)
    out = pems / f"plain-{name}-{cipher}-{oaep}"
    _run(
        [
            openssl,
            "cms",
            "-decrypt",
            "-in",
            str(message),
            "-recip",
            str(pems / f"{name}.crt"),
            "-inkey",
            str(pems / f"{name}.key"),
            "-out",
            str(out),
        ]
    )
    assert out.read_bytes() == inner


@pytest.mark.parametrize(
    ("name", "options", "cipher", "km"),
    [
        ("bob", ["-aes-256-cbc"], "aes256-cbc", "rsa-pkcs1v15"),
        ("bob", ["-aes-256-gcm"], "aes256-gcm", "rsa-pkcs1v15"),
        ("bob", ["-aes-128-gcm"], "aes128-gcm", "rsa-pkcs1v15"),
        (
            "bob",
            ["-aes-256-cbc", "-keyopt", "rsa_padding_mode:oaep"],
            "aes256-cbc",
            "rsa-oaep-sha1",
        ),
        ("bob", ["-aes-256-cbc", "-keyid"], "aes256-cbc", "rsa-pkcs1v15"),
        ("carol", ["-aes-256-cbc"], "aes256-cbc", "ecdh-p256-dhSinglePass-stdDH-sha1kdf"),
        (
            "carol",
            ["-aes-128-gcm", "-keyopt", "ecdh_kdf_md:sha256"],
            "aes128-gcm",
            "ecdh-p256-dhSinglePass-stdDH-sha256kdf",
        ),
        ("dave", ["-aes-256-cbc", "-keyid"], "aes256-cbc", "ecdh-p384-dhSinglePass-stdDH-sha1kdf"),
    ],
)
def test_postseal_decrypts_openssl(
    pems: Path, name: str, options: list[str], cipher: str, km: str
) -> None:
    openssl = require_tool("openssl", package="openssl")
    out = pems / f"openssl-{name}-{'_'.join(options)}.eml"
    cut = options.index("-keyopt") if "-keyopt" in options else len(options)
    # -keyopt applies to the -recip before it
    _run(
        [
            openssl,
            "cms",
            "-encrypt",
            *options[:cut],
            "-in",
            str(pems / "msg.mime"),
            "-out",
            str(out),
            "-recip",
            str(pems / f"{name}.crt"),
            *options[cut:],
        ]
    )
    who = party(name)
    result = decrypt(out.read_bytes(), key=who.decryption_key, certificate=who.cert)
    assert (canonical_crlf(result.content), result.cipher, result.key_management) == (
        ENTITY,
        cipher,
        km,
    )


# --- gpgsm ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Gpgsm:
    home: Path
    env: dict[str, str]
    exe: str

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cmd = [
            self.exe,
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase-fd",
            "0",
            *args,
        ]
        return _run(cmd, stdin=P12_PASS.encode() + b"\n", env=self.env, check=check)


def _legacy_p12(openssl: str, pems: Path, out: Path) -> None:
    _run(
        [
            openssl,
            "pkcs12",
            "-export",
            "-keypbe",
            "PBE-SHA1-3DES",
            "-certpbe",
            "PBE-SHA1-3DES",
            "-macalg",
            "sha1",
            "-in",
            str(pems / "bob.crt"),
            "-inkey",
            str(pems / "bob.key"),
            "-passout",
            f"pass:{P12_PASS}",
            "-out",
            str(out),
        ]
    )


@pytest.fixture(scope="module")
def gpgsm(pems: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gpgsm]:
    exe = require_tool("gpgsm", package="gpgsm")
    openssl = require_tool("openssl", package="openssl")
    gpgconf = require_tool("gpgconf", package="gpgconf")
    home = Path(tmp_path_factory.mktemp("gnupg"))
    home.chmod(0o700)
    (home / "gpg-agent.conf").write_text("allow-loopback-pinentry\n")
    (home / "gpgsm.conf").write_text("disable-dirmngr\n")
    env = {**os.environ, "GNUPGHOME": str(home)}
    g = Gpgsm(home, env, exe)
    try:
        root_der = home / "root.der"
        root_der.write_bytes(rsa_ca().cert.public_bytes(serialization.Encoding.DER))
        g.run("--import", str(root_der))
        # gpgsm names trusted roots by their SHA-1 fingerprint in trustlist.txt
        sha1 = rsa_ca().cert.fingerprint(hashes.SHA1()).hex(":").upper()  # noqa: S303
        (home / "trustlist.txt").write_text(f"{sha1} S relax\n")
        # gpgsm 2.2 misreads about one valid legacy PKCS#12 in six: re-export with a fresh
        # salt until it reports the key imported (INTEROP.md).
        for attempt in range(12):
            p12 = home / f"bob-{attempt}.p12"
            _legacy_p12(openssl, pems, p12)
            done = g.run("--import", str(p12), check=False)
            if b"secret keys imported: 1" in done.stderr:
                break
        else:
            pytest.fail("gpgsm never imported bob's legacy PKCS#12")
        yield g
    finally:
        _run([gpgconf, "--kill", "all"], env=env, check=False)


def test_gpgsm_decrypts_postseal_cbc_v15(pems: Path, gpgsm: Gpgsm) -> None:
    message, inner = _encrypted(pems, "bob", "aes256-cbc")
    der, out = pems / "gpgsm-in.p7m", pems / "gpgsm-plain"
    _split_p7m(message, der)
    gpgsm.run("--output", str(out), "--decrypt", str(der))
    assert out.read_bytes() == inner


@pytest.mark.parametrize(("cipher", "oaep"), [("aes256-cbc", True), ("aes256-gcm", False)])
def test_gpgsm_rejects_oaep_and_gcm(pems: Path, gpgsm: Gpgsm, cipher: str, oaep: bool) -> None:
    message, _ = _encrypted(pems, "bob", cipher, oaep=oaep)
    der, out = pems / f"gpgsm-rej-{cipher}.p7m", pems / f"gpgsm-rej-{cipher}"
    _split_p7m(message, der)
    done = gpgsm.run("--output", str(out), "--decrypt", str(der), check=False)
    assert done.returncode != 0
    assert not out.exists() or out.read_bytes() == b""


def test_postseal_decrypts_gpgsm(pems: Path, gpgsm: Gpgsm) -> None:
    out = pems / "from-gpgsm.p7m"
    gpgsm.run(
        "--disable-crl-checks",
        "--recipient",
        "bob@example.org",
        "--cipher-algo",
        "AES256",
        "--output",
        str(out),
        "--encrypt",
        str(pems / "msg.mime"),
    )
    bob = party("bob")
    result = decrypt_cms(out.read_bytes(), key=bob.decryption_key, certificate=bob.cert)
    assert (result.content, result.cipher) == (ENTITY, "aes256-cbc")


# --- NSS -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nssdb(pems: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    certutil = require_tool("certutil", package="libnss3-tools")
    pk12util = require_tool("pk12util", package="libnss3-tools")
    openssl = require_tool("openssl", package="openssl")
    directory = tmp_path_factory.mktemp("nssdb")
    db = f"sql:{directory}"
    _run([certutil, "-N", "-d", db, "--empty-password"])
    _run(
        [certutil, "-A", "-d", db, "-n", "Envelope Root", "-t", ",C,", "-i", str(pems / "root.crt")]
    )
    p12 = directory / "bob.p12"
    _run(
        [
            openssl,
            "pkcs12",
            "-export",
            "-in",
            str(pems / "bob.crt"),
            "-inkey",
            str(pems / "bob.key"),
            "-name",
            "bob",
            "-passout",
            f"pass:{P12_PASS}",
            "-out",
            str(p12),
        ]
    )
    _run([pk12util, "-i", str(p12), "-d", db, "-W", P12_PASS, "-K", ""])
    return db


def test_nss_decrypts_postseal_cbc_v15(pems: Path, nssdb: str) -> None:
    cmsutil = require_tool("cmsutil", package="libnss3-tools")
    message, inner = _encrypted(pems, "bob", "aes256-cbc")
    der, out = pems / "nss-in.p7m", pems / "nss-plain"
    _split_p7m(message, der)
    _run([cmsutil, "-D", "-i", str(der), "-d", nssdb, "-p", "", "-o", str(out)])
    assert out.read_bytes() == inner


@pytest.mark.parametrize(
    ("cipher", "oaep", "error"),
    [
        ("aes256-cbc", True, b"SEC_ERROR_UNSUPPORTED_KEYALG"),
        ("aes128-gcm", False, b"SEC_ERROR_UNRECOGNIZED_OID"),
    ],
)
def test_nss_rejects_oaep_and_gcm(
    pems: Path, nssdb: str, cipher: str, oaep: bool, error: bytes
) -> None:
    cmsutil = require_tool("cmsutil", package="libnss3-tools")
    message, _ = _encrypted(pems, "bob", cipher, oaep=oaep)
    der, out = pems / f"nss-rej-{cipher}.p7m", pems / f"nss-rej-{cipher}"
    _split_p7m(message, der)
    done = _run([cmsutil, "-D", "-i", str(der), "-d", nssdb, "-p", "", "-o", str(out)], check=False)
    assert done.returncode != 0
    assert error in done.stderr + done.stdout


def test_postseal_decrypts_nss(pems: Path, nssdb: str) -> None:
    cmsutil = require_tool("cmsutil", package="libnss3-tools")
    out = pems / "from-nss.p7m"
    _run(
        [
            cmsutil,
            "-E",
            "-r",
            "bob@example.org",
            "-i",
            str(pems / "msg.mime"),
            "-d",
            nssdb,
            "-p",
            "",
            "-o",
            str(out),
        ]
    )
    bob = party("bob")
    result = decrypt_cms(out.read_bytes(), key=bob.decryption_key, certificate=bob.cert)
    assert result.content == ENTITY
    assert result.key_management == "rsa-pkcs1v15"
