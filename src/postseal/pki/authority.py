"""Building postseal's certificates (RFC 5280 profile, CA/Browser Forum S/MIME BR).

The hierarchy (docs/adr/0001-pki-hierarchy.md)::

    Root CA                      self-signed, keyCertSign+cRLSign, no EKU, 20 years
     ├── S/MIME Issuing CA       pathLen 0, EKUs of every template, signs user certs + CRL
     └── Service CA              pathLen 0, serverAuth+clientAuth, signs the TLS certificate

TLS server certificates come from a CA of their own so the S/MIME issuing CA never carries
the serverAuth EKU, which the S/MIME Baseline Requirements forbid (§7.1.2.2).

Every function is pure: the caller passes the time, the serial number and the keys.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from postseal.errors import InputError
from postseal.pki.keys import CaKey, signature_hash
from postseal.pki.templates import (
    POLICY_MAILBOX_MULTIPURPOSE,
    POLICY_MAILBOX_STRICT,
    TemplateProfile,
)

__all__ = [
    "ROOT_VALIDITY_DAYS",
    "SUBCA_VALIDITY_DAYS",
    "TLS_VALIDITY_DAYS",
    "PkiUrls",
    "build_issuing_ca",
    "build_root",
    "build_service_ca",
    "build_tls_certificate",
    "build_user_certificate",
    "check_org",
]

ROOT_VALIDITY_DAYS = 7305
SUBCA_VALIDITY_DAYS = 3652
TLS_VALIDITY_DAYS = 397
# Backdating absorbs clock skew between postseal and the peers that check its certificates.
_BACKDATE = timedelta(minutes=5)
_MAX_ORG = 64  # X.520 ub-organization-name


@dataclass(frozen=True, slots=True)
class PkiUrls:
    """Where postseal's HTTP listener serves CA certificates and CRLs (AIA, CRLDP)."""

    base: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.base)
        if parts.scheme != "http" or not parts.hostname or len(self.base) > 200:
            raise InputError(
                f"the PKI URL {self.base!r} must be a plain http:// URL with a host "
                "(RFC 5280 §4.2.1.13: relying parties fetch CRLs without TLS)"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise InputError(
                f"the PKI URL {self.base!r} must not carry a query, a fragment or credentials: "
                "file names are appended to its path"
            )
        if any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7E for c in self.base):
            raise InputError(f"the PKI URL {self.base!r} must be printable ASCII without spaces")

    def _join(self, name: str) -> str:
        return f"{self.base.rstrip('/')}/{name}"

    @property
    def root_cert(self) -> str:
        return self._join("root.crt")

    @property
    def issuing_cert(self) -> str:
        return self._join("issuing.crt")

    @property
    def service_cert(self) -> str:
        return self._join("service.crt")

    @property
    def root_crl(self) -> str:
        return self._join("root.crl")

    @property
    def issuing_crl(self) -> str:
        return self._join("issuing.crl")

    @property
    def service_crl(self) -> str:
        return self._join("service.crl")


def check_org(org: str) -> str:
    """The organisation name as it goes into CA subjects; InputError when unusable."""
    org = org.strip()
    if not org or len(org) > _MAX_ORG or any(ord(c) < 0x20 for c in org):
        raise InputError(f"the organisation name must be 1 to {_MAX_ORG} printable characters")
    return org


def _ca_name(org: str, label: str) -> x509.Name:
    org = check_org(org)
    common = f"{org} {label}"
    if len(common) > 64:
        common = f"postseal {label}"
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _aia(url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url)
            )
        ]
    )


def _crldp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
    )


def _validity(
    builder: x509.CertificateBuilder, now: datetime, days: int
) -> x509.CertificateBuilder:
    start = now - _BACKDATE
    # notAfter is inclusive (RFC 5280 §4.1.2.5): subtract one second so the period is exact.
    return builder.not_valid_before(start).not_valid_after(start + timedelta(days=days, seconds=-1))


def build_root(key: CaKey, *, org: str, now: datetime, serial: int) -> x509.Certificate:
    """The self-signed root (BR §7.1.2.1): no EKU, keyCertSign+cRLSign, CA without pathLen."""
    name = _ca_name(org, "Root CA")
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return _validity(builder, now, ROOT_VALIDITY_DAYS).sign(key, signature_hash(key))


