"""Published vectors: RFC 4134 §4, RFC 9216 / draft-ireland-examples-cms, and a real
Thunderbird 24 message (SHA-1, expired StartCom chain)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from postseal.smime.results import ChainOutcome
from postseal.smime.verify import verify, verify_cms
from tests.peers import shared_testdata
from tests.smime.signing_fixtures import TestValidator

RFC4134_TIME = datetime(2005, 1, 1, tzinfo=UTC)  # inside the 1999 to 2039 certificates
CONTENT = b"This is some sample content."


def _rfc4134() -> Path:
    return shared_testdata() / "smime" / "rfc4134"


def _carl() -> TestValidator:
    base = _rfc4134()
    return TestValidator(
        tuple(
            x509.load_der_x509_certificate((base / n).read_bytes())
            for n in ("CarlRSASelf.cer", "CarlDSSSelf.cer")
        )
    )


@pytest.mark.parametrize(
    ("name", "signer", "algorithm"),
    [
        ("4.1", "AliceDSS@example.com", "dsa"),
        ("4.2", "AliceRSA@example.com", "rsassa_pkcs1v15"),
        ("4.3", "AliceDSS@example.com", "dsa"),
        ("4.4", "AliceDSS@example.com", "dsa"),
        ("4.5", "AliceRSA@example.com", "rsassa_pkcs1v15"),
        ("4.7", "AliceDSS@example.com", "dsa"),
        ("4.10", "AliceDSS@example.com", "dsa"),
    ],
)
def test_rfc4134_signed_data(name: str, signer: str, algorithm: str) -> None:
    blob = (_rfc4134() / f"{name}.bin").read_bytes()
    detached = CONTENT if name == "4.3" else None
    result = verify_cms(
        blob, content=detached, validate_chain=_carl(), now=RFC4134_TIME, accept_weak=True
    )
    assert result.ok, result.summary()
    assert result.content == CONTENT
    assert result.signers[0].addresses == (signer,)
    assert result.signers[0].signature_algorithm == algorithm
    # SHA-1 (and DSA): a valid signature, but not acceptable by default
    strict = verify_cms(blob, content=detached, validate_chain=_carl(), now=RFC4134_TIME)
    assert not strict.ok
    assert not strict.signers[0].algorithm_acceptable
    assert strict.signers[0].signature_valid


def test_rfc4134_4_6_two_signers_second_has_inherited_dsa_parameters() -> None:
    """4.6: Alice's signature verifies; Diane's certificate inherits its DSA parameters
    from Carl's, which ``cryptography`` (like OpenSSL) cannot load, so that signer is
    reported without a certificate rather than verified."""
    blob = (_rfc4134() / "4.6.bin").read_bytes()
    result = verify_cms(blob, validate_chain=_carl(), now=RFC4134_TIME, accept_weak=True)
    assert len(result.signers) == 2
    assert result.signers[0].ok
    assert result.signers[1].chain.status == "no-certificate"
    assert not result.ok


@pytest.mark.parametrize("name", ["4.8.eml", "4.9.eml"])
def test_rfc4134_mime(name: str) -> None:
    message = (_rfc4134() / name).read_bytes()
    result = verify(message, validate_chain=_carl(), now=RFC4134_TIME, accept_weak=True)
    signer = result.signers[0]
    assert signer.content_intact and signer.signature_valid and signer.chain.trusted
    assert result.content.endswith(CONTENT)
    # The example's From: is aliceDss@examples.com — a different domain from the certificate's
    assert signer.from_matches is False
    assert "does not match From: aliceDss@examples.com" in result.summary()[-1]
    assert verify(
        message,
        validate_chain=_carl(),
        now=RFC4134_TIME,
        accept_weak=True,
        from_address="AliceDSS@example.com",
    ).ok


def _lamps() -> Path:
    return shared_testdata() / "smime" / "rfc9216-examples-cms"


def _lamps_certs() -> list[x509.Certificate]:
    base = _lamps() / "certs-and-keys"
    return [
        x509.load_pem_x509_certificate((base / f"lamps-{n}.crt").read_bytes())
        for n in ("alice", "carlos")
    ]


def _pinned(
    leaf: x509.Certificate, carried: Sequence[x509.Certificate], at: datetime
) -> ChainOutcome:
    # The RFC 9216 CA certificates are not in the test data: trust the leaves directly.
    if leaf in _lamps_certs() and leaf.not_valid_before_utc <= at <= leaf.not_valid_after_utc:
        return ChainOutcome(True, "valid", "pinned test certificate")
    return ChainOutcome(False, "untrusted-root", "not pinned")


@pytest.mark.parametrize("form", ["binary-files/{}.p7m", "pem-encoded/{}.pem"])
@pytest.mark.parametrize(
    ("name", "signers"),
    [
        ("signedByAliceRSA", [("alice@smime.example", "rsassa_pkcs1v15", "sha256")]),
        ("signedByAliceRSAPSS", [("alice@smime.example", "rsassa_pss", "sha256")]),
        ("signedByCarlosEd25519", [("carlos@smime.example", "ed25519", "sha512")]),
        ("signedByCarlosDetached", [("carlos@smime.example", "ed25519", "sha512")]),
        (
            "signedByAliceAndCarlosNoCerts",
            [
                ("carlos@smime.example", "ed25519", "sha512"),
                ("alice@smime.example", "rsassa_pkcs1v15", "sha256"),
            ],
        ),
    ],
)
def test_rfc9216_examples(form: str, name: str, signers: list[tuple[str, str, str]]) -> None:
    blob = (_lamps() / form.format(name)).read_bytes()
    content = CONTENT if "Detached" in name else None
    result = verify_cms(
        blob,
        content=content,
        validate_chain=_pinned,
        now=datetime(2024, 1, 1, tzinfo=UTC),
        extra_certs=_lamps_certs(),
    )
    assert result.ok, result.summary()
    assert result.content == CONTENT
    seen = sorted(
        (s.addresses[0], s.signature_algorithm, s.digest_algorithm) for s in result.signers
    )
    assert seen == sorted(signers)


def test_rfc9216_no_certs_without_extra_certs() -> None:
    blob = (_lamps() / "binary-files" / "signedByAliceAndCarlosNoCerts.p7m").read_bytes()
    result = verify_cms(blob, validate_chain=_pinned, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert {s.chain.status for s in result.signers} == {"no-certificate"}
    assert not result.ok


def _thunderbird() -> tuple[bytes, TestValidator]:
    base = shared_testdata() / "smime" / "thunderbird-signed"
    root = x509.load_pem_x509_certificate(
        (base / "StartComCertificationAuthority.crt").read_bytes()
    )
    return (base / "thunderbird-signed.txt").read_bytes(), TestValidator((root,))


def test_thunderbird_sha1_needs_accept_weak() -> None:
    message, validator = _thunderbird()
    when = datetime(2014, 1, 1, tzinfo=UTC)
    strict = verify(message, validate_chain=validator, now=when)
    assert not strict.ok
    assert strict.summary() == [
        "algorithm not acceptable: sha1 with rsassa_pkcs1v15 is too weak to rely on"
    ]
    weak = verify(message, validate_chain=validator, now=when, accept_weak=True)
    assert weak.ok, weak.summary()
    assert weak.signers[0].addresses == ("fejj@gnome.org",)
    assert weak.signers[0].from_matches is True
    assert weak.content.startswith(b"Content-Type: multipart/mixed;")


def test_thunderbird_today_is_expired() -> None:
    message, validator = _thunderbird()
    result = verify(
        message, validate_chain=validator, now=datetime(2026, 1, 1, tzinfo=UTC), accept_weak=True
    )
    assert result.signers[0].chain.status == "expired"
