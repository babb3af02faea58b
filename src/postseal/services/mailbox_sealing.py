"""How messages are sealed into mailboxes and opened again (ADR 0008, ADR 0011 §5).

The one place that knows the conventions, shared by delivery
(:mod:`postseal.services.mailbox_writer`) and the mailbox service
(:mod:`postseal.services.mailboxes`):

- a mailbox's container key is 32 random bytes, stored wrapped by the master key's
  ``mailbox`` subkey with ``container = mailbox.id``;
- a message body is sealed with ``container = mailbox.id`` and ``label = email_id``;
- its summary (:func:`postseal.mail.structure.to_summary`, what ENVELOPE,
  BODYSTRUCTURE, RFC822.SIZE and header SEARCH keys need) with
  ``label = <email_id>/summary``, so a summary can never be passed off as a body.

Everything here is synchronous and CPU-bound; the service runs large bodies through
:func:`offload` so the event loop keeps serving other sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from postseal.custody import MasterKey, sealing
from postseal.mail.structure import parse, to_summary
from postseal.services.offload import OFFLOAD_BYTES, offload
from postseal.store.ports import (
    Mailbox,
    MessageKeys,
    NewMailbox,
    NewStoredMessage,
    SealedBody,
    SpecialUse,
)

__all__ = [
    "OFFLOAD_BYTES",
    "mailbox_key",
    "new_mailbox",
    "offload",
    "open_body",
    "open_summary",
    "rewrap_keys",
    "seal_message",
    "seal_summary",
    "summarise",
    "summary_label",
]


def new_mailbox(
    master: MasterKey,
    user_id: int | None,
    name: str,
    *,
    now: datetime,
    special_use: SpecialUse | None = None,
) -> NewMailbox:
    """A mailbox to create, with a fresh container key wrapped for its new id."""
    box_id = sealing.new_id(now)
    wrapped = sealing.wrap_container_key(master, sealing.new_container_key(), container=box_id)
    return NewMailbox(box_id, user_id, name, wrapped, now, special_use)


def mailbox_key(master: MasterKey, mailbox: Mailbox) -> bytes:
    """The mailbox's container key, unwrapped from its stored record."""
    return sealing.unwrap_container_key(master, mailbox.wrapped_key, container=mailbox.id)


def summary_label(email_id: str) -> str:
    return f"{email_id}/summary"


def summarise(data: bytes) -> bytes:
    """The summary bytes of a raw message (parsing never raises on message bytes)."""
    return to_summary(parse(data))


def seal_summary(key: bytes, mailbox_id: str, email_id: str, summary: bytes) -> SealedBody:
    blob = sealing.seal(key, summary, container=mailbox_id, label=summary_label(email_id))
    return SealedBody(blob.wrapped_key, blob.ciphertext)


def seal_message(
    key: bytes,
    mailbox_id: str,
    data: bytes,
    *,
    email_id: str,
    internal_date: datetime,
    flags: Sequence[str] = (),
) -> NewStoredMessage:
    """``data`` sealed as it is (byte-exact: a signed message must still verify), with
    its summary sealed beside it."""
    blob = sealing.seal(key, data, container=mailbox_id, label=email_id)
    return NewStoredMessage(
        email_id=email_id,
        internal_date=internal_date,
        size=len(data),
        body=SealedBody(blob.wrapped_key, blob.ciphertext),
        flags=tuple(flags),
        summary=seal_summary(key, mailbox_id, email_id, summarise(data)),
    )


def open_body(key: bytes, mailbox_id: str, email_id: str, sealed: SealedBody) -> bytes:
    blob = sealing.SealedBlob(sealed.wrapped_key, sealed.ciphertext)
    return sealing.open_sealed(key, blob, container=mailbox_id, label=email_id)


def open_summary(key: bytes, mailbox_id: str, email_id: str, sealed: SealedBody) -> bytes:
    blob = sealing.SealedBlob(sealed.wrapped_key, sealed.ciphertext)
    return sealing.open_sealed(key, blob, container=mailbox_id, label=summary_label(email_id))


def rewrap_keys(
    master: MasterKey, source: Mailbox, target: Mailbox, keys: Sequence[MessageKeys]
) -> tuple[Mapping[int, bytes], Mapping[int, bytes]]:
    """Message keys (body, summary) re-wrapped from ``source`` to ``target``, by source
    UID, for the store's ``copy``/``move``; no body is decrypted (ADR 0008 §1)."""
    from_key, to_key = mailbox_key(master, source), mailbox_key(master, target)
    bodies: dict[int, bytes] = {}
    summaries: dict[int, bytes] = {}
    for item in keys:
        for label, wrapped, out in (
            (item.email_id, item.body, bodies),
            (summary_label(item.email_id), item.summary, summaries),
        ):
            if wrapped is None:
                continue
            moved = sealing.rewrap(
                sealing.SealedBlob(wrapped, b""),
                label=label,
                from_key=from_key,
                from_container=source.id,
                to_key=to_key,
                to_container=target.id,
            )
            out[item.uid] = moved.wrapped_key
    return bodies, summaries