def _build_subca(
    key_public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    *,
    name: x509.Name,
    ekus: list[x509.ObjectIdentifier],
    policies: list[x509.ObjectIdentifier],
    root: x509.Certificate,
    root_key: CaKey,
    urls: PkiUrls,
    now: datetime,
    serial: int,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.subject)
        .public_key(key_public)
        .serial_number(serial)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(oid, None) for oid in policies]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key_public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .add_extension(_aia(urls.root_cert), critical=False)
        .add_extension(_crldp(urls.root_crl), critical=False)
    )
    return _validity(builder, now, SUBCA_VALIDITY_DAYS).sign(root_key, signature_hash(root_key))


def build_issuing_ca(
    key: CaKey,
    *,
    org: str,
    ekus: tuple[str, ...],
    root: x509.Certificate,
    root_key: CaKey,
    urls: PkiUrls,
    now: datetime,
    serial: int,
) -> x509.Certificate:
    """The S/MIME issuing CA; ``ekus`` is the union of the templates' EKUs (EKU chaining:
    NSS and Windows refuse a leaf purpose its issuer does not allow)."""
    return _build_subca(
        key.public_key(),
        name=_ca_name(org, "S/MIME Issuing CA"),
        ekus=[x509.ObjectIdentifier(oid) for oid in dict.fromkeys(ekus)],
        policies=[POLICY_MAILBOX_MULTIPURPOSE, POLICY_MAILBOX_STRICT],
        root=root,
        root_key=root_key,
        urls=urls,
        now=now,
        serial=serial,
    )


def build_service_ca(
    key: CaKey,
    *,
    org: str,
    root: x509.Certificate,
    root_key: CaKey,
    urls: PkiUrls,
    now: datetime,
    serial: int,
) -> x509.Certificate:
    """The CA that issues postseal's own TLS server certificates."""
    return _build_subca(
        key.public_key(),
        name=_ca_name(org, "Service CA"),
        ekus=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        policies=[x509.ObjectIdentifier("2.23.140.1.2.1")],
        root=root,
        root_key=root_key,
        urls=urls,
        now=now,
        serial=serial,
    )


def _leaf_usage(public_key: object) -> x509.KeyUsage:
    rsa_key = isinstance(public_key, rsa.RSAPublicKey)
    agree = isinstance(public_key, ec.EllipticCurvePublicKey | x25519.X25519PublicKey)
    return x509.KeyUsage(
        digital_signature=not isinstance(public_key, x25519.X25519PublicKey),
        content_commitment=False,
        key_encipherment=rsa_key,
        data_encipherment=False,
        key_agreement=agree,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def build_user_certificate(
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey,
    *,
    email: str,
    template: TemplateProfile,
    issuer: x509.Certificate,
    issuer_key: CaKey,
    urls: PkiUrls,
    now: datetime,
    serial: int,
) -> x509.Certificate:
    """A mailbox-validated S/MIME certificate (BR §7.1.2.3, §7.1.4.2.2).

    ``email`` must already be canonical (:func:`postseal.mail.address.parse_address`).
    Subject: commonName = the address; SAN: rfc822Name = the address.
    """
    if not email.isascii() or "@" not in email or len(email) > 254:
        raise InputError(f"{email!r} cannot be placed in a certificate (ASCII address required)")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, email)]))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(public_key), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(oid) for oid in template.ekus]),
            critical=False,
        )
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(template.policy, None)]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(_aia(urls.issuing_cert), critical=False)
        .add_extension(_crldp(urls.issuing_crl), critical=False)
    )
    return _validity(builder, now, template.validity_days).sign(
        issuer_key, signature_hash(issuer_key)
    )


def build_tls_certificate(
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    *,
    hostname: str,
    issuer: x509.Certificate,
    issuer_key: CaKey,
    urls: PkiUrls,
    now: datetime,
    serial: int,
) -> x509.Certificate:
    """The server's TLS certificate: SAN dNSName (or iPAddress), serverAuth+clientAuth
    (clientAuth for SMTP relays that ask for a client certificate)."""
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        san = x509.DNSName(hostname)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64])]))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(public_key), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(_aia(urls.service_cert), critical=False)
        .add_extension(_crldp(urls.service_crl), critical=False)
    )
    return _validity(builder, now, TLS_VALIDITY_DAYS).sign(issuer_key, signature_hash(issuer_key))
