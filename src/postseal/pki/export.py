"""Exporting a certificate and its key: PEM, DER and PKCS#12 (RFC 7292).

The default PKCS#12 uses PBES2 with AES-256-CBC and PBKDF2-SHA256, the strongest profile
OpenSSL 3, NSS and modern mail programs read. ``legacy=True`` gives the 3DES/SHA-1
profile (PBE-SHA1-3DES for keys and certificates, SHA-1 MAC) that gpgsm 2.2 and older
Outlook need; it is weaker and is only produced when asked for by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from postseal.errors import CertificateFormatError, InputError
from postseal.pki.keys import PrivateKey

__all__ = ["MIN_P12_PASSWORD", "read_pkcs12", "to_pem_bundle", "to_pkcs12"]

MIN_P12_PASSWORD = 8
_KDF_ROUNDS = 600_000
_LEGACY_ROUNDS = 50_000


def to_pem_bundle(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def to_pkcs12(
    cert: x509.Certificate,
    key: PrivateKey | None,
    *,
    chain: Sequence[x509.Certificate],
    password: bytes,
    friendly_name: str,
    legacy: bool = False,
) -> bytes:
    """A password-protected PKCS#12 with the certificate, its key (if given) and chain."""
    if len(password) < MIN_P12_PASSWORD:
        raise InputError(f"the PKCS#12 password must be at least {MIN_P12_PASSWORD} characters")
    if legacy:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(_LEGACY_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())  # noqa: S303 - gpgsm 2.2 reads only this MAC
            .build(password)
        )
    else:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(_KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password)
        )
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode(), key, cert, list(chain) or None, encryption
    )


def read_pkcs12(data: bytes, password: bytes) -> pkcs12.PKCS12KeyAndCertificates:
    """Open a PKCS#12; a wrong password or a corrupt file is one clear error."""
    try:
        return pkcs12.load_pkcs12(data, password)
    except ValueError:
        raise CertificateFormatError(
            "cannot open the PKCS#12 file: the password is wrong or the file is damaged"
        ) from None
