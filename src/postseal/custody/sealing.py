"""Messages at rest: envelope encryption under container keys, and the ids that label it.

Every message body (in the queue, a mailbox or the quarantine) is encrypted with
AES-256-GCM (NIST SP 800-38D) under a fresh 32-byte *message key*. The message key is
wrapped, again with AES-256-GCM, by the key of the *container* that holds the message:

* the queue and the quarantine: a subkey of the master key (:func:`queue_key`,
  :func:`quarantine_key`, HKDF-SHA256 with ``info = b"postseal/queue"`` …);
* a mailbox: a random per-mailbox key (:func:`new_container_key`), itself wrapped by the
  master key's ``mailbox`` subkey (:func:`wrap_container_key`) and stored with the mailbox.

The associated data binds the body to its ``label`` (the message's id) and the wrapped key
to both its ``container`` (``"queue"``, a mailbox id) and the label, so a blob or a wrapped
key copied onto another record, or into another container, does not open. Moving a message
between containers re-wraps only its 32-byte key (:func:`rewrap`); the body stays as is.

AES-GCM rather than AES-KW (RFC 3394) for the wrap: AES-KW has no associated data, so the
container binding would need a second mechanism. Nonces are 96 random bits; a container key
is safe for 2^32 wraps (SP 800-38D §8.3), centuries of mail for the organisations postseal
serves, and each message key encrypts exactly one body.

Layouts: body ``b"PSM1" || nonce(12) || ciphertext+tag``; wrapped message key
``b"PSW1" || nonce(12) || ciphertext(32)+tag``. Both AADs are a domain string followed by
length-prefixed UTF-8 parts, so no choice of container and label can collide with another.

This module does no I/O; keys and nonces come from :func:`os.urandom`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postseal.custody.master import MasterKey
from postseal.errors import KeyCustodyError

__all__ = [
    "SealedBlob",
    "new_container_key",
    "new_id",
    "open_sealed",
    "quarantine_key",
    "queue_key",
    "rewrap",
    "seal",
    "unwrap_container_key",
    "wrap_container_key",
]

KEY_SIZE = 32
_NONCE_SIZE = 12
_TAG_SIZE = 16
_BODY_MAGIC = b"PSM1"
_WRAP_MAGIC = b"PSW1"
_WRAPPED_SIZE = len(_WRAP_MAGIC) + _NONCE_SIZE + KEY_SIZE + _TAG_SIZE
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True, slots=True)
class SealedBlob:
    """A sealed message: its key wrapped by the container key, and the encrypted body."""

    wrapped_key: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"SealedBlob({len(self.wrapped_key)} + {len(self.ciphertext)} bytes)"


def new_id(at: datetime) -> str:
    """A 26-character, time-ordered, random id (the ULID layout): 48 bits of milliseconds
    since the epoch, then 80 random bits, in Crockford base32.

    Ids of queued messages, mailboxes, stored messages and quarantine entries; they are the
    labels their sealed data is bound to, so they must exist before the data is sealed.
    Sorting ids sorts by ``at`` to the millisecond.
    """
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at.isoformat()} given for an id: use UTC")
    millis = int(at.timestamp() * 1000)
    if not 0 <= millis < 1 << 48:
        raise ValueError(f"{at.isoformat()} is outside the range of postseal ids")
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_container_key() -> bytes:
    """A fresh random mailbox key (32 bytes); store it only wrapped."""
    return os.urandom(KEY_SIZE)


def queue_key(master: MasterKey) -> bytes:
    """The container key of the mail queue: the master key's ``queue`` subkey."""
    return master.subkey("queue")


def quarantine_key(master: MasterKey) -> bytes:
    """The container key of the quarantine: the master key's ``quarantine`` subkey."""
    return master.subkey("quarantine")


def wrap_container_key(master: MasterKey, key: bytes, *, container: str) -> bytes:
    """Wrap a mailbox key under the master key's ``mailbox`` subkey, bound to ``container``
    (the mailbox id)."""
    _require_key(key, what="a container key")
    return master.seal("mailbox", key, label=_container_label(container), nonce=_nonce())


def unwrap_container_key(master: MasterKey, wrapped: bytes, *, container: str) -> bytes:
    """Reverse :func:`wrap_container_key`; KeyCustodyError for another master key, another
    container or damaged data."""
    key = master.open("mailbox", wrapped, label=_container_label(container))
    if len(key) != KEY_SIZE:
        raise KeyCustodyError(f"the key of container {container} has the wrong length")
    return key


