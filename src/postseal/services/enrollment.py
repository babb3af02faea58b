"""Auto-enrollment, as a Windows CA does it for its templates (``postseal enroll run``).

For every enabled user, in one pass:

1. follow the user's template to the one now in force (a superseded template's holders
   move to its successor);
2. **issue** when the user holds no valid certificate of that template;
3. **renew** when the newest one is inside the template's renewal window;
4. **withdraw** revoked and expired certificates from both directory attributes, and
   **publish** the current certificate into both when they hold something else.

Idempotent: a second run right after the first has nothing to do. Each user is handled
in a transaction of its own, so one failure does not undo the others; it is reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from postseal.errors import PostsealError
from postseal.pki.keys import generate_key, parse_key_type
from postseal.services.certificates import CertificateService
from postseal.services.clock import Clock
from postseal.store.ports import CertificateRecord, CertificateRole, Store, Transaction, UserRecord

__all__ = ["EnrollmentAction", "EnrollmentService"]


@dataclass(frozen=True, slots=True)
class EnrollmentAction:
    address: str
    action: str  # "issued" | "renewed" | "reissued" | "withdrew" | "published" | "failed"
    detail: str


class EnrollmentService:
    def __init__(self, store: Store, *, certificates: CertificateService, clock: Clock) -> None:
        self._store = store
        self._certs = certificates
        self._clock = clock

    async def run(self, *, actor: str) -> list[EnrollmentAction]:
        async with self._store.begin() as tx:
            users = list(await tx.users.list())
        actions: list[EnrollmentAction] = []
        for user in users:
            try:
                actions.extend(await self._enroll(user, actor=actor))
            except PostsealError as exc:
                actions.append(EnrollmentAction(user.address, "failed", str(exc)))
        return actions

    async def _enroll(self, user: UserRecord, *, actor: str) -> list[EnrollmentAction]:
        now = self._clock()
        async with self._store.begin() as tx:
            template = await self._certs.effective_template(tx, user.template)
            records = await tx.certificates.list(user_id=user.id)
            current = _current(records, template.name, now)
            # Valid certificates of a superseded template: the re-issue replaces them.
            replaced = [
                r.serial
                for r in records
                if r.role is CertificateRole.USER
                and r.template != template.name
                and r.revoked_at is None
                and r.superseded_by is None
                and r.not_after > now
            ]
        need: str | None = None
        if user.enabled:
            if current is None:
                need = "reissued" if template.name != user.template else "issued"
            elif now >= current.not_after - timedelta(days=template.renewal_days):
                need = "renewed"
        key = (
            await asyncio.to_thread(generate_key, parse_key_type(template.key_type))
            if need
            else None
        )
        actions: list[EnrollmentAction] = []
        async with self._store.begin() as tx:
            fresh = await tx.users.get_by_id(user.id)
            if fresh is None:
                return []
            if template.name != fresh.template:
                fresh = await tx.users.update(fresh.id, template=template.name)
            if key is not None and need is not None:
                issued = await self._certs.issue_prepared(tx, fresh, template, key)
                for serial in ([current.serial] if current is not None else []) + replaced:
                    await tx.certificates.set_superseded(serial, issued.record.serial)
                detail = f"certificate {issued.record.serial} (template {template.name})"
                if need == "renewed" and current is not None:
                    detail += (
                        f", replacing {current.serial} which expires {current.not_after:%Y-%m-%d}"
                    )
                actions.append(EnrollmentAction(fresh.address, need, detail))
                current = issued.record
            actions.extend(await self._sync_attributes(tx, fresh, current, now))
            for action in actions:
                await tx.audit.append(
                    actor=actor,
                    action=f"enroll.{action.action}",
                    target=fresh.address,
                    detail=action.detail,
                )
        return actions

    async def _sync_attributes(
        self, tx: Transaction, user: UserRecord, current: CertificateRecord | None, now: datetime
    ) -> list[EnrollmentAction]:
        entry = await tx.directory.get(user.id)
        held = {entry.user_certificate, entry.user_smime_certificate} - {None}
        wanted = current.der if current is not None and user.enabled else None
        actions: list[EnrollmentAction] = []
        stale = []
        for der in held:
            if der is None:
                continue
            record = await _record_for_der(tx, user, der)
            if record is not None and (record.revoked_at is not None or record.not_after <= now):
                why = "revoked" if record.revoked_at is not None else "expired"
                stale.append(f"{record.serial} ({why})")
        if stale:
            actions.append(EnrollmentAction(user.address, "withdrew", ", ".join(sorted(stale))))
        if held != ({wanted} - {None}) or entry.user_certificate != entry.user_smime_certificate:
            await tx.directory.publish(user.id, wanted)
            if wanted is not None and current is not None:
                actions.append(
                    EnrollmentAction(user.address, "published", f"certificate {current.serial}")
                )
        return actions


def _current(
    records: Sequence[CertificateRecord], template: str, now: datetime
) -> CertificateRecord | None:
    """The newest valid certificate of ``template`` (records come newest first)."""
    for record in records:
        if (
            record.role is CertificateRole.USER
            and record.template == template
            and record.revoked_at is None
            and record.not_before <= now < record.not_after
        ):
            return record
    return None


async def _record_for_der(
    tx: Transaction, user: UserRecord, der: bytes
) -> CertificateRecord | None:
    for record in await tx.certificates.list(user_id=user.id):
        if record.der == der:
            return record
    return None
