"""Delivery status notifications to senders, queued like any other message.

A DSN (RFC 3464, built by :mod:`postseal.mail.dsn`) is enqueued in the same transaction
as the ``mark_failed`` / ``mark_expired`` that causes it, so a sender is told exactly
once. It leaves with the null reverse-path (RFC 5321 §4.5.5), and a message that itself
has the null reverse-path never causes one (RFC 3464 §2, RFC 3461 §6.2: never bounce a
bounce). The recipient's NOTIFY parameter (RFC 3461 §4.1) decides: ``NEVER`` suppresses
it; absent means ``FAILURE``.

The DSN is sealed under the queue key like the intake's messages: ``container="queue"``
and ``label`` = its new queue id.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from postseal.custody import MasterKey, sealing
from postseal.mail import dsn
from postseal.store.ports import (
    NewRecipient,
    QueuedMessage,
    RecipientKind,
    SealedBody,
    Transaction,
)

__all__ = ["QUEUE_CONTAINER", "BounceWriter", "Bounced", "wants_failure_notice"]

QUEUE_CONTAINER = "queue"  # the container name sealed queue bodies are bound to


@dataclass(frozen=True, slots=True)
class Bounced:
    """A recipient the sender must hear about, and why."""

    address: str
    status: str  # RFC 3463, e.g. "5.1.1", "4.4.7"
    diagnostic: str
    orcpt: str | None = None
    last_attempt: datetime | None = None


def wants_failure_notice(notify: str | None) -> bool:
    """RFC 3461 §4.1: without NOTIFY the MTA sends failure notices; NEVER stops them."""
    if notify is None:
        return True
    values = {v.strip().upper() for v in notify.split(",")}
    return "FAILURE" in values and "NEVER" not in values


class BounceWriter:
    """Builds, seals and enqueues DSNs for failed or expired recipients."""

    def __init__(
        self,
        master: MasterKey,
        *,
        hostname: str,
        expire_hours: int,
        local_domains: Collection[str] = (),
    ) -> None:
        self._queue_key = sealing.queue_key(master)
        self._hostname = hostname
        self._expire = timedelta(hours=expire_hours)
        self._local_domains = {d.lower() for d in local_domains}

    async def enqueue(
        self,
        tx: Transaction,
        message: QueuedMessage,
        original: bytes | None,
        bounced: Sequence[Bounced],
        *,
        now: datetime,
    ) -> str | None:
        """Queue one failure DSN for ``bounced`` to ``message``'s sender; its queue id, or
        None when nothing is sent (null sender, nobody to report)."""
        if not message.mail_from or not bounced:
            return None
        dsn_id = sealing.new_id(now)
        data = dsn.build_dsn(
            reporting_mta=self._hostname,
            original_envelope_id=message.dsn_envid,
            arrival_date=message.received_at,
            recipients=[
                dsn.DsnRecipient(
                    address=b.address,
                    action="failed",
                    status=b.status,
                    diagnostic=b.diagnostic,
                    original_recipient=b.orcpt,
                    last_attempt=b.last_attempt,
                )
                for b in bounced
            ],
            original=original,
            ret=message.dsn_ret,
            message_id=f"{dsn_id}@{self._hostname}",
            date=now,
            from_address=f"MAILER-DAEMON@{self._hostname}",
            to_address=message.mail_from,
        )
        blob = sealing.seal(self._queue_key, data, container=QUEUE_CONTAINER, label=dsn_id)
        envelope = QueuedMessage(
            id=dsn_id,
            mail_from="",
            received_at=now,
            expires_at=now + self._expire,
            size=len(data),
            listener="local",
            client_address="127.0.0.1",
        )
        kind = await self._kind(tx, message.mail_from)
        recipient = NewRecipient(message.mail_from, kind, notify="NEVER")
        await tx.queue.enqueue(envelope, SealedBody(blob.wrapped_key, blob.ciphertext), [recipient])
        return dsn_id

    async def _kind(self, tx: Transaction, address: str) -> RecipientKind:
        domain = address.rpartition("@")[2].lower()
        if domain in self._local_domains or await tx.users.get(address.lower()) is not None:
            return RecipientKind.LOCAL
        return RecipientKind.REMOTE
