"""A tiny test PKI for the signing tests, and a chain validator over it.

Root → issuing CA (emailProtection EKU) → users with RSA-2048, EC P-256, EC P-384 and
Ed25519 keys, plus users that must be refused (expired, no emailProtection, revoked in
the issuing CA's CRL). Validity is relative to the real clock so that the peers
(openssl, gpgsm, NSS), which read the clock, agree with the tests. Keys are generated once
per test session.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from postseal.smime.results import ChainOutcome
from postseal.smime.sign import SigningKey

NOW = datetime.now(UTC).replace(microsecond=0)
P12_PASSWORD = b"test-p12-pass"


@dataclass(frozen=True)
class User:
    """A test signer: address, certificate and key."""

    address: str
    cert: x509.Certificate
    key: SigningKey


@dataclass(frozen=True)
class Pki:
    """The whole test PKI."""

    root: x509.Certificate
    root_key: rsa.RSAPrivateKey
    issuing: x509.Certificate
    issuing_key: rsa.RSAPrivateKey
    crl: x509.CertificateRevocationList
    users: dict[str, User]

    @property
    def chain(self) -> list[x509.Certificate]:
        """The issuing CA and the root, as a sender would hold them."""
        return [self.issuing, self.root]

    def validator(self, *, roots: Sequence[x509.Certificate] | None = None) -> TestValidator:
        """A validator trusting ``roots`` (default: our root) with our CRL."""
        return TestValidator(tuple(roots if roots is not None else [self.root]), (self.crl,))


def _name(cn: str, email: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Postseal Test"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ]
    if email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name(attrs)


def _ca(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    signer: rsa.RSAPrivateKey,
    *,
    eku: bool,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=400))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def _leaf(
    address: str,
    key: SigningKey,
    issuing: x509.Certificate,
    issuing_key: rsa.RSAPrivateKey,
    *,
    days: tuple[int, int] = (-30, 365),
    eku: bool = True,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(address.split("@")[0].title()))
        .issuer_name(issuing.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=days[0]))
        .not_valid_after(NOW + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION if eku else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuing_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(issuing_key, hashes.SHA256())


@functools.cache
def pki() -> Pki:
    """Build the PKI once (RSA key generation is the slow part)."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _ca(
        _name("Postseal Test Root"), root_key, _name("Postseal Test Root"), root_key, eku=False
    )
    issuing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuing = _ca(_name("Postseal Test Issuing CA"), issuing_key, root.subject, root_key, eku=True)
    keys: dict[str, SigningKey] = {
        "alice": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "carol": ec.generate_private_key(ec.SECP256R1()),
        "peggy": ec.generate_private_key(ec.SECP384R1()),
        "dave": ed25519.Ed25519PrivateKey.generate(),
    }
    users = {
        name: User(
            f"{name}@example.org", _leaf(f"{name}@example.org", key, issuing, issuing_key), key
        )
        for name, key in keys.items()
    }
    alice_key = keys["alice"]
    users["old"] = User(
        "old@example.org",
        _leaf("old@example.org", alice_key, issuing, issuing_key, days=(-400, -10)),
        alice_key,
    )
    users["tls"] = User(
        "tls@example.org",
        _leaf("tls@example.org", alice_key, issuing, issuing_key, eku=False),
        alice_key,
    )
    revoked_key = ec.generate_private_key(ec.SECP256R1())
    users["bob"] = User(
        "bob@example.org", _leaf("bob@example.org", revoked_key, issuing, issuing_key), revoked_key
    )
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(users["bob"].cert.serial_number)
        .revocation_date(NOW - timedelta(days=1))
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuing.subject)
        .last_update(NOW - timedelta(hours=1))
        .next_update(NOW + timedelta(days=7))
        .add_revoked_certificate(revoked)
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(issuing_key, hashes.SHA256())
    )
    return Pki(root, root_key, issuing, issuing_key, crl, users)


