"""Reading and classifying the certificates and CRLs an administrator imports.

Loaders take bytes (never a path) and return ``cryptography`` objects; every input they
cannot use raises :class:`~postseal.errors.CertificateFormatError` with one line that says
what was wrong. :func:`classify_for_trust` checks that a certificate fits the trust-store
slot it is being added to (RFC 5280 §4.2.1.9 basicConstraints, §4.2.1.3 keyUsage) and
says which command to use instead when it does not.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import pkcs7

from postseal.errors import CertificateFormatError, InputError

__all__ = [
    "TrustKind",
    "classify_for_trust",
    "describe",
    "fingerprint",
    "is_self_signed",
    "key_type",
    "label",
    "load_certificates",
    "load_crl",
]

TrustKind = Literal["root", "intermediate", "cross"]

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)(?:-----END ([A-Z0-9 ]+)-----|(?=-----BEGIN )|\Z)",
    re.DOTALL,
)
_CERT_LABELS = frozenset({b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"})
_PKCS7_LABELS = frozenset({b"PKCS7", b"CMS"})
_CRL_LABELS = frozenset({b"X509 CRL"})
_CURVES = {"secp256r1": "P256", "secp384r1": "P384", "secp521r1": "P521"}


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def _pem_blocks(data: bytes) -> list[tuple[str, bytes | None, str]]:
    """``(label, der or None, problem)`` per PEM block, in file order (RFC 7468 §2)."""
    blocks: list[tuple[str, bytes | None, str]] = []
    for match in _PEM_BLOCK.finditer(data.replace(b"\r\n", b"\n")):
        label = match.group(1).decode("ascii")
        if match.group(3) is None:
            blocks.append((label, None, f"the {label} block has no END line (file truncated?)"))
            continue
        if match.group(3) != match.group(1):
            end = match.group(3).decode("ascii")
            blocks.append((label, None, f"BEGIN {label} is closed by END {end}"))
            continue
        # RFC 7468 §5.2 lets parsers skip RFC 1421 headers ("Proc-Type: …").
        body = b"".join(line.strip() for line in match.group(2).splitlines() if b":" not in line)
        try:
            blocks.append((label, base64.b64decode(body, validate=True), ""))
        except (binascii.Error, ValueError) as err:
            blocks.append((label, None, f"the base64 text is damaged ({_first_line(err)})"))
    return blocks


def _der_prefix(der: bytes) -> bytes:
    """The first DER element of ``der`` (an OpenSSL TRUSTED CERTIFICATE appends trust data)."""
    if len(der) < 2:
        return der
    first = der[1]
    if first < 0x80:
        return der[: 2 + first]
    width = first & 0x7F
    length = int.from_bytes(der[2 : 2 + width], "big")
    return der[: 2 + width + length]


def _is_private_key_label(block_label: str) -> bool:
    return "PRIVATE KEY" in block_label


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data``: PEM (one or many blocks, any order), PKCS#7, or DER.

    Text around PEM blocks and CRLF line ends are tolerated. A file with a private key in
    it is refused outright: certificates are public, and keys must not travel with them.
    """
    if not data.strip():
        raise CertificateFormatError("no certificate found: the file is empty")
    certs = _certificates_from_pem(data) if b"-----BEGIN " in data else _certificates_from_der(data)
    for number, cert in enumerate(certs, start=1):
        _require_readable(cert, number)
    return certs


_UNREADABLE = (
    ValueError,
    TypeError,
    KeyError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
)


def _require_readable(cert: x509.Certificate, number: int) -> None:
    """cryptography parses fields lazily: read every one postseal uses now, so a corrupt
    certificate is refused at the door instead of failing deep inside a later command."""
    try:
        _ = (
            cert.subject.rfc4514_string(),
            cert.issuer.rfc4514_string(),
            cert.extensions,
            cert.public_key(),
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
            cert.serial_number,
        )
    except _UNREADABLE as err:
        raise CertificateFormatError(f"corrupt certificate {number}: {_first_line(err)}") from None


def _certificates_from_pem(data: bytes) -> list[x509.Certificate]:
    blocks = _pem_blocks(data)
    keys = [lbl for lbl, _, _ in blocks if _is_private_key_label(lbl)]
    if keys:
        raise CertificateFormatError(
            f"no certificate found: the file holds a {keys[0]} block",
            hint="export the certificate alone (a private key never belongs in a trust file)",
        )
    certs: list[x509.Certificate] = []
    for number, (lbl, der, problem) in enumerate(blocks, start=1):
        raw = lbl.encode("ascii")
        if raw not in _CERT_LABELS and raw not in _PKCS7_LABELS:
            continue
        if der is None:
            raise CertificateFormatError(f"corrupt certificate in PEM block {number}: {problem}")
        try:
            if raw in _PKCS7_LABELS:
                certs.extend(pkcs7.load_der_pkcs7_certificates(der))
            else:
                certs.append(x509.load_der_x509_certificate(_der_prefix(der)))
        except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion) as err:
            raise CertificateFormatError(
                f"corrupt certificate in PEM block {number}: {_first_line(err)}"
            ) from err
    if not certs:
        if blocks:
            found = blocks[0][0]
            hint = (
                "import it with `postseal crl import FILE`"
                if found.encode("ascii") in _CRL_LABELS
                else "give a file with a CERTIFICATE block"
            )
            raise CertificateFormatError(
                f"no certificate found: the file holds a {found} block", hint=hint
            )
        raise CertificateFormatError("no certificate found: the PEM text has no complete block")
    return certs