def seal(container_key: bytes, plaintext: bytes, *, container: str, label: str) -> SealedBlob:
    """Encrypt ``plaintext`` under a fresh message key wrapped by ``container_key``."""
    _require_key(container_key, what="a container key")
    message_key = os.urandom(KEY_SIZE)
    nonce = _nonce()
    body = AESGCM(message_key).encrypt(nonce, plaintext, _body_aad(label))
    return SealedBlob(
        wrapped_key=_wrap(container_key, message_key, container=container, label=label),
        ciphertext=_BODY_MAGIC + nonce + body,
    )


def open_sealed(container_key: bytes, sealed: SealedBlob, *, container: str, label: str) -> bytes:
    """The plaintext of ``sealed``; KeyCustodyError if the container key, the container or
    the label is not the one it was sealed with, or if a byte of it was changed."""
    message_key = _unwrap(container_key, sealed.wrapped_key, container=container, label=label)
    data = sealed.ciphertext
    if len(data) < len(_BODY_MAGIC) + _NONCE_SIZE + _TAG_SIZE or not data.startswith(_BODY_MAGIC):
        raise KeyCustodyError(f"the sealed message {label} is damaged: its body is not sealed")
    nonce = data[len(_BODY_MAGIC) : len(_BODY_MAGIC) + _NONCE_SIZE]
    try:
        return AESGCM(message_key).decrypt(
            nonce, data[len(_BODY_MAGIC) + _NONCE_SIZE :], _body_aad(label)
        )
    except InvalidTag:
        raise KeyCustodyError(
            f"the body of the sealed message {label} does not open: it was altered, "
            "or it belongs to another message",
            hint="restore the message from a backup",
        ) from None


def rewrap(
    sealed: SealedBlob,
    *,
    label: str,
    from_key: bytes,
    from_container: str,
    to_key: bytes,
    to_container: str,
) -> SealedBlob:
    """The same body with its message key moved to another container (queue → mailbox,
    mailbox → mailbox); the body is not decrypted. The label stays the message's."""
    _require_key(to_key, what="a container key")
    message_key = _unwrap(from_key, sealed.wrapped_key, container=from_container, label=label)
    wrapped = _wrap(to_key, message_key, container=to_container, label=label)
    return SealedBlob(wrapped_key=wrapped, ciphertext=sealed.ciphertext)


def _wrap(container_key: bytes, message_key: bytes, *, container: str, label: str) -> bytes:
    nonce = _nonce()
    aad = _key_aad(container, label)
    return _WRAP_MAGIC + nonce + AESGCM(container_key).encrypt(nonce, message_key, aad)


def _unwrap(container_key: bytes, wrapped: bytes, *, container: str, label: str) -> bytes:
    _require_key(container_key, what="a container key")
    if len(wrapped) != _WRAPPED_SIZE or not wrapped.startswith(_WRAP_MAGIC):
        raise KeyCustodyError(
            f"the sealed message {label} is damaged: its wrapped key has the wrong form"
        )
    nonce = wrapped[len(_WRAP_MAGIC) : len(_WRAP_MAGIC) + _NONCE_SIZE]
    try:
        return AESGCM(container_key).decrypt(
            nonce, wrapped[len(_WRAP_MAGIC) + _NONCE_SIZE :], _key_aad(container, label)
        )
    except InvalidTag:
        raise KeyCustodyError(
            f"the key of the sealed message {label} does not open with the key of {container}",
            hint="the message was moved or altered, or the master key is not this store's",
        ) from None


def _require_key(key: bytes, *, what: str) -> None:
    if len(key) != KEY_SIZE:
        raise KeyCustodyError(f"{what} must be {KEY_SIZE} bytes, not {len(key)}")


def _nonce() -> bytes:
    return os.urandom(_NONCE_SIZE)


def _container_label(container: str) -> str:
    return f"container {container}"


def _aad(domain: bytes, *parts: str) -> bytes:
    encoded = [part.encode("utf-8") for part in parts]
    return domain + b"".join(len(p).to_bytes(4, "big") + p for p in encoded)


def _body_aad(label: str) -> bytes:
    return _aad(b"postseal/message-body/v1", label)


def _key_aad(container: str, label: str) -> bytes:
    return _aad(b"postseal/message-key/v1", container, label)
