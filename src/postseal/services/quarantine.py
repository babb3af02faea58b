"""The quarantine: messages held back by the antivirus policy, sealed under their own key.

``postseal quarantine list|release|delete``. Releasing puts the message into the queue in
the same transaction that marks it released; deleting removes it for good.
"""

from __future__ import annotations

from collections.abc import Sequence

from postseal.custody import MasterKey, sealing
from postseal.errors import NotFoundError
from postseal.services.clock import Clock
from postseal.services.queueing import enqueue
from postseal.store.ports import QuarantineEntry, SealedBody, Store

__all__ = ["QuarantineService"]

_CONTAINER = "quarantine"


class QuarantineService:
    def __init__(
        self,
        store: Store,
        master: MasterKey,
        *,
        clock: Clock,
        local_domains: frozenset[str],
        expire_hours: int,
    ) -> None:
        self._store = store
        self._master = master
        self._clock = clock
        self._local = local_domains
        self._expire_hours = expire_hours

    async def hold(
        self,
        data: bytes,
        *,
        mail_from: str,
        recipients: Sequence[str],
        reason: str,
        signature: str | None,
    ) -> str:
        now = self._clock()
        entry_id = sealing.new_id(now)
        sealed = sealing.seal(
            sealing.quarantine_key(self._master), data, container=_CONTAINER, label=entry_id
        )
        entry = QuarantineEntry(
            id=entry_id,
            mail_from=mail_from,
            recipients=tuple(recipients),
            reason=reason,
            signature=signature,
            size=len(data),
            created_at=now,
        )
        async with self._store.begin() as tx:
            await tx.quarantine.add(entry, SealedBody(sealed.wrapped_key, sealed.ciphertext))
            await tx.audit.append(
                actor="intake", action="quarantine.hold", target=entry_id, detail=reason
            )
        return entry_id

    async def list_entries(self, *, released: bool | None = False) -> Sequence[QuarantineEntry]:
        async with self._store.begin() as tx:
            return await tx.quarantine.list(released=released)

    async def release(self, entry_id: str, *, actor: str) -> str:
        """Queue the held message for its recipients; returns the queue id."""
        now = self._clock()
        async with self._store.begin() as tx:
            entry = await tx.quarantine.get(entry_id)
            body = await tx.quarantine.body(entry_id)
            if entry is None or body is None:
                raise NotFoundError(
                    f"no quarantined message {entry_id}", hint="see `postseal quarantine list`"
                )
            data = sealing.open_sealed(
                sealing.quarantine_key(self._master),
                sealing.SealedBlob(body.wrapped_key, body.ciphertext),
                container=_CONTAINER,
                label=entry_id,
            )
            await tx.quarantine.release(entry_id, at=now)
            queue_id = sealing.new_id(now)
            await enqueue(
                tx,
                self._master,
                message_id=queue_id,
                data=data,
                mail_from=entry.mail_from,
                recipients=entry.recipients,
                local_domains=self._local,
                now=now,
                expire_hours=self._expire_hours,
                listener="local",
                client_address="quarantine",
            )
            await tx.audit.append(
                actor=actor, action="quarantine.release", target=entry_id, detail=queue_id
            )
        return queue_id

    async def delete(self, entry_id: str, *, actor: str) -> None:
        async with self._store.begin() as tx:
            await tx.quarantine.delete(entry_id)
            await tx.audit.append(actor=actor, action="quarantine.delete", target=entry_id)
