"""A tiny builder of test PKIs: roots, intermediates, cross-certificates, leaves and CRLs.

Keys are cached module-wide by ``(kind, slot)`` so a test run generates each one once.
Every certificate is built around the fixed instant :data:`NOW`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal

from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

KeyKind = Literal["rsa", "ec", "ed25519", "x25519"]
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
AnyKey = SigningKey | x25519.X25519PrivateKey

EMAIL = ExtendedKeyUsageOID.EMAIL_PROTECTION
SERVER = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH

_serials = itertools.count(0x1000)

_KU_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


@cache
def key(kind: KeyKind = "ec", slot: int = 0) -> AnyKey:
    """The cached private key number ``slot`` of ``kind``."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return x25519.X25519PrivateKey.generate()


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Org"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class Issued:
    """A certificate with the private key of its subject."""

    cert: x509.Certificate
    key: AnyKey

    @property
    def signing_key(self) -> SigningKey:
        assert not isinstance(self.key, x25519.X25519PrivateKey)
        return self.key


def _key_usage(names: Iterable[str]) -> x509.KeyUsage:
    wanted = set(names)
    unknown = wanted - set(_KU_NAMES)
    assert not unknown, unknown
    flags = {n: n in wanted for n in _KU_NAMES}
    return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)


def _sign(builder: x509.CertificateBuilder, signer: SigningKey, *, pss: bool) -> x509.Certificate:
    if isinstance(signer, ed25519.Ed25519PrivateKey):
        return builder.sign(signer, None)
    if pss:
        assert isinstance(signer, rsa.RSAPrivateKey)
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return builder.sign(signer, hashes.SHA256(), rsa_padding=pad)
    return builder.sign(signer, hashes.SHA256())


def make(
    subject: str | x509.Name,
    *,
    issuer: Issued | None = None,
    subject_key: AnyKey | None = None,
    ca: bool | None = False,
    path_len: int | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    ku: Iterable[str] | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    serial: int | None = None,
    ski: bool = True,
    aki: bool = True,
    pss: bool = False,
    email: str | None = None,
    crl_url: str | None = None,
) -> Issued:
    """Build one certificate; ``issuer=None`` makes it self-signed.

    ``ca=None`` leaves basicConstraints out entirely.
    """
    subject_name = subject if isinstance(subject, x509.Name) else name(subject)
    skey = subject_key if subject_key is not None else key("ec", 0)
    issuer_name = issuer.cert.subject if issuer else subject_name
    signer = issuer.signing_key if issuer else _as_signing(skey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name)
        .public_key(skey.public_key())
        .serial_number(serial if serial is not None else next(_serials))
        .not_valid_before(not_before or NOW - 30 * DAY)
        .not_valid_after(not_after or NOW + 365 * DAY)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_len if ca else None), critical=True
        )
    if ku is not None:
        builder = builder.add_extension(_key_usage(ku), critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(skey.public_key()), critical=False
        )
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        )
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(crl_url)], None, None, None
                    )
                ]
            ),
            critical=False,
        )
    return Issued(_sign(builder, signer, pss=pss), skey)


def _as_signing(k: AnyKey) -> SigningKey:
    assert not isinstance(k, x25519.X25519PrivateKey), "an X25519 key cannot self-sign"
    return k


CA_KU = ("key_cert_sign", "crl_sign")


def root(
    common_name: str = "Test Root", *, kind: KeyKind = "ec", slot: int = 100, **kw: object
) -> Issued:
    """A self-signed root CA (CA:TRUE, keyCertSign + cRLSign)."""
    kw.setdefault("ku", CA_KU)
    kw.setdefault("aki", False)
    return make(common_name, subject_key=key(kind, slot), ca=True, **kw)  # type: ignore[arg-type]


def intermediate(
    common_name: str,
    issuer: Issued,
    *,
    kind: KeyKind = "ec",
    slot: int = 200,
    **kw: object,
) -> Issued:
    """A CA certificate issued by ``issuer``."""
    kw.setdefault("ku", CA_KU)
    return make(common_name, issuer=issuer, subject_key=key(kind, slot), ca=True, **kw)  # type: ignore[arg-type]


def cross(subject_ca: Issued, issuer: Issued, **kw: object) -> Issued:
    """A cross-certificate: ``subject_ca``'s name and key, vouched for by ``issuer``."""
    kw.setdefault("ku", CA_KU)
    return make(
        subject_ca.cert.subject,
        issuer=issuer,
        subject_key=subject_ca.key,
        ca=True,
        **kw,  # type: ignore[arg-type]
    )


def leaf(
    common_name: str,
    issuer: Issued,
    *,
    kind: KeyKind = "ec",
    slot: int = 300,
    eku: Sequence[x509.ObjectIdentifier] | None = (EMAIL,),
    ku: Iterable[str] | None = ("digital_signature", "key_agreement"),
    **kw: object,
) -> Issued:
    """An end-entity certificate (CA:FALSE), S/MIME by default."""
    return make(
        common_name,
        issuer=issuer,
        subject_key=key(kind, slot),
        eku=eku,
        ku=ku,
        email=f"{common_name.lower().replace(' ', '.')}@example.org",
        **kw,  # type: ignore[arg-type]
    )


def crl(
    issuer: Issued,
    revoked: Iterable[tuple[int, x509.ReasonFlags | None]] = (),
    *,
    this_update: datetime | None = None,
    next_update: datetime | None = None,
    no_next_update: bool = False,
    revoked_on: datetime | None = None,
    signer: SigningKey | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    pss: bool = False,
) -> x509.CertificateRevocationList:
    """A CRL of ``issuer`` listing ``(serial, reason)`` pairs (``reason=None``: no CRLReason)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(this_update or NOW - DAY)
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    builder = builder.next_update(next_update or NOW + 7 * DAY)
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    for serial, reason in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(revoked_on or NOW - 2 * DAY)
        )
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    signing = signer or issuer.signing_key
    if isinstance(signing, ed25519.Ed25519PrivateKey):
        built = builder.sign(signing, None)
    elif pss:
        assert isinstance(signing, rsa.RSAPrivateKey)
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        built = builder.sign(signing, hashes.SHA256(), rsa_padding=pad)
    else:
        built = builder.sign(signing, hashes.SHA256())
    return _drop_next_update(built, signing) if no_next_update else built


def _drop_next_update(
    crl: x509.CertificateRevocationList, signing: SigningKey
) -> x509.CertificateRevocationList:
    """Re-sign ``crl`` without nextUpdate (optional in RFC 5280, refused by the builder)."""
    parsed = asn1_crl.CertificateList.load(crl.public_bytes(Encoding.DER))
    tbs = parsed["tbs_cert_list"]
    tbs["next_update"] = None
    tbs_der = tbs.dump(force=True)
    if isinstance(signing, ec.EllipticCurvePrivateKey):
        signature = signing.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    else:
        assert isinstance(signing, rsa.RSAPrivateKey)
        signature = signing.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
    rebuilt = asn1_crl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": parsed["signature_algorithm"],
            "signature": signature,
        }
    )
    return x509.load_der_x509_crl(rebuilt.dump())
