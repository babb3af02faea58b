"""Encryption: round trips for every algorithm combination, the choice and its reason,
refused certificates and the MIME wrapping (RFC 8551 §3.3)."""

from __future__ import annotations

import base64
import re

import pytest

from postseal.errors import InputError
from postseal.smime.decrypt import decrypt
from postseal.smime.encrypt import Recipient, encrypt
from tests.smime.envelope_fixtures import SAMPLE_MESSAGE, party

CIPHERS = ["aes128-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm"]
KEY_HOLDERS = ["bob", "carol", "dave", "erin"]


def _to(name: str, **kwargs: object) -> Recipient:
    who = party(name)
    return Recipient(who.address, who.cert, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("holder", KEY_HOLDERS)
def test_round_trip_every_cipher_and_key_type(holder: str, cipher: str) -> None:
    result = encrypt(SAMPLE_MESSAGE, recipients=[_to(holder)], cipher=cipher)
    who = party(holder)
    out = decrypt(result.message, key=who.decryption_key, certificate=who.cert)
    assert out.cipher == cipher
    assert b"The numbers are in." in out.content
    assert b"Subject: Quarterly figures\r\n" in out.restored_message
    assert out.headers_protected


@pytest.mark.parametrize("cipher", ["aes256-cbc", "aes128-gcm"])
def test_round_trip_rsa_oaep(cipher: str) -> None:
    result = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob", prefer_oaep=True)], cipher=cipher)
    assert result.choice.key_management == (("bob@example.org", "rsa-oaep-sha256"),)
    bob = party("bob")
    out = decrypt(result.message, key=bob.decryption_key, certificate=bob.cert)
    assert out.key_management == "rsa-oaep-sha256"


def test_key_management_names_per_key_type() -> None:
    result = encrypt(SAMPLE_MESSAGE, recipients=[_to(n) for n in KEY_HOLDERS])
    assert dict(result.choice.key_management) == {
        "bob@example.org": "rsa-pkcs1v15",
        "carol@example.org": "ecdh-p256-x963-sha256",
        "dave@example.org": "ecdh-p384-x963-sha384",
        "erin@example.org": "x25519-hkdf-sha256",
    }


def test_mixed_recipients_each_decrypt() -> None:
    result = encrypt(SAMPLE_MESSAGE, recipients=[_to(n) for n in KEY_HOLDERS], cipher="aes256-gcm")
    expected = {
        "bob": "rsa-pkcs1v15",
        "carol": "ecdh-p256-dhSinglePass-stdDH-sha256kdf",
        "dave": "ecdh-p384-dhSinglePass-stdDH-sha384kdf",
        "erin": "x25519-dhSinglePass-stdDH-hkdf-sha256",
    }
    contents = set()
    for name, km in expected.items():
        who = party(name)
        out = decrypt(result.message, key=who.decryption_key, certificate=who.cert)
        assert out.key_management == km
        contents.add(out.content)
    assert len(contents) == 1


def test_unknown_capabilities_choose_the_interop_profile() -> None:
    result = encrypt(
        SAMPLE_MESSAGE, recipients=[Recipient("bob@partner.example", party("bob").cert)]
    )
    assert result.choice.content_cipher == "aes256-cbc"
    assert result.reason == (
        "AES-256-CBC with RSA PKCS#1 v1.5: bob@partner.example's capabilities are unknown; "
        "NSS 3.87 and gpgsm 2.2 read nothing stronger"
    )


def test_gcm_only_when_every_recipient_advertises_it() -> None:
    gcm = ("aes256-gcm", "aes128-gcm", "aes256-cbc", "aes128-cbc", "rsaes-oaep")
    both = encrypt(
        SAMPLE_MESSAGE, recipients=[_to("bob", capabilities=gcm), _to("carol", capabilities=gcm)]
    )
    assert both.choice.content_cipher == "aes256-gcm"
    assert both.reason.startswith(
        "AES-256-GCM with RSA-OAEP (SHA-256) and ECDH P-256: the strongest"
    )
    one = encrypt(
        SAMPLE_MESSAGE,
        recipients=[_to("bob", capabilities=gcm), _to("carol", capabilities=("aes128-cbc",))],
    )
    assert one.choice.content_cipher == "aes128-cbc"
    mixed = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob", capabilities=gcm), _to("carol")])
    assert mixed.choice.content_cipher == "aes256-cbc"
    assert "carol@example.org's capabilities are unknown" in mixed.reason


def test_capabilities_by_oid_and_spelling_variants() -> None:
    oids = ("2.16.840.1.101.3.4.1.6", "1.2.840.113549.1.1.7")
    result = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob", capabilities=oids)])
    assert result.choice.content_cipher == "aes128-gcm"
    assert result.choice.key_management[0][1] == "rsa-oaep-sha256"
    spelled = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob", capabilities=("AES-256-CBC",))])
    assert spelled.choice.content_cipher == "aes256-cbc"


def test_no_common_cipher_falls_back_to_aes256_cbc() -> None:
    result = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob", capabilities=("des-ede3-cbc",))])
    assert result.choice.content_cipher == "aes256-cbc"
    assert "no common cipher" in result.reason


def test_prefer_oaep_false_wins_over_capabilities() -> None:
    result = encrypt(
        SAMPLE_MESSAGE, recipients=[_to("bob", capabilities=("rsaes-oaep",), prefer_oaep=False)]
    )
    assert result.choice.key_management[0][1] == "rsa-pkcs1v15"


def test_explicit_cipher_the_recipient_lacks_names_the_recipient() -> None:
    with pytest.raises(InputError, match=r"AES-256-GCM: carol@example\.org does not advertise"):
        encrypt(
            SAMPLE_MESSAGE,
            cipher="aes256-gcm",
            recipients=[_to("bob"), _to("carol", capabilities=("aes256-cbc",))],
        )


@pytest.mark.parametrize("cipher", ["rc2-cbc", "chacha20-poly1305", "des-ede3-cbc"])
def test_explicit_cipher_postseal_does_not_encrypt_with(cipher: str) -> None:
    with pytest.raises(InputError, match="postseal encrypts only with"):
        encrypt(SAMPLE_MESSAGE, recipients=[_to("bob")], cipher=cipher)


@pytest.mark.parametrize(
    ("name", "why"),
    [("frank", "signatures only"), ("grace", "keyEncipherment"), ("heidi", "Ed25519 key")],
)
def test_certificate_that_cannot_encrypt_is_refused_by_address(name: str, why: str) -> None:
    with pytest.raises(InputError, match=rf"{name}@example\.org.*{why}"):
        encrypt(SAMPLE_MESSAGE, recipients=[_to("bob"), _to(name)])


def test_no_recipients() -> None:
    with pytest.raises(InputError, match="no recipients"):
        encrypt(SAMPLE_MESSAGE, recipients=[])


@pytest.mark.parametrize(
    ("cipher", "smime_type"),
    [("aes256-cbc", b"enveloped-data"), ("aes128-gcm", b"authEnveloped-data")],
)
def test_mime_wrapping(cipher: str, smime_type: bytes) -> None:
    message = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob")], cipher=cipher).message
    head, _, body = message.partition(b"\r\n\r\n")
    assert b"Content-Type: application/pkcs7-mime; smime-type=" + smime_type + b";" in head
    assert b'name="smime.p7m"' in head
    assert b"Content-Transfer-Encoding: base64" in head
    assert head.count(b"MIME-Version") == 1
    assert re.search(rb"(?<!\r)\n", message) is None
    lines = body.split(b"\r\n")
    assert all(len(line) <= 76 for line in lines)
    assert len(lines[0]) == 76
    base64.b64decode(b"".join(lines), validate=True)


def test_header_protection_hides_the_subject_outside() -> None:
    message = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob")]).message
    head = message.partition(b"\r\n\r\n")[0]
    assert b"Subject: [...]\r\n" in head
    assert b"Quarterly" not in message
    assert b"From: Alice <alice@example.org>\r\n" in head


def test_without_header_protection_the_subject_stays_outside() -> None:
    message = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob")], protect_headers=False).message
    assert b"Subject: Quarterly figures\r\n" in message
    bob = party("bob")
    out = decrypt(message, key=bob.decryption_key, certificate=bob.cert)
    assert not out.headers_protected
    assert out.content.startswith(b"Content-Type: text/plain; charset=utf-8\r\n")
    assert b"Subject: Quarterly figures\r\n" in out.restored_message


def test_deterministic_rng_gives_the_same_content_encryption() -> None:
    def rng(n: int) -> bytes:
        return bytes(range(n))

    first = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob")], rng=rng).message
    second = encrypt(SAMPLE_MESSAGE, recipients=[_to("bob")], rng=rng).message
    tail = -200  # the encrypted content sits at the end of the DER
    assert (
        base64.b64decode(b"".join(first.split(b"\r\n\r\n", 1)[1].split()))[tail:]
        == base64.b64decode(b"".join(second.split(b"\r\n\r\n", 1)[1].split()))[tail:]
    )
