"""Putting a message into the queue: sealed under the queue key, in the caller's
transaction (so a 250, a quarantine release or a DSN is committed with it or not at all).

:func:`seal_for_queue` does the sealing (CPU only) and :meth:`SealedForQueue.write` the
store's part, so the intake can seal before it joins a group commit (ADR 0016) and hold
the shared transaction only for the inserts; :data:`QUEUE_WRITER` writes the messages of
a whole group commit with a few multi-row statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from postseal.custody import MasterKey, sealing
from postseal.store.ports import NewRecipient, QueuedMessage, RecipientKind, SealedBody, Transaction

__all__ = ["QUEUE_CONTAINER", "QUEUE_WRITER", "SealedForQueue", "enqueue", "seal_for_queue"]

QUEUE_CONTAINER = "queue"


@dataclass(frozen=True, slots=True)
class SealedForQueue:
    """A message sealed under the queue key with its envelope, ready to be written."""

    message: QueuedMessage
    body: SealedBody
    recipients: tuple[NewRecipient, ...]

    async def write(self, tx: Transaction) -> None:
        """Enqueue it in ``tx`` (ConflictError if its id exists; ValueError without
        recipients)."""
        await tx.queue.enqueue(self.message, self.body, self.recipients)


class _QueueWriter:
    """:class:`~postseal.services.group_commit.BatchWriter` of sealed messages."""

    async def write_batch(
        self, tx: Transaction, items: Sequence[SealedForQueue]
    ) -> Sequence[Exception | None]:
        return await tx.queue.enqueue_many([(i.message, i.body, i.recipients) for i in items])


QUEUE_WRITER = _QueueWriter()


def seal_for_queue(
    master: MasterKey,
    *,
    message_id: str,
    data: bytes,
    mail_from: str,
    recipients: Sequence[str],
    local_domains: frozenset[str],
    now: datetime,
    expire_hours: int,
    listener: str,
    client_address: str,
    auth_user: str | None = None,
) -> SealedForQueue:
    """Seal ``data`` (label = ``message_id``) and describe it for ``recipients`` (each once,
    local when its domain is one of ``local_domains``)."""
    sealed = sealing.seal(
        sealing.queue_key(master), data, container=QUEUE_CONTAINER, label=message_id
    )
    message = QueuedMessage(
        id=message_id,
        mail_from=mail_from,
        received_at=now,
        expires_at=now + timedelta(hours=expire_hours),
        size=len(data),
        listener=listener,
        client_address=client_address,
        auth_user=auth_user,
    )
    queued = tuple(
        NewRecipient(
            address,
            RecipientKind.LOCAL
            if address.rsplit("@", 1)[-1] in local_domains
            else RecipientKind.REMOTE,
        )
        for address in dict.fromkeys(recipients)
    )
    return SealedForQueue(message, SealedBody(sealed.wrapped_key, sealed.ciphertext), queued)


async def enqueue(
    tx: Transaction,
    master: MasterKey,
    *,
    message_id: str,
    data: bytes,
    mail_from: str,
    recipients: Sequence[str],
    local_domains: frozenset[str],
    now: datetime,
    expire_hours: int,
    listener: str,
    client_address: str,
    auth_user: str | None = None,
) -> None:
    """Seal ``data`` (label = ``message_id``) and enqueue it for ``recipients`` in ``tx``."""
    sealed = seal_for_queue(
        master,
        message_id=message_id,
        data=data,
        mail_from=mail_from,
        recipients=recipients,
        local_domains=local_domains,
        now=now,
        expire_hours=expire_hours,
        listener=listener,
        client_address=client_address,
        auth_user=auth_user,
    )
    await sealed.write(tx)
