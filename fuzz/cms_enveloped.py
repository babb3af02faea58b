"""Fuzz target: CMS (Auth)EnvelopedData — ``enveloped.parse`` and ``decrypt.decrypt_cms``.

Decryption is tried with three throwaway recipients generated at start-up (RSA, EC P-256,
X25519); the seeds include objects encrypted to each, so mutations reach key transport,
key agreement, key unwrap and the content ciphers, not only the "not addressed" error.
Run: ``python fuzz/cms_enveloped.py -max_total_time=60 corpus/`` (see fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import sys

import _harness

from postseal.errors import PostsealError
from postseal.smime import enveloped
from postseal.smime.decrypt import decrypt_cms

DICTIONARY = (
    b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03",  # id-envelopedData
    b"\x06\x0b\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x01\x17",  # id-ct-authEnvelopedData
    b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x01\x2e",  # aes256-GCM
    b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x01\x02",  # aes128-CBC
    b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x07",  # RSAES-OAEP
    b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01",  # rsaEncryption
    b"\x24\x80",
    b"\x30\x80",
    b"\x00\x00",
    b"-----BEGIN CMS-----\n",
    b"-----END CMS-----\n",
)
_KEYS = ("rsa", "p256", "x25519")


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(PostsealError):
        enveloped.parse(data)
    pki = _harness.throwaway_pki()
    for name in _KEYS:
        key, cert = pki[name]
        with contextlib.suppress(PostsealError):
            decrypt_cms(data, key=key, certificate=cert)


def seeds() -> list[bytes]:
    from postseal.smime.encrypt import Recipient, encrypt_entity

    found = _harness.shared_files(
        "smime/rfc4134/5.*.bin",
        "smime/rfc9216-examples-cms/binary-files/*nvelope*.p7m",
        "smime/rfc9216-examples-cms/binary-files/encrypted*.p7m",
        "smime/rfc9216-examples-cms/pem-encoded/encrypted*.pem",
    )
    found = [s + b"\n" if s.startswith(b"-----BEGIN") else s for s in found]
    pki = _harness.throwaway_pki()
    plans = [
        ("rsa", "aes128-cbc", False),
        ("rsa", "aes256-gcm", True),
        ("p256", "aes128-gcm", None),
        ("p256", "aes256-cbc", None),
        ("x25519", "aes256-gcm", None),
    ]
    for name, cipher, oaep in plans:
        _, cert = pki[name]
        recipient = Recipient(f"{name}@fuzz.example", cert, prefer_oaep=oaep)
        der, _ = encrypt_entity(_harness.SAMPLE_MESSAGE, recipients=[recipient], cipher=cipher)
        found.append(der)
    everyone = [Recipient(f"{n}@fuzz.example", pki[n][1]) for n in _KEYS]
    found.append(encrypt_entity(b"x" * 40, recipients=everyone)[0])
    return found


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
