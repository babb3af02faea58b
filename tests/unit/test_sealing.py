"""Sealing messages at rest: round trips, every tamper case, label and container swaps."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from postseal.custody import MasterKey
from postseal.custody.sealing import (
    SealedBlob,
    new_container_key,
    new_id,
    open_sealed,
    quarantine_key,
    queue_key,
    rewrap,
    seal,
    unwrap_container_key,
    wrap_container_key,
)
from postseal.errors import KeyCustodyError

MARKER = b"MARKER-7f3a9c-confidential"
MESSAGE = (
    b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: merger "
    + MARKER
    + b"\r\n\r\nThe body repeats "
    + MARKER * 50
    + b"\r\n"
)
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def master() -> MasterKey:
    return MasterKey(os.urandom(32))


def test_a_sealed_message_opens_with_its_key_container_and_label() -> None:
    key = new_container_key()
    sealed = seal(key, MESSAGE, container="queue", label="01ABC")
    assert open_sealed(key, sealed, container="queue", label="01ABC") == MESSAGE


def test_an_empty_message_round_trips() -> None:
    key = new_container_key()
    sealed = seal(key, b"", container="queue", label="x")
    assert open_sealed(key, sealed, container="queue", label="x") == b""


def test_no_part_of_the_plaintext_appears_in_the_sealed_blob() -> None:
    sealed = seal(new_container_key(), MESSAGE, container="queue", label="01ABC")
    stored = sealed.wrapped_key + sealed.ciphertext
    assert MARKER not in stored
    assert b"Subject" not in stored
    for start in range(0, len(MESSAGE) - 8, 8):
        assert MESSAGE[start : start + 8] not in stored


def test_each_seal_uses_a_fresh_message_key_and_nonce() -> None:
    key = new_container_key()
    first = seal(key, MESSAGE, container="queue", label="a")
    second = seal(key, MESSAGE, container="queue", label="a")
    assert first.wrapped_key != second.wrapped_key
    assert first.ciphertext != second.ciphertext


@pytest.mark.parametrize(("container", "label"), [("queue", "01ABD"), ("mailbox 7", "01ABC")])
def test_another_label_or_container_does_not_open(container: str, label: str) -> None:
    key = new_container_key()
    sealed = seal(key, MESSAGE, container="queue", label="01ABC")
    with pytest.raises(KeyCustodyError, match="does not open"):
        open_sealed(key, sealed, container=container, label=label)


def test_another_container_key_does_not_open() -> None:
    sealed = seal(new_container_key(), MESSAGE, container="queue", label="01ABC")
    with pytest.raises(KeyCustodyError, match=r"key of the sealed message 01ABC does not open"):
        open_sealed(new_container_key(), sealed, container="queue", label="01ABC")


def test_swapping_bodies_between_two_messages_is_detected() -> None:
    key = new_container_key()
    one = seal(key, b"one", container="queue", label="A")
    two = seal(key, b"two", container="queue", label="B")
    swapped = SealedBlob(wrapped_key=one.wrapped_key, ciphertext=two.ciphertext)
    with pytest.raises(KeyCustodyError, match="body of the sealed message A does not open"):
        open_sealed(key, swapped, container="queue", label="A")
    relabelled = SealedBlob(wrapped_key=two.wrapped_key, ciphertext=two.ciphertext)
    with pytest.raises(KeyCustodyError):
        open_sealed(key, relabelled, container="queue", label="A")


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.mark.parametrize("part", ["wrapped_key", "ciphertext"])
def test_every_changed_byte_is_detected(part: str) -> None:
    key = new_container_key()
    sealed = seal(key, b"short message", container="queue", label="L")
    data: bytes = getattr(sealed, part)
    for index in range(len(data)):
        changed = _flip(data, index)
        tampered = (
            SealedBlob(changed, sealed.ciphertext)
            if part == "wrapped_key"
            else SealedBlob(sealed.wrapped_key, changed)
        )
        with pytest.raises(KeyCustodyError):
            open_sealed(key, tampered, container="queue", label="L")


@pytest.mark.parametrize(
    ("wrapped_key", "ciphertext", "message"),
    [
        (b"", None, "wrapped key has the wrong form"),
        (None, b"", "body is not sealed"),
        (None, b"PSM1" + bytes(40), "body of the sealed message L does not open"),
        (b"XXXX" + bytes(60), None, "wrapped key has the wrong form"),
    ],
)
def test_truncated_or_foreign_data_is_reported_as_damaged(
    wrapped_key: bytes | None, ciphertext: bytes | None, message: str
) -> None:
    key = new_container_key()
    sealed = seal(key, MESSAGE, container="queue", label="L")
    damaged = SealedBlob(
        sealed.wrapped_key if wrapped_key is None else wrapped_key,
        sealed.ciphertext if ciphertext is None else ciphertext,
    )
    with pytest.raises(KeyCustodyError, match=message):
        open_sealed(key, damaged, container="queue", label="L")


def test_a_container_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(KeyCustodyError, match="must be 32 bytes, not 16"):
        seal(os.urandom(16), MESSAGE, container="queue", label="L")


def test_a_mailbox_key_is_wrapped_by_the_master_key_bound_to_its_mailbox(
    master: MasterKey,
) -> None:
    key = new_container_key()
    wrapped = wrap_container_key(master, key, container="01MBOX")
    assert key not in wrapped
    assert unwrap_container_key(master, wrapped, container="01MBOX") == key
    with pytest.raises(KeyCustodyError, match="cannot open"):
        unwrap_container_key(master, wrapped, container="01OTHER")
    with pytest.raises(KeyCustodyError, match="cannot open"):
        unwrap_container_key(MasterKey(os.urandom(32)), wrapped, container="01MBOX")
    with pytest.raises(KeyCustodyError, match="damaged"):
        unwrap_container_key(master, wrapped[:20], container="01MBOX")


def test_queue_and_quarantine_keys_are_distinct_master_subkeys(master: MasterKey) -> None:
    assert queue_key(master) == queue_key(MasterKey(master.secret))
    assert len({queue_key(master), quarantine_key(master), master.secret}) == 3
    sealed = seal(queue_key(master), MESSAGE, container="queue", label="Q")
    with pytest.raises(KeyCustodyError):
        open_sealed(quarantine_key(master), sealed, container="queue", label="Q")


def test_rewrap_moves_a_message_into_a_mailbox_without_touching_the_body(
    master: MasterKey,
) -> None:
    inbox = new_container_key()
    queued = seal(queue_key(master), MESSAGE, container="queue", label="Q1")
    moved = rewrap(
        queued,
        label="Q1",
        from_key=queue_key(master),
        from_container="queue",
        to_key=inbox,
        to_container="01INBOX",
    )
    assert moved.ciphertext == queued.ciphertext
    assert open_sealed(inbox, moved, container="01INBOX", label="Q1") == MESSAGE
    with pytest.raises(KeyCustodyError):
        open_sealed(queue_key(master), moved, container="queue", label="Q1")


def test_ids_are_26_characters_time_ordered_and_unique() -> None:
    ids = [new_id(AT + timedelta(milliseconds=n)) for n in range(200)]
    assert all(len(i) == 26 and i.isalnum() and i.isupper() for i in ids)
    assert ids == sorted(ids)
    assert len({new_id(AT) for _ in range(1000)}) == 1000
    assert new_id(AT)[:10] == new_id(AT)[:10]


def test_an_id_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        new_id(datetime(2026, 1, 1))


def test_the_repr_of_a_sealed_blob_shows_only_sizes() -> None:
    sealed = seal(new_container_key(), b"secret", container="queue", label="L")
    assert repr(sealed) == f"SealedBlob({4 + 12 + 32 + 16} + {4 + 12 + 6 + 16} bytes)"