@dataclass(frozen=True)
class TestValidator:
    """A small path validator: signatures, validity, CRLs where given, leaf EKU.

    Good enough to exercise every ChainOutcome the verifier reports; the real one is
    ``postseal.pki.validation``.
    """

    __test__ = False  # not a pytest test class
    roots: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...] = ()

    def __call__(
        self, leaf: x509.Certificate, carried: Sequence[x509.Certificate], at: datetime
    ) -> ChainOutcome:
        try:
            return self._judge(leaf, carried, at)
        except (ValueError, UnsupportedAlgorithm):
            return ChainOutcome(False, "bad-signature", "a certificate cannot be read")

    def _judge(
        self, leaf: x509.Certificate, carried: Sequence[x509.Certificate], at: datetime
    ) -> ChainOutcome:
        path = [leaf]
        while len(path) < 8:
            current = path[-1]
            anchor = next((r for r in self.roots if r.subject == current.issuer), None)
            if anchor is not None and anchor != current:
                problem = self._link(current, anchor, at)
                if problem:
                    return problem
                return self._usage(leaf) or ChainOutcome(True, "valid", "the chain is valid")
            if current.issuer == current.subject:
                return ChainOutcome(
                    False,
                    "untrusted-root",
                    f"the root {current.subject.rfc4514_string()} is not trusted",
                )
            parent = next(
                (c for c in carried if c.subject == current.issuer and c != current), None
            )
            if parent is None:
                return ChainOutcome(
                    False,
                    "missing-intermediate",
                    f"no certificate for {current.issuer.rfc4514_string()}",
                )
            problem = self._link(current, parent, at)
            if problem:
                return problem
            path.append(parent)
        return ChainOutcome(False, "missing-intermediate", "the chain is too long")

    def _link(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> ChainOutcome | None:
        if not _issued_by(cert, issuer):
            return ChainOutcome(False, "bad-signature", "a certificate signature is bad")
        if at > cert.not_valid_after_utc:
            return ChainOutcome(
                False, "expired", f"the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}"
            )
        if at < cert.not_valid_before_utc:
            return ChainOutcome(False, "not-yet-valid", "the certificate is not yet valid")
        for crl in self.crls:
            if crl.issuer == issuer.subject:
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None and entry.revocation_date_utc <= at:
                    try:
                        reason = entry.extensions.get_extension_for_class(x509.CRLReason)
                        why: str | None = reason.value.reason.value
                    except x509.ExtensionNotFound:
                        why = None
                    return ChainOutcome(
                        False,
                        "revoked",
                        "the certificate is revoked",
                        entry.revocation_date_utc,
                        why,
                    )
        return None

    @staticmethod
    def _usage(leaf: x509.Certificate) -> ChainOutcome | None:
        try:
            eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return None
        if (
            ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
            or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku
        ):
            return None
        return ChainOutcome(False, "wrong-usage", "the certificate is not for email protection")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    # By hand rather than verify_directly_issued_by, which refuses the SHA-1 and DSA
    # certificates of the RFC 4134 vectors.
    try:
        key = issuer.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return False
    data, sig, hash_alg = cert.tbs_certificate_bytes, cert.signature, cert.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey) and hash_alg is not None:
            key.verify(sig, data, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey) and hash_alg is not None:
            key.verify(sig, data, ec.ECDSA(hash_alg))
        elif isinstance(key, dsa.DSAPublicKey) and hash_alg is not None:
            key.verify(sig, data, hash_alg)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, data)
        else:
            return False
    except InvalidSignature:
        return False
    return cert.issuer == issuer.subject


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_pki_files(directory: Path, *names: str) -> dict[str, Path]:
    """Write PEM/DER files the peers read: CA certs, CRL, CA+CRL bundle, users' certs,
    keys and legacy-profile PKCS#12 (PBE-SHA1-3DES, which gpgsm 2.2 can read)."""
    p = pki()
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        path = directory / name
        path.write_bytes(data)
        out[name] = path

    put("root.pem", pem(p.root))
    put("root.der", p.root.public_bytes(serialization.Encoding.DER))
    put("issuing.pem", pem(p.issuing))
    put("issuing.der", p.issuing.public_bytes(serialization.Encoding.DER))
    put("crl.pem", p.crl.public_bytes(serialization.Encoding.PEM))
    put("crl.der", p.crl.public_bytes(serialization.Encoding.DER))
    put("cas.pem", pem(p.root) + pem(p.issuing))
    put(
        "cas+crl.pem", pem(p.root) + pem(p.issuing) + p.crl.public_bytes(serialization.Encoding.PEM)
    )
    for name in names:
        user = p.users[name]
        put(f"{name}.pem", pem(user.cert))
        put(
            f"{name}.key",
            user.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        legacy = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())  # noqa: S303 - legacy p12 for gpgsm
            .build(P12_PASSWORD)
        )
        put(
            f"{name}.p12",
            pkcs12.serialize_key_and_certificates(
                name.encode(),
                user.key,
                user.cert,  # type: ignore[arg-type]
                [p.issuing, p.root],
                legacy,
            ),
        )
    return out