def _certificates_from_der(data: bytes) -> list[x509.Certificate]:
    if data[:1] != b"\x30":
        raise CertificateFormatError(
            "no certificate found: the file is neither PEM (no -----BEGIN line) nor DER"
        )
    try:
        return [x509.load_der_x509_certificate(data)]
    except (ValueError, x509.InvalidVersion) as cert_err:
        try:
            return pkcs7.load_der_pkcs7_certificates(data)
        except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion):
            pass
        if _is_der_private_key(data):
            raise CertificateFormatError(
                "no certificate found: the file holds a DER private key",
                hint="export the certificate alone",
            ) from None
        raise CertificateFormatError(
            f"corrupt DER certificate: {_first_line(cert_err)}"
        ) from cert_err


def _is_der_private_key(data: bytes) -> bool:
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:
        return True  # encrypted PKCS#8: it is a key, we only lack the password
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """The one CRL in ``data`` (PEM ``X509 CRL`` block or DER), RFC 5280 §5."""
    if not data.strip():
        raise CertificateFormatError("no CRL found: the file is empty")
    if b"-----BEGIN " in data:
        blocks = _pem_blocks(data)
        crls = [(n, b) for n, b in enumerate(blocks, start=1) if b[0].encode() in _CRL_LABELS]
        if not crls:
            raise CertificateFormatError(
                f"no CRL found: the file holds a {blocks[0][0]} block"
                if blocks
                else "no CRL found: the PEM text has no complete block"
            )
        if len(crls) > 1:
            raise CertificateFormatError(
                f"the file holds {len(crls)} CRLs", hint="import them one file at a time"
            )
        number, (_, der, problem) = crls[0]
        if der is None:
            raise CertificateFormatError(f"corrupt CRL in PEM block {number}: {problem}")
        try:
            return x509.load_der_x509_crl(der)
        except ValueError as err:
            raise CertificateFormatError(
                f"corrupt CRL in PEM block {number}: {_first_line(err)}"
            ) from err
    if data[:1] != b"\x30":
        raise CertificateFormatError(
            "no CRL found: the file is neither PEM (no -----BEGIN line) nor DER"
        )
    try:
        return x509.load_der_x509_crl(data)
    except ValueError as err:
        raise CertificateFormatError(f"corrupt DER CRL: {_first_line(err)}") from err


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 over the DER encoding, lower-case hex without separators."""
    return cert.fingerprint(hashes.SHA256()).hex()


def label(cert: x509.Certificate) -> str:
    """How messages name a certificate: its subject (RFC 4514), or its serial if empty."""
    subject = cert.subject.rfc4514_string()
    return subject if subject else f"the certificate with serial {cert.serial_number:X}"


def is_self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the signature verifies with the certificate's own key."""
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def classify_for_trust(cert: x509.Certificate, kind: TrustKind) -> None:
    """Refuse ``cert`` for the trust-store slot ``kind`` unless it fits (RFC 5280 §6.1.1(d)).

    Roots are self-signed CA certificates; intermediates and cross-certificates are CA
    certificates issued by another CA. A present keyUsage must allow keyCertSign.
    """
    if kind not in ("root", "intermediate", "cross"):
        raise ValueError(f"unknown trust kind {kind!r}")
    who = label(cert)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise InputError(
            f"{who} is not a CA certificate (basicConstraints CA:FALSE or absent); "
            "a trust store holds CA certificates only",
            hint="import the issuing CA or root instead",
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise InputError(
            f"{who} is a CA certificate whose keyUsage lacks keyCertSign, "
            "so it cannot issue certificates",
            hint="import the CA certificate that signs certificates instead",
        )
    self_signed = is_self_signed(cert)
    if kind == "root" and not self_signed:
        issued_by = (
            "its signature does not verify with its own key"
            if cert.subject == cert.issuer
            else f"it is issued by {cert.issuer.rfc4514_string()}"
        )
        raise InputError(
            f"{who} is not self-signed ({issued_by})",
            hint="add it with `postseal trust add-intermediate`",
        )
    if kind in ("intermediate", "cross") and self_signed:
        what = "an intermediate" if kind == "intermediate" else "a cross-certificate"
        raise InputError(
            f"{who} is self-signed, so it is a root, not {what}",
            hint="add it with `postseal trust add-root`",
        )


def key_type(cert: x509.Certificate) -> str:
    """``RSA-2048``, ``EC-P256``, ``Ed25519``, … for listings."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{_CURVES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA-{key.key_size}"
    names: dict[type, str] = {
        ed25519.Ed25519PublicKey: "Ed25519",
        ed448.Ed448PublicKey: "Ed448",
        x25519.X25519PublicKey: "X25519",
        x448.X448PublicKey: "X448",
    }
    for cls, text in names.items():
        if isinstance(key, cls):
            return text
    return type(key).__name__


def describe(cert: x509.Certificate) -> dict[str, str]:
    """The fields a trust-store listing shows, as display strings."""
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:X}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "fingerprint": fingerprint(cert),
        "key_type": key_type(cert),
    }
