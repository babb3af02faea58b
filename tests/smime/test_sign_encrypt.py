"""Sign-then-encrypt in one pass (RFC 8551 §3.6, RFC 9788 §4.1): the same signed entity
and message as signing the inner entity of ``split_outer_inner`` and enveloping it, with
the canonical form of the body computed once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postseal.errors import InputError, PolicyError
from postseal.mail.canonical import canonicalize, is_crlf
from postseal.smime.decrypt import decrypt
from postseal.smime.encrypt import Recipient, envelope
from postseal.smime.headers import split_outer_inner
from postseal.smime.sign import sign
from postseal.smime.sign_encrypt import sign_and_encrypt, split_for_signing
from postseal.smime.verify import verify
from tests.smime.envelope_fixtures import SAMPLE_MESSAGE, party
from tests.smime.signing_fixtures import NOW, pki

LONG_MESSAGE = (
    b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: figures\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    + b"The quick brown fox jumps over the lazy dog, 0123456789 times.\r\n"
    * 800
)


def _sign(entity: bytes) -> bytes:
    alice = pki().users["alice"]
    return sign(
        entity, signer_cert=alice.cert, signer_key=alice.key, chain=pki().chain, signing_time=NOW
    )


@pytest.mark.parametrize(
    "message", [SAMPLE_MESSAGE, LONG_MESSAGE, LONG_MESSAGE.replace(b"\r", b"")]
)
def test_the_signed_entity_and_the_head_are_those_of_the_two_step_path(message: bytes) -> None:
    alice, bob = pki().users["alice"], party("bob")
    recipients = [Recipient(bob.address, bob.cert)]
    result = sign_and_encrypt(
        message,
        signer_cert=alice.cert,
        signer_key=alice.key,
        chain=pki().chain,
        signing_time=NOW,
        recipients=recipients,
    )
    outer, inner = split_outer_inner(message)
    # RSA PKCS #1 v1.5 signatures are deterministic: the signed entities must be equal;
    # the content key and its encryption are random, so the ciphertexts are not
    two_step = envelope(outer, _sign(inner), recipients=recipients)
    opened = decrypt(result.message, key=bob.decryption_key, certificate=bob.cert)
    assert opened.content == _sign(inner)
    assert opened.inner_signed and opened.headers_protected
    head = result.message.partition(b"\r\n\r\n")[0]
    assert head == two_step.message.partition(b"\r\n\r\n")[0]
    assert result.choice == two_step.choice
    verdict = verify(opened.content, validate_chain=pki().validator(), now=NOW)
    assert verdict.ok


def test_refusals_come_before_anything_is_produced() -> None:
    p, bob = pki(), party("bob")
    old = p.users["old"]
    with pytest.raises(PolicyError, match="expired"):
        sign_and_encrypt(
            SAMPLE_MESSAGE,
            signer_cert=old.cert,
            signer_key=old.key,
            chain=p.chain,
            signing_time=NOW,
            recipients=[Recipient(bob.address, bob.cert)],
        )
    grace = party("grace")
    with pytest.raises(InputError, match="keyEncipherment"):
        sign_and_encrypt(
            SAMPLE_MESSAGE,
            signer_cert=p.users["alice"].cert,
            signer_key=p.users["alice"].key,
            chain=p.chain,
            signing_time=NOW,
            recipients=[Recipient(grace.address, grace.cert)],
        )


def test_the_canonical_inner_entity_is_signed_as_it_is() -> None:
    outer, inner = split_for_signing(LONG_MESSAGE)
    assert canonicalize(inner) is inner  # marked canonical: not scanned again
    reference_outer, reference_inner = split_outer_inner(LONG_MESSAGE)
    assert (outer, inner) == (reference_outer, canonicalize(reference_inner))
    assert _sign(inner) == _sign(reference_inner)
    changed = inner + b"x"  # any derived bytes lose the mark
    assert canonicalize(changed) is not changed


_HEADERS = st.sampled_from(
    [
        b"From: a@example.org\r\n",
        b"Subject: a\r\n  folded subject\r\n",
        b"Subject: trailing \r\n",
        b"Keywords: k\n",
        b"Content-Type: text/plain; charset=utf-8\r\n",
        b"Content-Type: text/html\r\n",
        b'Content-Type: text/plain; name="a\\"b"\r\n',
        b"Content-Type: application/octet-stream\r\n",
        b'Content-Type: multipart/mixed; boundary="b"\r\n',
        b"Content-Transfer-Encoding: 8bit\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Description: white space at the end \t\r\n",
        b"MIME-Version: 1.0\r\n",
        b"X-Note: caf\xc3\xa9\r\n",
        b"no colon here\r\n",
    ]
)
_BODY = st.sampled_from(
    [
        b"text",
        b" ",
        b"\t",
        b"\r\n",
        b"\n",
        b"\r",
        b"\x00",
        b"K\xc3\xa4se",
        b"=",
        b"x" * 997,
        b"y" * 1000,
        b"--b\r\n",
        b"--b--\r\n",
        b"\r\nContent-Type: text/plain\r\n\r\n",
    ]
)


def _outcome(action: object, message: bytes) -> object:
    try:
        return action(message)  # type: ignore[operator]
    except InputError as exc:
        return ("InputError", exc.message)


def _two_step(message: bytes) -> tuple[bytes, bytes]:
    outer, inner = split_outer_inner(message)
    return outer, canonicalize(inner)


@settings(max_examples=800, deadline=None)
@given(
    st.lists(_HEADERS, max_size=5).map(b"".join),
    st.sampled_from([b"\r\n", b"\n"]),
    st.lists(_BODY, max_size=10).map(b"".join),
)
def test_split_for_signing_is_split_then_canonicalize(
    header: bytes, blank: bytes, body: bytes
) -> None:
    message = header + blank + body
    assert is_crlf(split_outer_inner(message)[1])  # what split_for_signing relies on
    assert _outcome(split_for_signing, message) == _outcome(_two_step, message)
