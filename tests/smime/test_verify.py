"""Verification outcomes on our own messages: each failed check is reported as a value
with a human line (RFC 8551 §3.5, RFC 8550 §3), never raised."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from postseal.errors import InputError
from postseal.smime import signed_data
from postseal.smime.algorithms import DEFAULT_CAPABILITIES
from postseal.smime.mime import build_multipart_signed, build_pkcs7_mime, parse_smime
from postseal.smime.results import ChainOutcome
from postseal.smime.sign import sign
from postseal.smime.verify import verify, verify_detached
from tests.smime.signing_fixtures import NOW, pki

BODY = b"From: {who}@example.org\r\nContent-Type: text/plain\r\n\r\nPay 100 EUR to Bob.\r\n"


def _signed(name: str = "alice", *, opaque: bool = False, body: bytes | None = None) -> bytes:
    p = pki()
    user = p.users[name]
    content = body if body is not None else BODY.replace(b"{who}", name.encode())
    return sign(
        content,
        signer_cert=user.cert,
        signer_key=user.key,
        chain=p.chain,
        signing_time=NOW,
        opaque=opaque,
    )


def _verify(message: bytes, **kwargs: object) -> object:
    return verify(message, validate_chain=pki().validator(), now=NOW, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("opaque", [False, True])
def test_flipped_byte_is_content_altered(opaque: bool) -> None:
    signed = _signed("carol", opaque=opaque)
    if opaque:
        parts = parse_smime(signed)
        der = bytearray(parts.der)  # type: ignore[union-attr]
        spot = der.find(b"Pay 100")
        der[spot + 4] ^= 0x01
        tampered = build_pkcs7_mime(bytes(der), smime_type="signed-data")
    else:
        tampered = signed.replace(b"Pay 100 EUR", b"Pay 900 EUR")
    result = verify(tampered, validate_chain=pki().validator(), now=NOW)
    assert not result.ok
    signer = result.signers[0]
    assert not signer.content_intact
    assert signer.chain.trusted
    assert "content altered: the message digest does not match" in result.summary()


def test_revoked_signer_reported_with_reason() -> None:
    result = verify(_signed("bob"), validate_chain=pki().validator(), now=NOW)
    signer = result.signers[0]
    assert signer.content_intact and signer.signature_valid
    assert signer.chain.status == "revoked"
    assert not result.ok
    day = (NOW - timedelta(days=1)).strftime("%Y-%m-%d")
    assert f"signer bob@example.org revoked on {day} (keyCompromise)" in result.summary()


def test_untrusted_root_names_the_root_and_the_fix() -> None:
    def untrusted(leaf: object, carried: object, at: object) -> ChainOutcome:
        return ChainOutcome(False, "untrusted-root", "the root is not in the trust store")

    result = verify(_signed(), validate_chain=untrusted, now=NOW)
    assert result.signers[0].chain.status == "untrusted-root"
    line = result.summary()[0]
    assert line.startswith("untrusted root CN=Postseal Test Root,O=Postseal Test")
    assert line.endswith("run `postseal trust add-root FILE`")


def test_expired_at_verification_time() -> None:
    result = verify(_signed(), validate_chain=pki().validator(), now=NOW + timedelta(days=400))
    assert result.signers[0].chain.status == "expired"
    assert not result.ok


def test_from_mismatch_is_reported_not_fatal_to_signature() -> None:
    body = BODY.replace(b"{who}", b"mallory")
    result = verify(_signed("alice", body=body), validate_chain=pki().validator(), now=NOW)
    signer = result.signers[0]
    assert signer.signature_valid and signer.content_intact and signer.chain.trusted
    assert signer.from_matches is False
    assert not result.ok
    assert "signer alice@example.org does not match From: mallory@example.org" in result.summary()


def test_from_address_argument_and_domain_case() -> None:
    signed = _signed()
    assert _verify(signed, from_address="alice@EXAMPLE.org").ok  # type: ignore[attr-defined]
    assert _verify(signed, from_address="Alice@example.org").ok  # type: ignore[attr-defined]
    assert not _verify(signed, from_address="alice@example.com").ok  # type: ignore[attr-defined]


def test_from_in_outer_header_when_content_has_none() -> None:
    body = b"Content-Type: text/plain\r\n\r\nhi\r\n"
    signed = b"From: Carol <carol@example.org>\r\n" + _signed("carol", body=body)
    result = verify(signed, validate_chain=pki().validator(), now=NOW)
    assert result.signers[0].from_matches is True
    assert result.ok


def test_no_from_anywhere_is_not_a_failure() -> None:
    result = _verify(_signed(body=b"Content-Type: text/plain\r\n\r\nhi\r\n"))
    assert result.signers[0].from_matches is None  # type: ignore[attr-defined]
    assert result.ok  # type: ignore[attr-defined]


def _sha1_signed() -> bytes:
    """A SHA-1 signature, built by hand: sign() refuses to make one."""
    p = pki()
    alice = p.users["alice"]
    content = BODY.replace(b"{who}", b"alice")
    digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - the weak case
    digest.update(content)
    attrs = signed_data.signed_attributes(
        content_digest=digest.finalize(),
        signing_time=NOW,
        capabilities=DEFAULT_CAPABILITIES,
        signer_cert=alice.cert,
        encryption_cert=alice.cert,
    )
    assert isinstance(alice.key, rsa.RSAPrivateKey)
    signature = alice.key.sign(attrs, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    der = signed_data.assemble(
        content=None,
        digest="sha1",
        signature_algorithm={"algorithm": "rsassa_pkcs1v15"},
        attrs_der=attrs,
        signature=signature,
        signer_cert=alice.cert,
        certificates=[alice.cert, p.issuing],
    )
    return build_multipart_signed(content, der, micalg="sha-1")


def test_weak_digest_refused_unless_accepted() -> None:
    message = _sha1_signed()
    result = _verify(message)
    signer = result.signers[0]  # type: ignore[attr-defined]
    assert signer.signature_valid and signer.content_intact and not signer.algorithm_acceptable
    assert "algorithm not acceptable: sha1 with rsassa_pkcs1v15 is too weak to rely on" in (
        result.summary()  # type: ignore[attr-defined]
    )
    assert _verify(message, accept_weak=True).ok  # type: ignore[attr-defined]


def test_several_signers() -> None:
    """Two SignerInfos over one content; one of them revoked spoils the whole."""
    content = b"Content-Type: text/plain\r\n\r\nagreed\r\n"
    infos, certs = [], []
    for name in ("alice", "dave", "bob"):
        signed = _signed(name, body=content)
        sd = cms.ContentInfo.load(parse_smime(signed).signature)["content"]  # type: ignore[union-attr]
        infos.append(sd["signer_infos"][0])
        certs.extend(sd["certificates"])
    sd["signer_infos"] = infos
    sd["certificates"] = certs
    sd["digest_algorithms"] = [{"algorithm": "sha256"}, {"algorithm": "sha512"}]
    der = cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump(force=True)
    result = verify_detached(content, der, validate_chain=pki().validator(), now=NOW)
    # SignerInfos is a SET OF: DER sorts it, so compare without order
    outcome = {s.addresses[0]: s.ok for s in result.signers}
    assert outcome == {
        "alice@example.org": True,
        "dave@example.org": True,
        "bob@example.org": False,
    }
    assert not result.ok
    summary = result.summary()
    assert f"good signature by dave@example.org, signed {NOW:%Y-%m-%d %H:%M} UTC" in summary
    assert any(line.startswith("signer bob@example.org revoked") for line in summary)


def test_lf_converted_message_still_verifies_and_content_is_byte_exact() -> None:
    signed = _signed()
    lf = signed.replace(b"\r\n", b"\n")
    result = _verify(lf)
    assert result.ok  # type: ignore[attr-defined]
    assert result.content == BODY.replace(b"{who}", b"alice").replace(b"\r\n", b"\n")  # type: ignore[attr-defined]


def test_stripped_trailing_whitespace_fails() -> None:
    body = b"From: alice@example.org\r\nContent-Type: text/plain\r\n\r\nline  \r\n"
    signed = _signed(body=body)
    assert b"line =20" in signed  # quoted-printable protects it
    tampered = signed.replace(b"line =20", b"line")
    assert not _verify(tampered).ok  # type: ignore[attr-defined]


def test_legacy_types_accepted() -> None:
    detached = _signed().replace(b"application/pkcs7-signature;", b"application/x-pkcs7-signature;")
    assert _verify(detached).ok  # type: ignore[attr-defined]
    opaque = _signed(opaque=True).replace(b"application/pkcs7-mime", b"application/x-pkcs7-mime")
    assert _verify(opaque).ok  # type: ignore[attr-defined]


def test_enveloped_data_is_not_a_signature() -> None:
    der = parse_smime(_signed(opaque=True)).der  # type: ignore[union-attr]
    wrong = build_pkcs7_mime(der, smime_type="enveloped-data")
    with pytest.raises(InputError, match="decrypt it first"):
        _verify(wrong)


def test_unknown_signer_certificate_uses_extra_certs() -> None:
    p = pki()
    signed = _signed("carol", opaque=True)
    sd = cms.ContentInfo.load(parse_smime(signed).der)["content"]  # type: ignore[union-attr]
    sd["certificates"] = []
    bare = cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump(force=True)
    message = build_pkcs7_mime(bare, smime_type="signed-data")
    missing = _verify(message)
    assert missing.signers[0].chain.status == "no-certificate"  # type: ignore[attr-defined]
    known = verify(
        message, validate_chain=p.validator(), now=NOW, extra_certs=[p.users["carol"].cert]
    )
    assert not known.ok  # the issuing CA is not carried either
    assert known.signers[0].chain.status == "missing-intermediate"
    known = verify(
        message, validate_chain=p.validator(), now=NOW, extra_certs=[p.users["carol"].cert]
    )
    assert known.signers[0].signature_valid


def test_to_json_is_serialisable() -> None:
    data = _verify(_signed("dave")).to_json()  # type: ignore[attr-defined]
    text = json.dumps(data)
    assert data["ok"] is True
    signer = data["signers"][0]
    assert signer["signature_algorithm"] == "ed25519"
    assert signer["capabilities"][0] == "aes256-gcm"
    assert "dave@example.org" in text
