"""The trust context kept in memory follows every change at once, whoever made it: two
TrustService instances on one store stand for two processes (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from postseal.pki.validation import Usage
from postseal.services import pki_state
from postseal.services.trust import TrustService
from postseal.store.ports import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Partner Root")])
KEY = ec.generate_private_key(ec.SECP256R1())


def _clock() -> datetime:
    return NOW


def _root() -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(NAME)
        .issuer_name(NAME)
        .public_key(KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(KEY, hashes.SHA256())
    )


def _crl() -> bytes:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(NAME)
        .last_update(NOW - timedelta(hours=1))
        .next_update(NOW + timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(KEY, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


async def test_a_change_by_another_instance_is_seen_by_the_next_context(store: Store) -> None:
    server = TrustService(store, clock=_clock)
    admin = TrustService(store, clock=_clock)
    async with store.begin(readonly=True) as tx:
        before = await server.context(tx)
        token = await pki_state.current(tx)
    assert before.anchors == ()

    root = _root()
    pem = root.public_bytes(serialization.Encoding.PEM)
    await admin.add(pem, kind="root", actor="test")
    async with store.begin(readonly=True) as tx:
        after = await server.context(tx)
        assert await pki_state.current(tx) != token
    assert after.anchors == (root,)

    await admin.import_crl(_crl(), actor="test")
    async with store.begin(readonly=True) as tx:
        assert len((await server.context(tx)).crls) == 1

    (entry,) = await admin.entries()
    await admin.remove(entry.fingerprint, actor="test")
    async with store.begin(readonly=True) as tx:
        assert (await server.context(tx)).anchors == ()


async def test_an_unchanged_store_is_read_once(store: Store) -> None:
    server = TrustService(store, clock=_clock)
    async with store.begin(readonly=True) as tx:
        first = await server.context(tx)
    async with store.begin(readonly=True) as tx:
        second = await server.context(tx)
    assert first.anchors is second.anchors  # the parsed snapshot, not a fresh parse
    assert first.now == second.now


def _leaf(serial: int) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bob")]))
        .issuer_name(NAME)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, True, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_EMAIL_PROTECTION]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name("bob@example.org")]), critical=False
        )
        .sign(KEY, hashes.SHA256())
    )


def _revoking(serial: int) -> bytes:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(NAME)
        .last_update(NOW - timedelta(minutes=30))
        .next_update(NOW + timedelta(days=7))
        .add_extension(x509.CRLNumber(2), critical=False)
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(NOW - timedelta(minutes=5))
            .build()
        )
        .sign(KEY, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


async def test_a_valid_verdict_is_reused_until_the_pki_changes(store: Store) -> None:
    now = [NOW]
    server = TrustService(store, clock=lambda: now[0])
    admin = TrustService(store, clock=lambda: now[0])
    await admin.add(_root().public_bytes(serialization.Encoding.PEM), kind="root", actor="t")
    await admin.import_crl(_crl(), actor="t")
    leaf = _leaf(4242)
    async with store.begin(readonly=True) as tx:
        context = await server.context(tx)
    first = server.judge(leaf, context, Usage.SMIME_ENCRYPT)
    assert first.valid, first.reason
    assert server.judge(leaf, context, Usage.SMIME_ENCRYPT) is first  # remembered
    now[0] = NOW - timedelta(minutes=1)  # a clock set back: judged afresh
    async with store.begin(readonly=True) as tx:
        earlier = await server.context(tx)
    assert server.judge(leaf, earlier, Usage.SMIME_ENCRYPT) is not first
    now[0] = NOW

    await admin.import_crl(_revoking(4242), actor="t")  # another process revokes it
    async with store.begin(readonly=True) as tx:
        context = await server.context(tx)
    verdict = server.judge(leaf, context, Usage.SMIME_ENCRYPT)
    assert not verdict.valid
    assert verdict.status.value == "revoked"
