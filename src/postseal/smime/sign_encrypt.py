"""Sign, then encrypt: one confidential, signed message (RFC 8551 §3.6, RFC 9788 §4.1).

The signed entity is the RFC 9788 inner entity (every non-structural header field, the
HP-Outer records, ``hp="cipher"`` and the message's body); the signed entity is what is
enveloped. The message's body, most of its bytes, is looked at once on the way:

- :func:`split_for_signing` scans the message once (:func:`postseal.mail.octets.scan`),
  cuts it (which makes every line end CRLF) and brings the inner entity into canonical
  form (RFC 8551 §3.1.1) without checking those line ends, or a body the scan found
  clean, again. The result is marked as canonical, so :func:`postseal.smime.sign.sign`
  signs it as it is instead of scanning it once more. A caller that signs elsewhere (the S/MIME
  service, which finds the signer's key first) hands it on unchanged.
- :func:`sign_and_encrypt` is the whole path: split, sign, envelope.

The output is byte for byte that of signing ``split_outer_inner(message)``'s inner entity
and passing it to :func:`postseal.smime.encrypt.envelope`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from cryptography import x509

from postseal.mail import octets
from postseal.mail.canonical import canonicalize
from postseal.smime.encrypt import EncryptResult, Recipient, Rng, envelope
from postseal.smime.headers import split_outer_inner
from postseal.smime.sign import SigningKey, sign

__all__ = ["sign_and_encrypt", "split_for_signing"]


def split_for_signing(message: bytes) -> tuple[bytes, bytes]:
    """(outer header fields, inner entity in canonical form) of a full RFC 5322 message.

    The split is :func:`~postseal.smime.headers.split_outer_inner` with header protection;
    the inner entity is :func:`~postseal.mail.canonical.canonicalize`'s result, which the
    signer takes as it is. Content that cannot be canonicalised raises
    :class:`~postseal.errors.InputError`, as signing it would.
    """
    # One scan of the message answers both steps: whether its line ends need rewriting,
    # and whether its body (which the inner entity carries unchanged) is signable as it is.
    flags = octets.scan(message)
    outer, inner = split_outer_inner(message, known_crlf=not flags & octets.BARE_LINE_END)
    # split_outer_inner builds the inner entity from CRLF pieces only (RFC 8551 §3.1.1)
    return outer, canonicalize(inner, known_crlf=True, clean_body=flags == 0)


def sign_and_encrypt(
    message: bytes,
    *,
    signer_cert: x509.Certificate,
    signer_key: SigningKey,
    chain: Sequence[x509.Certificate],
    signing_time: datetime,
    recipients: Sequence[Recipient],
    digest: str = "sha256",
    rsa_padding: Literal["pkcs1v15", "pss"] = "pkcs1v15",
    cipher: str | None = None,
    rng: Rng | None = None,
) -> EncryptResult:
    """The message signed as :func:`~postseal.smime.sign.sign` does (multipart/signed),
    then enveloped for every recipient as :func:`~postseal.smime.encrypt.envelope` does.

    Raises what those raise: :class:`~postseal.errors.PolicyError` for a signer
    certificate that may not sign now, :class:`~postseal.errors.InputError` for content
    that cannot be canonicalised or a recipient whose certificate cannot encrypt.
    Nothing is produced then.
    """
    outer, inner = split_for_signing(message)
    signed = sign(
        inner,
        signer_cert=signer_cert,
        signer_key=signer_key,
        chain=chain,
        signing_time=signing_time,
        digest=digest,
        rsa_padding=rsa_padding,
    )
    return envelope(outer, signed, recipients=recipients, cipher=cipher, rng=rng)
