"""RFC 9788 header protection: the injected-headers form on the way out, restored on
the way in."""

from __future__ import annotations

from postseal.smime.decrypt import decrypt
from postseal.smime.encrypt import Recipient, encrypt
from postseal.smime.headers import parse_fields, restore, split_outer_inner
from tests.smime.envelope_fixtures import SAMPLE_MESSAGE, party


def test_outer_follows_hcp_baseline() -> None:
    message = SAMPLE_MESSAGE.replace(b"Subject:", b"Keywords: secret\r\nSubject:")
    outer, _ = split_outer_inner(message)
    assert outer == (
        b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
        b"Subject: [...]\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        b"Message-ID: <q1@example.org>\r\n"
    )


def test_inner_carries_every_field_hp_cipher_and_hp_outer_records() -> None:
    message = SAMPLE_MESSAGE.replace(b"Subject:", b"Keywords: secret\r\nSubject:")
    _, inner = split_outer_inner(message)
    fields, body = parse_fields(inner)
    names = [name for name, _ in fields]
    assert names[:6] == ["from", "to", "keywords", "subject", "date", "message-id"]
    records = [raw for name, raw in fields if name == "hp-outer"]
    assert b"HP-Outer: Subject: [...]\r\n" in records
    assert not any(b"Keywords" in r for r in records)  # removed outside: no record
    content_type = next(raw for name, raw in fields if name == "content-type")
    assert content_type == b'Content-Type: text/plain; charset=utf-8;\r\n hp="cipher"\r\n'
    assert "mime-version" not in names
    assert body == "The numbers are in. Grüße.\r\n".encode()


def test_lf_input_and_folded_fields_are_canonicalised() -> None:
    message = b"Subject: a\n long subject\nFrom: x@example.org\n\nbody\n"
    outer, inner = split_outer_inner(message)
    assert outer == b"Subject: [...]\r\nFrom: x@example.org\r\n"
    assert b"Subject: a\r\n long subject\r\n" in inner
    assert b"HP-Outer: Subject: [...]\r\n" in inner
    assert b'Content-Type: text/plain; charset=us-ascii;\r\n hp="cipher"\r\n' in inner
    assert inner.endswith(b"\r\n\r\nbody\r\n")


def test_restore_replaces_user_facing_fields_and_keeps_transport_fields() -> None:
    outer, inner = split_outer_inner(SAMPLE_MESSAGE)
    received = b"Received: from mx.example.org by in.example.org\r\n"
    tampered = outer.replace(b"Bob <bob@example.org>", b"Eve <eve@example.net>")
    restored, protected = restore(received + tampered + b"\r\n", inner)
    assert protected
    head = restored.partition(b"\r\n\r\n")[0]
    assert head.startswith(received)
    assert b"Subject: Quarterly figures\r\n" in head
    assert b"[...]" not in head
    assert b"HP-Outer" not in head
    assert b"eve@" not in head
    assert head.count(b"MIME-Version") == 1


def test_restore_without_header_protection_keeps_outer_fields() -> None:
    outer, inner = split_outer_inner(SAMPLE_MESSAGE, protect=False)
    restored, protected = restore(outer + b"\r\n", inner)
    assert not protected
    assert restored.startswith(b"From: Alice <alice@example.org>\r\n")
    assert b"Subject: Quarterly figures\r\n" in restored


def test_restore_reads_the_older_protected_headers_v1() -> None:
    inner = b'Subject: real\r\nContent-Type: text/plain; protected-headers="v1"\r\n\r\nhi'
    restored, protected = restore(b"Subject: ...\r\nReceived: x\r\n\r\n", inner)
    assert protected
    assert restored.startswith(b"Received: x\r\nMIME-Version: 1.0\r\nSubject: real\r\n")


def test_end_to_end_restored_message() -> None:
    bob = party("bob")
    message = encrypt(SAMPLE_MESSAGE, recipients=[Recipient(bob.address, bob.cert)]).message
    result = decrypt(b"Received: by mx\r\n" + message, key=bob.decryption_key, certificate=bob.cert)
    assert result.headers_protected
    assert result.restored_message.startswith(b"Received: by mx\r\nMIME-Version: 1.0\r\nFrom:")
    assert b"Subject: Quarterly figures\r\n" in result.restored_message
    assert result.content.startswith(b"From: Alice <alice@example.org>\r\n")
