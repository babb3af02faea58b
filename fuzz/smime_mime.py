"""Fuzz target: S/MIME message classification — ``postseal.smime.mime.parse_smime``.

Run: ``python fuzz/smime_mime.py -max_total_time=60 corpus/`` (see fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import sys

import _harness

from postseal.errors import PostsealError
from postseal.smime.mime import DetachedParts, OpaqueParts, parse_smime

DICTIONARY = (
    b"Content-Type: multipart/signed; boundary=",
    b'; protocol="application/pkcs7-signature"; micalg=sha-256',
    b"Content-Type: application/pkcs7-mime; smime-type=signed-data",
    b"Content-Type: application/pkcs7-signature",
    b"Content-Type: application/octet-stream; name=smime.p7m",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: binary\r\n",
    b"\r\n\r\n",
    b"\r\n--",
    b"--\r\n",
    b'boundary="',
    b"\r\n ",
)


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(PostsealError):
        parts = parse_smime(data)
        assert isinstance(parts, DetachedParts | OpaqueParts)
        if isinstance(parts, DetachedParts):
            assert parts.signature, "an empty signature part was accepted"
        else:
            assert parts.der, "an empty S/MIME body was accepted"


def seeds() -> list[bytes]:
    from postseal.smime.encrypt import Recipient, encrypt
    from postseal.smime.sign import sign

    found = _harness.shared_files(
        "smime/thunderbird-signed/*.txt",
        "smime/rfc4134/*.eml",
        "mime/mimekit-messages/*signed*",
        "mime/cpython-test_email/msg_0[1-5]*.txt",
    )
    pki = _harness.throwaway_pki()
    key, cert = pki["signer"]
    for opaque in (False, True):
        found.append(
            sign(
                _harness.SAMPLE_MESSAGE,
                signer_cert=cert,
                signer_key=key,
                chain=[],
                signing_time=_harness.NOW,
                opaque=opaque,
            )
        )
    recipient = Recipient("bob@fuzz.example", pki["rsa"][1])
    found.append(encrypt(_harness.SAMPLE_MESSAGE, recipients=[recipient]).message)
    return found


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
