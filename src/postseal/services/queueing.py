"""Putting a message into the queue: sealed under the queue key, in the caller's
transaction (so a 250, a quarantine release or a DSN is committed with it or not at all)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from postseal.custody import MasterKey, sealing
from postseal.store.ports import NewRecipient, QueuedMessage, RecipientKind, SealedBody, Transaction

__all__ = ["QUEUE_CONTAINER", "enqueue"]

QUEUE_CONTAINER = "queue"


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
    """Seal ``data`` (label = ``message_id``) and enqueue it for ``recipients``."""
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
    queued = [
        NewRecipient(
            address,
            RecipientKind.LOCAL
            if address.rsplit("@", 1)[-1] in local_domains
            else RecipientKind.REMOTE,
        )
        for address in dict.fromkeys(recipients)
    ]
    await tx.queue.enqueue(message, SealedBody(sealed.wrapped_key, sealed.ciphertext), queued)
