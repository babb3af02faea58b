"""Decryption: published vectors, every KDF variant, identifiers, tampering, wrong
recipients and hostile input (RFC 5652 §6, RFC 5083, RFC 5753, RFC 8418)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519

from postseal.errors import InputError
from postseal.smime import der as der_encoding
from postseal.smime import enveloped, keyagree
from postseal.smime.ciphers import CIPHERS, encrypt_content
from postseal.smime.decrypt import (
    NotAddressedError,
    UndecryptableError,
    decrypt,
    decrypt_cms,
)
from postseal.smime.encrypt import Recipient, encrypt, encrypt_entity
from tests.peers import shared_testdata
from tests.smime.envelope_fixtures import SAMPLE_MESSAGE, Party, party

SAMPLE = b"This is some sample content."
UNIFORM = "cannot decrypt: the message was altered or is not for this key"


def _rfc9216(name: str) -> Path:
    return shared_testdata() / "smime" / "rfc9216-examples-cms" / name


def _pem(path: Path) -> bytes:
    data = path.read_bytes()
    return data if data.endswith(b"\n") else data + b"\n"  # the files lack a final newline


def _lamps(who: str) -> tuple[x509.Certificate, object]:
    base = _rfc9216("certs-and-keys")
    cert = x509.load_pem_x509_certificate(_pem(base / f"lamps-{who}.encrypt.crt"))
    key = serialization.load_pem_private_key(_pem(base / f"lamps-{who}.decrypt.p8.pem"), None)
    return cert, key


@pytest.mark.parametrize(
    ("vector", "who", "cipher", "km"),
    [
        ("encryptedForBobRSAOaep", "bob", "aes128-cbc", "rsa-oaep-sha256"),
        ("encryptedForBobAndDana", "bob", "aes128-cbc", "rsa-oaep-sha256"),
        ("encryptedForBobAndDana", "dana", "aes128-cbc", "x25519-dhSinglePass-stdDH-sha256kdf"),
        (
            "authEnvelopedForDanaX25519HKDF",
            "dana",
            "aes128-gcm",
            "x25519-dhSinglePass-stdDH-hkdf-sha256",
        ),
        ("authEnvelopedForBobChaCha20Poly1305", "bob", "chacha20-poly1305", "rsa-oaep-sha256"),
    ],
)
def test_rfc9216_vectors(vector: str, who: str, cipher: str, km: str) -> None:
    cert, key = _lamps(who)
    for data in (
        _rfc9216(f"binary-files/{vector}.p7m").read_bytes(),
        _rfc9216(f"pem-encoded/{vector}.pem").read_bytes(),
    ):
        result = decrypt_cms(data, key=key, certificate=cert)  # type: ignore[arg-type]
        assert (result.content, result.cipher, result.key_management) == (SAMPLE, cipher, km)


def _rfc4134() -> tuple[Path, x509.Certificate, object]:
    base = shared_testdata() / "smime" / "rfc4134"
    key = serialization.load_der_private_key((base / "BobPrivRSAEncrypt.pri").read_bytes(), None)
    cert = x509.load_der_x509_certificate((base / "BobRSASignByCarl.cer").read_bytes())
    return base, cert, key


def test_rfc4134_5_1_and_5_3() -> None:
    base, cert, key = _rfc4134()
    expected = (base / "ExContent.bin").read_bytes()
    raw = decrypt_cms((base / "5.1.bin").read_bytes(), key=key, certificate=cert)  # type: ignore[arg-type]
    assert (raw.content, raw.cipher) == (expected, "des-ede3-cbc")
    mail = decrypt((base / "5.3.eml").read_bytes(), key=key, certificate=cert)  # type: ignore[arg-type]
    assert mail.content == expected
    assert b"Subject: Example 5.3\r\n" in mail.restored_message
    assert mail.restored_message.endswith(b"\r\n\r\n" + expected)


def test_rfc4134_5_2_rc2_is_refused_by_name() -> None:
    # RC2-40 is export-grade; cryptography only offers 128-bit RC2, so it is not supported.
    base, cert, key = _rfc4134()
    with pytest.raises(InputError, match="RC2-CBC is not supported"):
        decrypt_cms((base / "5.2.bin").read_bytes(), key=key, certificate=cert)  # type: ignore[arg-type]


def _kari_message(
    who: Party, scheme_oid: str, *, named_curve: bool, ukm: bytes | None, by_key_id: bool = False
) -> bytes:
    """An EnvelopedData built by hand for one KARI variant (what other agents emit)."""
    public = who.cert.public_key()
    content_key, iv = b"k" * 16, b"i" * 16
    wrap_oid = "2.16.840.1.101.3.4.1.5"
    ephemeral: keyagree.AgreementKey
    if isinstance(public, x25519.X25519PublicKey):
        ephemeral = x25519.X25519PrivateKey.generate()
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        ephemeral = ec.generate_private_key(public.curve)
    spki = ephemeral.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if not named_curve:
        from postseal.smime.encrypt import _ec_spki_without_parameters

        assert isinstance(ephemeral, ec.EllipticCurvePrivateKey)
        spki = _ec_spki_without_parameters(ephemeral.public_key())
    scheme = keyagree.KDF_SCHEMES[scheme_oid]
    kek = keyagree.derive_kek(scheme, keyagree.shared_secret(ephemeral, public), wrap_oid, ukm)  # type: ignore[arg-type]
    info = enveloped.kari(
        who.cert,
        originator_spki=spki,
        scheme_oid=scheme_oid,
        wrap_oid=wrap_oid,
        encrypted_key=keyagree.wrap(kek, content_key),
        ukm=ukm,
        by_key_id=by_key_id,
    )
    body, _ = encrypt_content(CIPHERS["aes128-cbc"], content_key, iv, SAMPLE)
    return enveloped.content_info(
        [info], cipher_oid=CIPHERS["aes128-cbc"].oid, iv=iv, ciphertext=body, tag=None
    )


@pytest.mark.parametrize(
    "scheme_oid", sorted(o for o, s in keyagree.KDF_SCHEMES.items() if s.kdf == "x963")
)
@pytest.mark.parametrize("named_curve", [True, False])
def test_every_x963_kdf_variant_with_and_without_curve_parameters(
    scheme_oid: str, named_curve: bool
) -> None:
    carol = party("carol")
    der = _kari_message(carol, scheme_oid, named_curve=named_curve, ukm=b"u" * 64)
    result = decrypt_cms(der, key=carol.decryption_key, certificate=carol.cert)
    assert result.content == SAMPLE
    assert result.key_management == f"ecdh-p256-{keyagree.KDF_SCHEMES[scheme_oid].name}"


@pytest.mark.parametrize(
    "scheme_oid", [o for o, s in keyagree.KDF_SCHEMES.items() if s.kdf == "hkdf"]
)
def test_x25519_hkdf_variants_and_rkeyid(scheme_oid: str) -> None:
    erin = party("erin")
    der = _kari_message(erin, scheme_oid, named_curve=True, ukm=None, by_key_id=True)
    assert decrypt_cms(der, key=erin.decryption_key, certificate=erin.cert).content == SAMPLE


def test_ktri_by_subject_key_identifier() -> None:
    bob = party("bob")
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    public = bob.cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    content_key, iv = b"k" * 32, b"i" * 16
    info = enveloped.ktri(
        bob.cert, public.encrypt(content_key, padding.PKCS1v15()), oaep=False, by_key_id=True
    )
    body, _ = encrypt_content(CIPHERS["aes256-cbc"], content_key, iv, SAMPLE)
    der = enveloped.content_info(
        [info], cipher_oid=CIPHERS["aes256-cbc"].oid, iv=iv, ciphertext=body, tag=None
    )
    assert decrypt_cms(der, key=bob.decryption_key, certificate=bob.cert).content == SAMPLE


def _der_for(name: str, cipher: str, **kwargs: object) -> bytes:
    who = party(name)
    der, _ = encrypt_entity(
        SAMPLE, cipher=cipher, recipients=[Recipient(who.address, who.cert, **kwargs)]
    )  # type: ignore[arg-type]
    return der


@pytest.mark.parametrize(
    ("cipher", "where"),
    # GCM: -1 is in the tag, -19 the last ciphertext byte. CBC (two blocks at the end):
    # -17 and -20 flip padding bytes of the last block, so the check fails every time.
    [("aes128-gcm", -1), ("aes128-gcm", -19), ("aes256-cbc", -17), ("aes256-cbc", -20)],
)
@pytest.mark.parametrize("name", ["bob", "carol", "erin"])
def test_tampering_gives_the_one_uniform_error(name: str, cipher: str, where: int) -> None:
    der = bytearray(_der_for(name, cipher))
    der[where] ^= 0x01
    who = party(name)
    with pytest.raises(UndecryptableError) as caught:
        decrypt_cms(bytes(der), key=who.decryption_key, certificate=who.cert)
    assert caught.value.message == UNIFORM


@pytest.mark.parametrize("oaep", [False, True])
def test_damaged_rsa_key_transport_fails_at_the_content_like_a_wrong_key(oaep: bool) -> None:
    bob = party("bob")
    der = _der_for("bob", "aes256-gcm", prefer_oaep=oaep)
    parsed = enveloped.parse(der)
    first = parsed.recipients[0]
    assert isinstance(first, enveloped.KeyTransport)
    i = der.index(first.encrypted_key) + 100
    damaged = der[:i] + bytes([der[i] ^ 0xFF]) + der[i + 1 :]
    with pytest.raises(UndecryptableError):
        decrypt_cms(damaged, key=bob.decryption_key, certificate=bob.cert)


def test_right_certificate_wrong_key_gives_the_uniform_error() -> None:
    bob, bob2 = party("bob"), party("bob2")
    with pytest.raises(UndecryptableError):
        decrypt_cms(_der_for("bob", "aes256-cbc"), key=bob2.decryption_key, certificate=bob.cert)


def test_not_for_us_names_our_certificate_and_the_recipients() -> None:
    bob, carol = party("bob"), party("carol")
    message = encrypt(SAMPLE_MESSAGE, recipients=[Recipient(bob.address, bob.cert)]).message
    with pytest.raises(NotAddressedError) as caught:
        decrypt(message, key=carol.decryption_key, certificate=carol.cert)
    text = str(caught.value)
    assert "not addressed to CN=Carol,O=postseal tests (carol@example.org, serial" in text
    assert f"serial {bob.cert.serial_number:#x} from 'CN=Envelope Test RSA Root" in text


def test_inner_signed_content_is_reported() -> None:
    signed = (
        b"From: a@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
        b' micalg=sha-256; boundary="b"\r\n\r\n--b\r\n\r\nhi\r\n--b--\r\n'
    )
    bob = party("bob")
    message = encrypt(signed, recipients=[Recipient(bob.address, bob.cert)]).message
    result = decrypt(message, key=bob.decryption_key, certificate=bob.cert)
    assert result.inner_signed
    plain = encrypt(SAMPLE_MESSAGE, recipients=[Recipient(bob.address, bob.cert)]).message
    assert not decrypt(plain, key=bob.decryption_key, certificate=bob.cert).inner_signed


def test_x_pkcs7_mime_and_binary_transfer_encoding() -> None:
    bob = party("bob")
    der = _der_for("bob", "aes256-cbc")
    message = (
        b"Content-Type: application/x-pkcs7-mime; name=smime.p7m\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n" + der
    )
    assert decrypt(message, key=bob.decryption_key, certificate=bob.cert).content == SAMPLE


def _mime(der_b64: bytes, smime_type: bytes = b"enveloped-data") -> bytes:
    return (
        b"Content-Type: application/pkcs7-mime; smime-type="
        + smime_type
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + der_b64
    )


def _deep(depth: int) -> bytes:
    der = b"\x05\x00"
    for _ in range(depth):
        der = enveloped._der_tlv(0x30, der)
    return der


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (_mime(b"MIIB"), "malformed"),
        (_mime(b"MIIBxyz"), "truncated"),
        (_mime(b"MII*Bxyz"), "not valid base64"),
        (_mime(b"", b"signed-data"), "signed, not encrypted"),
        (b"Content-Type: text/plain\r\n\r\nhello", "text/plain, not S/MIME"),
        (_mime(base64.b64encode(b"\x30\x84\xff\xff\xff\xff\x06\x00")), "malformed"),
        (_mime(base64.b64encode(_deep(3000))), "malformed"),
        (_mime(base64.b64encode(b"\x30\x80" * 5000)), "malformed"),
        (_mime(base64.b64encode(b"garbage")), "malformed"),
    ],
)
def test_hostile_input_gets_a_clear_error(message: bytes, match: str) -> None:
    bob = party("bob")
    with pytest.raises(InputError, match=match):
        decrypt(message, key=bob.decryption_key, certificate=bob.cert)


def test_unknown_cipher_oid() -> None:
    bob = party("bob")
    der = _der_for("bob", "aes256-cbc")
    changed = der.replace(
        bytes.fromhex("060960864801650304012a"), bytes.fromhex("060960864801650304012f")
    )
    assert changed != der
    with pytest.raises(InputError, match=r"2\.16\.840\.1\.101\.3\.4\.1\.47 is not supported"):
        decrypt_cms(changed, key=bob.decryption_key, certificate=bob.cert)


def test_size_limit() -> None:
    bob = party("bob")
    with pytest.raises(InputError, match="over the limit of 100"):
        decrypt(b"x" * 101, key=bob.decryption_key, certificate=bob.cert, max_size=100)


def test_enveloped_data_that_is_not_addressed_to_a_key_at_all() -> None:
    cert, key = _lamps("bob")
    with pytest.raises(NotAddressedError, match="its recipients are a pre-shared key"):
        decrypt_cms(
            _rfc9216("binary-files/encryptedKekri.p7m").read_bytes(),
            key=key,  # type: ignore[arg-type]
            certificate=cert,
        )


def _ktri_with_issuer(who: Party, issuer: asn1_x509.Name) -> bytes:
    """A KTRI v0 message for ``who`` whose rid names the issuer with ``issuer``'s bytes."""
    public = who.cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    content_key, iv = b"k" * 32, b"i" * 16
    info = cms.RecipientInfo(
        name="ktri",
        value=cms.KeyTransRecipientInfo(
            {
                "version": "v0",
                "rid": cms.RecipientIdentifier(
                    name="issuer_and_serial_number",
                    value={"issuer": issuer, "serial_number": who.cert.serial_number},
                ),
                "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
                "encrypted_key": public.encrypt(content_key, padding.PKCS1v15()),
            }
        ),
    ).dump()
    body, _ = encrypt_content(CIPHERS["aes256-cbc"], content_key, iv, SAMPLE)
    return enveloped.content_info(
        [info], cipher_oid=CIPHERS["aes256-cbc"].oid, iv=iv, ciphertext=body, tag=None
    )


