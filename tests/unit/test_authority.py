"""The certificate profile (RFC 5280, CA/B Forum S/MIME BR) and CRLs, checked field by field."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from postseal.errors import InputError
from postseal.pki import authority, crl
from postseal.pki.export import read_pkcs12, to_pkcs12
from postseal.pki.keys import CaKey, generate_key
from postseal.pki.templates import (
    MAX_VALIDITY_DAYS,
    POLICY_MAILBOX_MULTIPURPOSE,
    POLICY_MAILBOX_STRICT,
    TemplateProfile,
    default_templates,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
URLS = authority.PkiUrls("http://pki.example.org/pki")


@pytest.fixture(scope="module", params=["ecdsa-p256", "rsa-2048"])
def pki(
    request: pytest.FixtureRequest,
) -> tuple[str, CaKey, x509.Certificate, CaKey, x509.Certificate]:
    kind = request.param
    root_key, issuing_key = generate_key(kind), generate_key(kind)
    root = authority.build_root(root_key, org="Example Org", now=NOW, serial=1001)
    ekus = tuple(oid for t in default_templates(kind) for oid in t.ekus)
    issuing = authority.build_issuing_ca(
        issuing_key,
        org="Example Org",
        ekus=ekus,
        root=root,
        root_key=root_key,
        urls=URLS,
        now=NOW,
        serial=1002,
    )
    return kind, root_key, root, issuing_key, issuing


def _ext(cert: x509.Certificate, kind: type) -> object:
    return cert.extensions.get_extension_for_class(kind)


def test_root_profile(pki: tuple) -> None:  # type: ignore[type-arg]
    _, _, root, _, _ = pki
    assert root.subject == root.issuer
    bc = _ext(root, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length is None  # type: ignore[attr-defined]
    ku = _ext(root, x509.KeyUsage).value  # type: ignore[attr-defined]
    assert ku.key_cert_sign and ku.crl_sign
    with pytest.raises(x509.ExtensionNotFound):
        root.extensions.get_extension_for_class(x509.ExtendedKeyUsage)


def test_issuing_ca_profile(pki: tuple) -> None:  # type: ignore[type-arg]
    _, _, root, _, issuing = pki
    assert issuing.issuer == root.subject
    assert _ext(issuing, x509.BasicConstraints).value.path_length == 0  # type: ignore[attr-defined]
    ekus = list(_ext(issuing, x509.ExtendedKeyUsage).value)  # type: ignore[attr-defined]
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in ekus
    assert ExtendedKeyUsageOID.SERVER_AUTH not in ekus
    issuing.verify_directly_issued_by(root)


@pytest.mark.parametrize("template_name", ["Administrator", "User", "Smartcard User"])
def test_user_certificate_profile(pki: tuple, template_name: str) -> None:  # type: ignore[type-arg]
    kind, _, _, issuing_key, issuing = pki
    template = next(t for t in default_templates(kind) if t.name == template_name)
    leaf_key = generate_key(kind)
    cert = authority.build_user_certificate(
        leaf_key.public_key(),
        email="alice@example.org",
        template=template,
        issuer=issuing,
        issuer_key=issuing_key,
        urls=URLS,
        now=NOW,
        serial=0x7FFF_1234,
    )
    cert.verify_directly_issued_by(issuing)
    assert cert.subject.rfc4514_string() == "CN=alice@example.org"
    san = _ext(cert, x509.SubjectAlternativeName).value  # type: ignore[attr-defined]
    assert san.get_values_for_type(x509.RFC822Name) == ["alice@example.org"]
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical  # type: ignore[attr-defined]
    usage = ku.value  # type: ignore[attr-defined]
    assert usage.digital_signature
    if isinstance(leaf_key, rsa.RSAPrivateKey):
        assert usage.key_encipherment and not usage.key_agreement
    else:
        assert isinstance(leaf_key, ec.EllipticCurvePrivateKey)
        assert usage.key_agreement and not usage.key_encipherment
    ekus = [oid.dotted_string for oid in _ext(cert, x509.ExtendedKeyUsage).value]  # type: ignore[attr-defined]
    assert ekus == list(template.ekus)
    policies = [p.policy_identifier for p in _ext(cert, x509.CertificatePolicies).value]  # type: ignore[attr-defined]
    assert policies == [POLICY_MAILBOX_MULTIPURPOSE]
    aia = _ext(cert, x509.AuthorityInformationAccess).value  # type: ignore[attr-defined]
    assert [(a.access_method, a.access_location.value) for a in aia] == [
        (AuthorityInformationAccessOID.CA_ISSUERS, "http://pki.example.org/pki/issuing.crt")
    ]
    dps = _ext(cert, x509.CRLDistributionPoints).value  # type: ignore[attr-defined]
    assert dps[0].full_name[0].value == "http://pki.example.org/pki/issuing.crl"
    ski = _ext(issuing, x509.SubjectKeyIdentifier).value.digest  # type: ignore[attr-defined]
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski  # type: ignore[attr-defined]
    period = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert period == timedelta(days=template.validity_days, seconds=-1)
    assert cert.not_valid_before_utc <= NOW


def test_email_only_template_is_mailbox_strict() -> None:
    template = TemplateProfile("Mail", "", ("1.3.6.1.5.5.7.3.4",), "ecdsa-p256", 365, 30)
    assert template.policy == POLICY_MAILBOX_STRICT


@pytest.mark.parametrize(
    ("ekus", "validity", "renewal", "fragment"),
    [
        (("1.3.6.1.5.5.7.3.2",), 365, 30, "secure e-mail"),
        (("1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.1"), 365, 30, "not allowed"),
        (("1.3.6.1.5.5.7.3.4",), MAX_VALIDITY_DAYS + 1, 30, "validity"),
        (("1.3.6.1.5.5.7.3.4",), 30, 30, "renewal window"),
    ],
)
def test_template_rules(ekus: tuple[str, ...], validity: int, renewal: int, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        TemplateProfile("T", "", ekus, "ecdsa-p256", validity, renewal)


def test_pki_url_must_be_plain_http() -> None:
    with pytest.raises(InputError, match="plain http"):
        authority.PkiUrls("https://pki.example.org/pki")


def test_crl_lists_reasons_and_omits_unspecified(pki: tuple) -> None:  # type: ignore[type-arg]
    _, _, _, issuing_key, issuing = pki
    issued = crl.build_crl(
        issuing,
        issuing_key,
        number=7,
        entries=[
            crl.RevokedEntry(11, NOW, "keyCompromise"),
            crl.RevokedEntry(12, NOW, "unspecified"),
        ],
        this_update=NOW,
        validity_days=7,
    )
    assert issued.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]
    assert issued.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    assert issued.next_update_utc == NOW + timedelta(days=7)
    first = issued.get_revoked_certificate_by_serial_number(11)
    second = issued.get_revoked_certificate_by_serial_number(12)
    assert first is not None and second is not None
    assert (
        first.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    with pytest.raises(x509.ExtensionNotFound):
        second.extensions.get_extension_for_class(x509.CRLReason)
    with pytest.raises(InputError, match="1 to 10 days"):
        crl.build_crl(issuing, issuing_key, number=8, entries=[], this_update=NOW, validity_days=11)


@pytest.mark.parametrize(
    ("text", "name"), [("keycompromise", "keyCompromise"), (" superseded ", "superseded")]
)
def test_reason_names(text: str, name: str) -> None:
    assert crl.parse_reason(text) == name


def test_hold_is_not_a_subscriber_reason() -> None:
    with pytest.raises(InputError, match="unknown revocation reason"):
        crl.parse_reason("certificateHold")


@pytest.mark.parametrize("legacy", [False, True])
def test_pkcs12_round_trip_and_wrong_password(pki: tuple, legacy: bool) -> None:  # type: ignore[type-arg]
    kind, _, root, issuing_key, issuing = pki
    key = generate_key(kind)
    cert = authority.build_user_certificate(
        key.public_key(),
        email="bob@example.org",
        template=default_templates(kind)[1],
        issuer=issuing,
        issuer_key=issuing_key,
        urls=URLS,
        now=NOW,
        serial=77,
    )
    data = to_pkcs12(
        cert,
        key,
        chain=[issuing, root],
        password=b"correct horse",
        friendly_name="bob@example.org",
        legacy=legacy,
    )
    opened = read_pkcs12(data, b"correct horse")
    assert opened.cert is not None and opened.cert.certificate == cert
    assert [c.certificate for c in opened.additional_certs] == [issuing, root]
    with pytest.raises(InputError, match="password is wrong"):
        read_pkcs12(data, b"wrong horse!")
    with pytest.raises(InputError, match="at least 8"):
        to_pkcs12(cert, key, chain=[], password=b"short", friendly_name="x")
