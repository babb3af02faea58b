"""A tiny test PKI for the envelope tests: recipients of every supported key type.

An RSA root issues RSA-2048 (keyEncipherment), EC P-256 and P-384 (keyAgreement)
recipients and the certificates that must be refused (EC for signatures only, RSA without
keyEncipherment); an Ed25519 root issues the X25519 recipient and an Ed25519 signer.
Validity follows the real clock because the peers (openssl, gpgsm, NSS) read it. Keys are
generated once per test session.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from postseal.smime.decrypt import PrivateKey

NOW = datetime.now(UTC).replace(microsecond=0)
DOMAIN = "example.org"

_CaKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class Party:
    """A test certificate holder."""

    address: str
    cert: x509.Certificate
    key: PrivateKey | ed25519.Ed25519PrivateKey

    @property
    def decryption_key(self) -> PrivateKey:
        """The key as a decryption key (not valid for the signature-only parties)."""
        assert not isinstance(self.key, ed25519.Ed25519PrivateKey)
        return self.key


@dataclass(frozen=True)
class Ca:
    """A root certificate authority."""

    cert: x509.Certificate
    key: _CaKey


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "postseal tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _sign_with(builder: x509.CertificateBuilder, key: _CaKey) -> x509.Certificate:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return builder.sign(key, None)
    return builder.sign(key, hashes.SHA256())


def _make_ca(cn: str, key: _CaKey) -> Ca:
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(ski, critical=False)
    )
    return Ca(_sign_with(builder, key), key)


@functools.cache
def rsa_ca() -> Ca:
    """The RSA root that issues the RSA and EC recipients."""
    return _make_ca("Envelope Test RSA Root", rsa.generate_private_key(65537, 2048))


@functools.cache
def ed25519_ca() -> Ca:
    """The Ed25519 root that issues the X25519 recipient (as RFC 9216's Dana)."""
    return _make_ca("Envelope Test Ed25519 Root", ed25519.Ed25519PrivateKey.generate())


def _usage(*, encipher: bool = False, agree: bool = False, sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=encipher,
        data_encipherment=False,
        key_agreement=agree,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    ca: Ca, local: str, key: PrivateKey | ed25519.Ed25519PrivateKey, usage: x509.KeyUsage | None
) -> Party:
    address = f"{local}@{DOMAIN}"
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(local.capitalize()))
        .issuer_name(ca.cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return Party(address, _sign_with(builder, ca.key), key)


@functools.cache
def party(name: str) -> Party:
    """A named test party.

    ``bob`` RSA-2048 keyEncipherment; ``bob2`` a second RSA recipient; ``carol`` EC P-256
    and ``dave`` EC P-384 with keyAgreement; ``erin`` X25519 (Ed25519 root); refused:
    ``frank`` EC signature-only, ``grace`` RSA without keyEncipherment, ``heidi`` Ed25519.
    """
    ca = rsa_ca()
    if name in ("bob", "bob2"):
        return _issue(ca, name, rsa.generate_private_key(65537, 2048), _usage(encipher=True))
    if name == "carol":
        return _issue(ca, name, ec.generate_private_key(ec.SECP256R1()), _usage(agree=True))
    if name == "dave":
        return _issue(ca, name, ec.generate_private_key(ec.SECP384R1()), _usage(agree=True))
    if name == "erin":
        return _issue(ed25519_ca(), name, x25519.X25519PrivateKey.generate(), _usage(agree=True))
    if name == "frank":
        return _issue(ca, name, ec.generate_private_key(ec.SECP256R1()), _usage(sign=True))
    if name == "grace":
        return _issue(ca, name, rsa.generate_private_key(65537, 2048), _usage(sign=True))
    if name == "heidi":
        return _issue(ed25519_ca(), name, ed25519.Ed25519PrivateKey.generate(), _usage(sign=True))
    raise KeyError(name)


def write_pem(directory: Path, who: Party) -> tuple[Path, Path]:
    """Write ``<local>.crt`` and ``<local>.key`` (PKCS#8, unencrypted) for the peers."""
    local = who.address.split("@")[0]
    cert_path = directory / f"{local}.crt"
    key_path = directory / f"{local}.key"
    cert_path.write_bytes(who.cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        who.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def write_ca_pem(directory: Path) -> Path:
    """Write the RSA root as ``root.crt``."""
    path = directory / "root.crt"
    path.write_bytes(rsa_ca().cert.public_bytes(serialization.Encoding.PEM))
    return path


SAMPLE_MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Quarterly figures\r\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
    b"Message-ID: <q1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"The numbers are in. Gr\xc3\xbc\xc3\x9fe.\r\n"
)
