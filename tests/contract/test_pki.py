"""Certificate templates, issued certificates and issued CRLs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import (
    CertificateRecord,
    CertificateRole,
    CrlRecord,
    NewUser,
    TemplateRecord,
)
from postseal.store.sql import SqlStore

CertificateFactory = Callable[..., CertificateRecord]
EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
REVOKED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _template(name: str, **changes: object) -> TemplateRecord:
    values: dict[str, object] = {
        "name": name,
        "description": f"{name} template",
        "ekus": (EMAIL_PROTECTION, CLIENT_AUTH),
        "key_type": "ecdsa-p256",
        "validity_days": 365,
        "renewal_days": 30,
    }
    values.update(changes)
    return TemplateRecord(**values)  # type: ignore[arg-type]


async def test_templates_put_get_list_and_replace(store: SqlStore) -> None:
    user = _template("smime-user")
    exec_ = _template("smime-exec", ekus=(EMAIL_PROTECTION,), key_type="rsa-3072")
    bare = _template("bare", ekus=())
    async with store.begin() as tx:
        await tx.templates.put(user)
        await tx.templates.put(exec_)
        await tx.templates.put(bare)
        assert await tx.templates.get("smime-user") == user
        assert await tx.templates.get("bare") == bare
        assert await tx.templates.get("nope") is None
        assert [t.name for t in await tx.templates.list()] == ["bare", "smime-exec", "smime-user"]
        replaced = _template("smime-user", validity_days=730, superseded_by="smime-user-2")
        await tx.templates.put(replaced)
        assert await tx.templates.get("smime-user") == replaced
        assert len(await tx.templates.list()) == 3


@pytest.mark.parametrize("eku", ["emailProtection", "1.3.6.1,1.2", "", "1.3.6.1."])
async def test_a_template_eku_must_be_a_dotted_oid(store: SqlStore, eku: str) -> None:
    async with store.begin() as tx:
        with pytest.raises(ValueError, match="is not a dotted OID"):
            await tx.templates.put(_template("odd", ekus=(EMAIL_PROTECTION, eku)))
        assert await tx.templates.get("odd") is None


async def test_certificate_round_trips_every_field(
    store: SqlStore, new_user: Callable[..., NewUser], certificate: CertificateFactory
) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        cert = certificate("00FF10", user=bob, revocation_reason=None)
        root = certificate("1551", role=CertificateRole.ROOT, issuer=None, wrapped_key=None)
        await tx.certificates.add(cert)
        await tx.certificates.add(root)
    async with store.begin() as tx:
        assert await tx.certificates.get("00FF10") == cert
        assert await tx.certificates.get_by_fingerprint(cert.fingerprint) == cert
        assert await tx.certificates.get("1551") == root
        assert await tx.certificates.get("FFFF") is None
        assert await tx.certificates.get_by_fingerprint("00" * 32) is None


async def test_duplicate_serial_or_fingerprint_is_a_conflict(
    store: SqlStore, certificate: CertificateFactory
) -> None:
    original = certificate("0A")
    async with store.begin() as tx:
        await tx.certificates.add(original)
        with pytest.raises(ConflictError, match="serial 0A already exists"):
            await tx.certificates.add(certificate("0A", fingerprint="ab" * 32))
        with pytest.raises(ConflictError, match=f"fingerprint {original.fingerprint} already"):
            await tx.certificates.add(certificate("0B", fingerprint=original.fingerprint))
        await tx.certificates.add(certificate("0C"))
    async with store.begin() as tx:
        # Equal not_before: the higher serial comes first.
        assert [c.serial for c in await tx.certificates.list()] == ["0C", "0A"]


async def test_list_is_newest_first_and_filters(
    store: SqlStore, new_user: Callable[..., NewUser], certificate: CertificateFactory
) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        carol = await tx.users.add(new_user("carol@example.org"))
        await tx.certificates.add(certificate("01", user=bob, days=0))
        await tx.certificates.add(certificate("02", user=bob, days=200))
        await tx.certificates.add(certificate("03", user=carol, days=100))
        await tx.certificates.add(certificate("04", role=CertificateRole.TLS, days=50))
        await tx.certificates.add(certificate("05", user=bob, days=200))  # same time as 02

        def serials(records: object) -> list[str]:
            return [c.serial for c in records]  # type: ignore[attr-defined]

        assert serials(await tx.certificates.list()) == ["05", "02", "03", "04", "01"]
        assert serials(await tx.certificates.list(user_id=bob.id)) == ["05", "02", "01"]
        assert serials(await tx.certificates.list(role=CertificateRole.TLS)) == ["04"]
        assert serials(await tx.certificates.list(user_id=carol.id, role=CertificateRole.USER)) == [
            "03"
        ]
        assert serials(await tx.certificates.list(user_id=carol.id, role=CertificateRole.TLS)) == []


async def test_current_ca_is_the_newest_unrevoked(
    store: SqlStore, certificate: CertificateFactory
) -> None:
    issuing = CertificateRole.ISSUING
    async with store.begin() as tx:
        assert await tx.certificates.current_ca(issuing) is None
        await tx.certificates.add(certificate("10", role=issuing, days=0))
        await tx.certificates.add(certificate("11", role=issuing, days=300))
        await tx.certificates.add(certificate("12", role=issuing, days=600))
        await tx.certificates.add(certificate("1F", role=CertificateRole.SERVICE_ISSUING, days=900))
        current = await tx.certificates.current_ca(issuing)
        assert current is not None
        assert current.serial == "12"
        await tx.certificates.revoke("12", at=REVOKED_AT, reason="keyCompromise")
        current = await tx.certificates.current_ca(issuing)
        assert current is not None
        assert current.serial == "11"
        service = await tx.certificates.current_ca(CertificateRole.SERVICE_ISSUING)
        assert service is not None
        assert service.serial == "1F"
        assert await tx.certificates.current_ca(CertificateRole.ROOT) is None


async def test_revoke_records_time_and_reason(
    store: SqlStore, certificate: CertificateFactory
) -> None:
    async with store.begin() as tx:
        await tx.certificates.add(certificate("0D"))
        await tx.certificates.revoke("0D", at=REVOKED_AT, reason="superseded")
    async with store.begin() as tx:
        revoked = await tx.certificates.get("0D")
        assert revoked is not None
        assert revoked.revoked_at == REVOKED_AT
        assert revoked.revoked_at.tzinfo is UTC
        assert revoked.revocation_reason == "superseded"


async def test_revoke_absent_is_not_found_and_twice_is_a_conflict(
    store: SqlStore, certificate: CertificateFactory
) -> None:
    async with store.begin() as tx:
        with pytest.raises(NotFoundError, match="no certificate with serial 0E"):
            await tx.certificates.revoke("0E", at=REVOKED_AT, reason="keyCompromise")
        await tx.certificates.add(certificate("0E"))
        await tx.certificates.revoke("0E", at=REVOKED_AT, reason="keyCompromise")
        with pytest.raises(ConflictError, match="0E was already revoked on 2026-03-01"):
            await tx.certificates.revoke(
                "0E", at=REVOKED_AT + timedelta(days=1), reason="superseded"
            )
        again = await tx.certificates.get("0E")
        assert again is not None
        assert (again.revoked_at, again.revocation_reason) == (REVOKED_AT, "keyCompromise")


async def test_set_superseded(store: SqlStore, certificate: CertificateFactory) -> None:
    async with store.begin() as tx:
        await tx.certificates.add(certificate("20"))
        await tx.certificates.add(certificate("21", days=300))
        await tx.certificates.set_superseded("20", "21")
        old = await tx.certificates.get("20")
        assert old is not None
        assert old.superseded_by == "21"
        with pytest.raises(NotFoundError, match="serial 99"):
            await tx.certificates.set_superseded("99", "21")
        with pytest.raises(NotFoundError, match="serial 98"):
            await tx.certificates.set_superseded("20", "98")


async def test_revoked_by_lists_one_issuers_revoked_certificates(
    store: SqlStore, certificate: CertificateFactory
) -> None:
    async with store.begin() as tx:
        await tx.certificates.add(certificate("30", issuer="AA", days=1))
        await tx.certificates.add(certificate("31", issuer="AA", days=2))
        await tx.certificates.add(certificate("32", issuer="AA", days=3))
        await tx.certificates.add(certificate("33", issuer="BB", days=4))
        for serial in ("30", "32", "33"):
            await tx.certificates.revoke(serial, at=REVOKED_AT, reason="cessationOfOperation")
        assert [c.serial for c in await tx.certificates.revoked_by("AA")] == ["32", "30"]
        assert [c.serial for c in await tx.certificates.revoked_by("BB")] == ["33"]
        assert await tx.certificates.revoked_by("CC") == []


def _crl(issuer: str, number: int) -> CrlRecord:
    this_update = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(days=number % 1000)
    return CrlRecord(
        issuer_serial=issuer,
        number=number,
        this_update=this_update,
        next_update=this_update + timedelta(days=7),
        der=b"\x30\x82crl" + number.to_bytes(8, "big"),
    )


async def test_crls_latest_is_the_highest_number_per_issuer(store: SqlStore) -> None:
    async with store.begin() as tx:
        assert await tx.crls.latest("AA") is None
        for number in (1, 3, 2):
            await tx.crls.add(_crl("AA", number))
        big = _crl("BB", 2**62)
        await tx.crls.add(big)
        assert await tx.crls.latest("AA") == _crl("AA", 3)
        assert await tx.crls.latest("BB") == big


async def test_a_crl_number_is_issued_once_per_issuer(store: SqlStore) -> None:
    async with store.begin() as tx:
        await tx.crls.add(_crl("AA", 5))
        await tx.crls.add(_crl("BB", 5))
        with pytest.raises(ConflictError, match="CRL number 5 of the CA AA already exists"):
            await tx.crls.add(_crl("AA", 5))
