"""Per-certificate memos: one computation per certificate object, never a value computed
from another certificate, bounded in size."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from postseal.smime import certificates
from postseal.smime.certificates import PerCertificate, der_of
from tests.smime.envelope_fixtures import party


def test_der_is_the_certificate_encoding() -> None:
    cert = party("bob").cert
    assert der_of(cert) == cert.public_bytes(Encoding.DER)
    assert der_of(cert) is der_of(cert)


def test_each_object_gets_its_own_value_computed_once() -> None:
    calls: list[x509.Certificate] = []

    def serial(cert: x509.Certificate) -> int:
        calls.append(cert)
        return cert.serial_number

    memo = PerCertificate(serial)
    bob, carol = party("bob").cert, party("carol").cert
    copy = x509.load_der_x509_certificate(bob.public_bytes(Encoding.DER))
    assert [memo(bob), memo(carol), memo(bob), memo(copy)] == [
        bob.serial_number,
        carol.serial_number,
        bob.serial_number,
        bob.serial_number,
    ]
    assert calls == [bob, carol, copy]


def test_failures_are_not_remembered() -> None:
    attempts = []

    def flaky(cert: x509.Certificate) -> int:
        attempts.append(cert)
        if len(attempts) == 1:
            raise ValueError("first try fails")
        return 1

    memo = PerCertificate(flaky)
    cert = party("bob").cert
    with pytest.raises(ValueError, match="first try"):
        memo(cert)
    assert memo(cert) == 1
    assert len(attempts) == 2


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certificates, "MAX_ENTRIES", 2)
    memo = PerCertificate(lambda cert: cert.serial_number)
    der = party("bob").cert.public_bytes(Encoding.DER)
    copies = [x509.load_der_x509_certificate(der) for _ in range(5)]
    for cert in copies:
        memo(cert)
    assert len(memo._entries) == 2
    assert {id(c) for c, _ in memo._entries.values()} == {id(copies[3]), id(copies[4])}
    memo.clear()
    assert not memo._entries
