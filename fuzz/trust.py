"""Fuzz target: certificate and CRL files — ``postseal.pki.trust.load_certificates`` and
``load_crl``, then what an import does with each certificate (fingerprint, label,
describe, key type, self-signed check, classification for the trust store).

``classify_for_trust`` refusing a certificate (a ``PostsealError``) is a normal outcome.
Run: ``python fuzz/trust.py -max_total_time=60 corpus/`` (see fuzz/README.md).
"""

from __future__ import annotations

import base64
import contextlib
import sys

import _harness

from postseal.errors import PostsealError
from postseal.pki import trust

DICTIONARY = (
    b"-----BEGIN CERTIFICATE-----\n",
    b"-----END CERTIFICATE-----\n",
    b"-----BEGIN X509 CRL-----\n",
    b"-----END X509 CRL-----\n",
    b"-----BEGIN PKCS7-----\n",
    b"-----END PKCS7-----\n",
    b"-----BEGIN PRIVATE KEY-----\n",
    b"\x06\x03\x55\x1d\x13",  # basicConstraints
    b"\x06\x03\x55\x1d\x0f",  # keyUsage
    b"\x06\x03\x55\x1d\x11",  # subjectAltName
    b"\x30\x82",
)


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(PostsealError):
        for cert in trust.load_certificates(data):
            trust.fingerprint(cert)
            trust.label(cert)
            trust.describe(cert)
            trust.key_type(cert)
            trust.is_self_signed(cert)
            for kind in ("root", "intermediate", "cross"):
                with contextlib.suppress(PostsealError):
                    trust.classify_for_trust(cert, kind)
    with contextlib.suppress(PostsealError):
        trust.load_crl(data)


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode("ascii")


def seeds() -> list[bytes]:
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    certs = _harness.shared_files(
        "smime/rfc4134/*.cer",
        "smime/rfc9216-examples-cms/certs-and-keys/*.crt",
        "smime/thunderbird-signed/*.crt",
    )
    crls = _harness.shared_files("smime/rfc4134/*.crl")
    found = certs + crls
    found += [c if c.startswith(b"-----") else _pem("CERTIFICATE", c) for c in certs[:4]]
    found += [_pem("X509 CRL", c) for c in crls[:2]]
    pki = _harness.throwaway_pki()
    ours = [pki["root"], pki["rsa"][1], pki["x25519"][1]]
    found += [c.public_bytes(Encoding.DER) for c in ours]
    bundle = pkcs7.serialize_certificates(ours, Encoding.DER)
    found += [bundle, _pem("PKCS7", bundle)]
    return found


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
