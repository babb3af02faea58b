"""Fuzz target: CMS SignedData — ``signed_data.parse`` and ``verify.verify_cms``.

Verification runs with a chain validator that trusts nothing, at a fixed time; a
detached signature (no encapsulated content) is checked against a fixed content.
Run: ``python fuzz/cms_signed.py -max_total_time=60 corpus/`` (see fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from datetime import datetime

import _harness
from cryptography import x509

from postseal.errors import PostsealError
from postseal.smime import signed_data
from postseal.smime.results import ChainOutcome
from postseal.smime.verify import verify_cms

DETACHED_CONTENT = b"This is some sample content."
DICTIONARY = (
    b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02",  # id-signedData
    b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01",  # id-data
    b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x04",  # messageDigest
    b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01",  # sha256
    b"\x24\x80",
    b"\x30\x80",
    b"\x00\x00",
    b"-----BEGIN PKCS7-----\n",
    b"-----END PKCS7-----\n",
)


def distrust(
    leaf: x509.Certificate, carried: Sequence[x509.Certificate], at: datetime
) -> ChainOutcome:
    """A validator that trusts nothing (every path ends at an unknown root)."""
    return ChainOutcome(trusted=False, status="untrusted-root", reason="fuzzing trusts nothing")


def test_one_input(data: bytes) -> None:
    parsed = None
    with contextlib.suppress(PostsealError):
        parsed = signed_data.parse(data)
    with contextlib.suppress(PostsealError):
        result = verify_cms(data, validate_chain=distrust, now=_harness.NOW)
        assert not any(s.chain.trusted for s in result.signers), "a distrusted chain was trusted"
    if parsed is not None and parsed.content is None:
        with contextlib.suppress(PostsealError):
            verify_cms(data, content=DETACHED_CONTENT, validate_chain=distrust, now=_harness.NOW)


def seeds() -> list[bytes]:
    from postseal.smime.mime import DetachedParts, parse_smime
    from postseal.smime.sign import sign

    found = _harness.shared_files(
        "smime/rfc4134/4.*.bin",
        "smime/rfc9216-examples-cms/binary-files/signed*.p7m",
        "smime/rfc9216-examples-cms/pem-encoded/signed*.pem",
    )
    found = [s + b"\n" if s.startswith(b"-----BEGIN") else s for s in found]
    pki = _harness.throwaway_pki()
    key, cert = pki["signer"]
    for opaque in (False, True):
        entity = sign(
            _harness.SAMPLE_MESSAGE,
            signer_cert=cert,
            signer_key=key,
            chain=[pki["root"]],
            signing_time=_harness.NOW,
            opaque=opaque,
        )
        parts = parse_smime(entity)
        found.append(parts.signature if isinstance(parts, DetachedParts) else parts.der)
    return found


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
