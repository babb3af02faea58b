"""Signing: round trips for every key type, digest and padding; policy refusals; the
signed attributes and certificates that go into SignedData (RFC 8551 §2.5, §3.5)."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from cryptography.hazmat.primitives.serialization import Encoding

from postseal.errors import InputError, PolicyError
from postseal.smime.algorithms import AES128_CBC, DEFAULT_CAPABILITIES, decode_capabilities
from postseal.smime.mime import OpaqueParts, parse_smime
from postseal.smime.sign import sign
from postseal.smime.verify import verify
from tests.peers import require_tool
from tests.smime.signing_fixtures import NOW, pki, write_pki_files

MESSAGE = (
    b"From: alice@example.org\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, Bob.\r\n"
)

CASES = [
    ("alice", "sha256", "pkcs1v15"),
    ("alice", "sha384", "pkcs1v15"),
    ("alice", "sha512", "pkcs1v15"),
    ("alice", "sha256", "pss"),
    ("alice", "sha512", "pss"),
    ("carol", "sha256", "pkcs1v15"),
    ("carol", "sha384", "pkcs1v15"),
    ("peggy", "sha384", "pkcs1v15"),
    ("peggy", "sha512", "pkcs1v15"),
    ("dave", "sha256", "pkcs1v15"),
]


def _signed_data(message: bytes) -> cms.SignedData:
    parts = parse_smime(message)
    der = parts.der if isinstance(parts, OpaqueParts) else parts.signature
    return cms.ContentInfo.load(der)["content"]


def _sign(name: str, **kwargs: object) -> bytes:
    p = pki()
    user = p.users[name]
    body = MESSAGE.replace(b"alice@", f"{name}@".encode())
    options: dict[str, object] = {"signing_time": NOW, **kwargs}
    return sign(
        body,
        signer_cert=user.cert,
        signer_key=user.key,
        chain=p.chain,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
@pytest.mark.parametrize(("name", "digest", "padding"), CASES)
def test_round_trip(name: str, digest: str, padding: str, opaque: bool) -> None:
    signed = _sign(name, digest=digest, rsa_padding=padding, opaque=opaque)
    result = verify(signed, validate_chain=pki().validator(), now=NOW)
    assert result.ok, result.summary()
    signer = result.signers[0]
    assert signer.addresses == (f"{name}@example.org",)
    assert signer.from_matches is True
    assert signer.capabilities == DEFAULT_CAPABILITIES
    assert signer.signing_time == NOW
    expected = "sha512" if name == "dave" else digest
    assert signer.digest_algorithm == expected
    assert result.content.endswith(b"Hello, Bob.\r\n")
    assert result.detached is not opaque


def test_detached_headers_and_micalg() -> None:
    signed = _sign("alice", digest="sha384")
    head = signed.split(b"\r\n\r\n", 1)[0]
    assert b'protocol="application/pkcs7-signature"' in head
    assert b"micalg=sha-384" in head
    assert b"Content-Type: application/pkcs7-signature; name=smime.p7s" in signed
    assert b"Content-Disposition: attachment; filename=smime.p7s" in signed


def test_opaque_headers() -> None:
    signed = _sign("carol", opaque=True)
    assert signed.startswith(b"MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; ")
    assert b'smime-type=signed-data; name="smime.p7m"' in signed


def test_ed25519_uses_rfc8419_identifiers() -> None:
    info = _signed_data(_sign("dave"))["signer_infos"][0]
    assert info["signature_algorithm"]["algorithm"].dotted == "1.3.101.112"
    assert info["digest_algorithm"]["algorithm"].native == "sha512"


def test_pss_parameters() -> None:
    info = _signed_data(_sign("alice", digest="sha384", rsa_padding="pss"))["signer_infos"][0]
    params = info["signature_algorithm"]["parameters"]
    assert params["hash_algorithm"]["algorithm"].native == "sha384"
    assert params["mask_gen_algorithm"]["parameters"]["algorithm"].native == "sha384"
    assert params["salt_length"].native == 48


def test_signed_attributes_and_certificates() -> None:
    p = pki()
    signed_data = _signed_data(
        _sign("alice", capabilities=[AES128_CBC], encryption_cert=p.users["carol"].cert)
    )
    attrs = {
        a["type"].native: a["values"][0] for a in signed_data["signer_infos"][0]["signed_attrs"]
    }
    assert set(attrs) == {
        "content_type",
        "message_digest",
        "signing_time",
        "smime_capabilities",
        "signing_certificate_v2",
        "encrypt_key_pref",
    }
    alice_der = p.users["alice"].cert.public_bytes(Encoding.DER)
    ess = tsp.SigningCertificateV2.load(attrs["signing_certificate_v2"].dump())
    assert ess["certs"][0]["cert_hash"].native == hashlib.sha256(alice_der).digest()
    pref = attrs["encrypt_key_pref"].chosen
    assert pref["serial_number"].native == p.users["carol"].cert.serial_number
    assert decode_capabilities(attrs["smime_capabilities"].dump()) == (AES128_CBC,)
    carried = [c.chosen.dump() for c in signed_data["certificates"]]
    assert sorted(carried) == sorted([alice_der, p.issuing.public_bytes(Encoding.DER)])  # no root


def test_signed_attributes_are_der_sorted() -> None:
    attrs = _signed_data(_sign("carol"))["signer_infos"][0]["signed_attrs"]
    encodings = [a.dump() for a in attrs]
    assert encodings == sorted(encodings)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("old", "cannot sign as old@example.org: the certificate expired on"),
        ("tls", "cannot sign as tls@example.org: the certificate is not for email protection"),
    ],
)
def test_policy_refusals(name: str, text: str) -> None:
    with pytest.raises(PolicyError, match=text) as info:
        _sign(name)
    assert "postseal cert renew" in str(info.value)


def test_not_yet_valid_refused() -> None:
    p = pki()
    user = p.users["alice"]
    with pytest.raises(PolicyError, match="valid only from"):
        sign(
            MESSAGE,
            signer_cert=user.cert,
            signer_key=user.key,
            chain=p.chain,
            signing_time=NOW - timedelta(days=365),
        )


def test_wrong_key_refused() -> None:
    p = pki()
    with pytest.raises(InputError, match="does not belong to the certificate"):
        sign(
            MESSAGE,
            signer_cert=p.users["alice"].cert,
            signer_key=p.users["carol"].key,
            chain=p.chain,
            signing_time=NOW,
        )


def test_weak_digest_refused_for_signing() -> None:
    with pytest.raises(PolicyError, match="cannot sign with sha1"):
        _sign("alice", digest="sha1")


def test_nul_in_text_refused() -> None:
    with pytest.raises(InputError, match="NUL"):
        sign(
            b"Content-Type: text/plain\r\n\r\na\x00b\r\n",
            signer_cert=pki().users["alice"].cert,
            signer_key=pki().users["alice"].key,
            chain=[],
            signing_time=NOW,
        )


def test_naive_signing_time_is_misuse() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _sign("alice", signing_time=NOW.replace(tzinfo=None))  # type: ignore[call-arg]


@pytest.mark.interop
def test_lf_and_8bit_input_verified_by_openssl_binary(tmp_path: Path) -> None:
    """Canonicalisation: an LF, 8-bit entity is signed as CRLF 7-bit; OpenSSL's
    ``-binary`` (no line-end translation) agrees."""
    openssl = require_tool("openssl", package="openssl")
    files = write_pki_files(tmp_path)
    p = pki()
    alice = p.users["alice"]
    raw = (
        b"From: alice@example.org\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: 8bit\n\nGr\xc3\xbc\xc3\x9fe  \nzweite Zeile\n"
    )
    for opaque in (False, True):
        signed = sign(
            raw,
            signer_cert=alice.cert,
            signer_key=alice.key,
            chain=p.chain,
            signing_time=NOW,
            opaque=opaque,
        )
        assert signed.isascii()
        path = tmp_path / f"signed-{opaque}.eml"
        path.write_bytes(signed)
        out = tmp_path / f"out-{opaque}.bin"
        # -crlfeol: OpenSSL rebuilds multipart lines with LF in -binary mode otherwise
        run = subprocess.run(
            [
                openssl,
                "cms",
                "-verify",
                "-binary",
                "-crlfeol",
                "-in",
                str(path),
                "-CAfile",
                str(files["cas+crl.pem"]),
                "-crl_check",
                "-purpose",
                "smimesign",
                "-out",
                str(out),
            ],
            capture_output=True,
            check=False,
            timeout=30,
        )
        assert run.returncode == 0, run.stderr.decode()
        content = out.read_bytes()
        assert b"Content-Transfer-Encoding: quoted-printable\r\n" in content
        assert b"Gr=C3=BC=C3=9Fe =20\r\nzweite Zeile\r\n" in content