def test_an_issuer_encoded_differently_still_names_us() -> None:
    # PrintableString instead of UTF8String, other letter case: a different encoding of
    # the same name under RFC 5280 §7.1, so the byte comparison alone would miss it
    bob = party("bob")
    issuer = asn1_x509.Name.load(bob.cert.issuer.public_bytes())
    fields = {k: v.upper() for k, v in issuer.native.items()}
    rebuilt = asn1_x509.Name.build(fields, use_printable=True)
    assert rebuilt.dump() != issuer.dump()
    der = _ktri_with_issuer(bob, rebuilt)
    assert decrypt_cms(der, key=bob.decryption_key, certificate=bob.cert).content == SAMPLE


def test_an_unreadable_issuer_name_is_named_as_such() -> None:
    bob, bob2 = party("bob"), party("bob2")
    # a common name whose value is a BIT STRING: parses as DER, cannot be compared
    odd = asn1_x509.Name.load(
        der_encoding.sequence(
            der_encoding.tlv(
                0x31, der_encoding.sequence(der_encoding.oid("2.5.4.3"), b"\x03\x02\x00\x41")
            )
        )
    )
    der = _ktri_with_issuer(bob, odd)
    with pytest.raises(NotAddressedError, match="unreadable issuer name"):
        decrypt_cms(der, key=bob2.decryption_key, certificate=bob2.cert)
    # bob's serial, but a name that cannot be compared with his issuer's: not bob
    with pytest.raises(NotAddressedError, match="unreadable issuer name"):
        decrypt_cms(der, key=bob.decryption_key, certificate=bob.cert)
