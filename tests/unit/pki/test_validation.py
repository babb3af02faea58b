"""Path validation: one test per status and per rule of postseal.pki.validation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from postseal.pki.paths import MAX_CANDIDATES, PathFinder
from postseal.pki.validation import (
    Usage,
    ValidationContext,
    ValidationResult,
    ValidationStatus,
    validate,
)

from . import certfactory as f
from .certfactory import DAY, EMAIL, NOW, SERVER

S = ValidationStatus
KC = x509.ReasonFlags.key_compromise


@cache
def pki() -> tuple[f.Issued, f.Issued, f.Issued]:
    """Root → Issuing CA → Alice, all EC P-256."""
    root = f.root("Test Root")
    ca = f.intermediate("Issuing CA", root)
    alice = f.leaf("Alice", ca)
    return root, ca, alice


def crls_for(*issuers: f.Issued) -> list[x509.CertificateRevocationList]:
    return [f.crl(issuer) for issuer in issuers]


def check(
    leaf: f.Issued | x509.Certificate,
    *,
    anchors: Sequence[f.Issued],
    chain: Sequence[f.Issued] = (),
    crls: Sequence[x509.CertificateRevocationList] | None = None,
    usage: Usage = Usage.SMIME_SIGN,
    carried: Sequence[f.Issued] = (),
    **ctx: object,
) -> ValidationResult:
    """Validate with fresh CRLs of every CA given unless ``crls`` is passed."""
    if crls is None:
        crls = crls_for(*anchors, *chain, *carried)
    context = ValidationContext(
        [a.cert for a in anchors],
        [c.cert for c in chain],
        crls,
        now=ctx.pop("now", NOW),  # type: ignore[arg-type]
        **ctx,  # type: ignore[arg-type]
    )
    cert = leaf.cert if isinstance(leaf, f.Issued) else leaf
    return validate(cert, context, usage=usage, carried=[c.cert for c in carried])


# ---- VALID and the context ---------------------------------------------------------


def test_valid_chain_reports_the_path_leaf_first() -> None:
    root, ca, alice = pki()
    result = check(alice, anchors=[root], chain=[ca])
    assert result.status is S.VALID
    assert result.valid
    assert result.path == (alice.cert, ca.cert, root.cert)
    assert result.warnings == ()
    assert "CN=Test Root" in result.reason


def test_carried_certificates_complete_the_path() -> None:
    root, ca, alice = pki()
    result = check(alice, anchors=[root], carried=[ca])
    assert result.status is S.VALID


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ValidationContext([], now=datetime(2026, 1, 1))


def test_aware_now_in_another_zone_is_normalised_to_utc() -> None:
    ctx = ValidationContext([], now=NOW.astimezone(timezone(timedelta(hours=2))))
    assert ctx.now.utcoffset() == timedelta(0)
    assert ctx.now == NOW


def test_anchor_as_leaf_is_valid_only_for_any_usage() -> None:
    root, _, _ = pki()
    assert check(root, anchors=[root], usage=Usage.ANY).status is S.VALID
    refused = check(root, anchors=[root], usage=Usage.SMIME_SIGN)
    assert refused.status is S.WRONG_USAGE
    assert "trusted root CA" in refused.reason


# ---- dates -------------------------------------------------------------------------


def test_expired_leaf_names_the_date() -> None:
    root, ca, _ = pki()
    old = f.leaf("Old", ca, not_before=NOW - 400 * DAY, not_after=NOW - 10 * DAY)
    result = check(old, anchors=[root], chain=[ca])
    assert result.status is S.EXPIRED
    assert "expired on 2026-05-22" in result.reason
    assert "CN=Old" in result.reason


def test_not_yet_valid_leaf() -> None:
    root, ca, _ = pki()
    early = f.leaf("Early", ca, not_before=NOW + 3 * DAY)
    result = check(early, anchors=[root], chain=[ca])
    assert result.status is S.NOT_YET_VALID
    assert "not valid before 2026-06-04" in result.reason


def test_validity_bounds_are_inclusive() -> None:
    root, ca, _ = pki()
    edge = f.leaf("Edge", ca, not_before=NOW - DAY, not_after=NOW)
    assert check(edge, anchors=[root], chain=[ca]).status is S.VALID


def test_expired_intermediate_is_reported_as_such() -> None:
    root, _, _ = pki()
    ca = f.intermediate("Old CA", root, not_before=NOW - 900 * DAY, not_after=NOW - DAY)
    alice = f.leaf("Alice", ca)
    result = check(alice, anchors=[root], chain=[ca])
    assert result.status is S.EXPIRED
    assert "CA certificate CN=Old CA" in result.reason


def test_expired_leaf_comes_before_an_untrusted_chain() -> None:
    _, ca, _ = pki()
    old = f.leaf("Old", ca, not_after=NOW - DAY, not_before=NOW - 9 * DAY)
    assert check(old, anchors=[], chain=[ca]).status is S.EXPIRED


# ---- usage -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "eku", "ku", "kind", "fragment"),
    [
        (Usage.SMIME_SIGN, [SERVER], None, "ec", "allows serverAuth, not emailProtection"),
        (Usage.SMIME_SIGN, [EMAIL], ["key_agreement"], "ec", "neither digitalSignature"),
        (Usage.SMIME_SIGN, [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], None, "ec", "not"),
        (Usage.SMIME_SIGN, [EMAIL], ["key_agreement"], "x25519", "cannot sign"),
        (Usage.SMIME_ENCRYPT, [EMAIL], ["digital_signature"], "rsa", "keyEncipherment"),
        (Usage.SMIME_ENCRYPT, [EMAIL], ["digital_signature"], "ec", "keyAgreement"),
        (Usage.SMIME_ENCRYPT, [EMAIL], ["digital_signature"], "ed25519", "signature-only"),
        (Usage.TLS_SERVER, [EMAIL], None, "ec", "not serverAuth"),
        (Usage.TLS_SERVER, [SERVER], ["crl_sign"], "ec", "key exchange"),
    ],
)
def test_leaf_usage_is_checked(
    usage: Usage,
    eku: list[ObjectIdentifier],
    ku: list[str] | None,
    kind: f.KeyKind,
    fragment: str,
) -> None:
    root, ca, _ = pki()
    cert = f.leaf("User", ca, kind=kind, slot=310, eku=eku, ku=ku)
    result = check(cert, anchors=[root], chain=[ca], usage=usage)
    assert result.status is S.WRONG_USAGE
    assert fragment in result.reason
    assert result.path[-1] == root.cert


@pytest.mark.parametrize(
    ("usage", "eku", "ku", "kind"),
    [
        (Usage.SMIME_SIGN, None, None, "ec"),
        (Usage.SMIME_SIGN, [EMAIL], ["content_commitment"], "rsa"),
        (Usage.SMIME_SIGN, [EMAIL], ["digital_signature"], "ed25519"),
        (Usage.SMIME_ENCRYPT, [EMAIL], ["key_encipherment"], "rsa"),
        (Usage.SMIME_ENCRYPT, [EMAIL], ["key_agreement"], "ec"),
        (Usage.SMIME_ENCRYPT, [EMAIL], ["key_agreement"], "x25519"),
        (Usage.TLS_SERVER, [SERVER], ["digital_signature"], "ec"),
        (Usage.ANY, [SERVER], ["crl_sign"], "ec"),
    ],
)
def test_fitting_usage_is_valid(
    usage: Usage, eku: list[ObjectIdentifier] | None, ku: list[str] | None, kind: f.KeyKind
) -> None:
    root, ca, _ = pki()
    cert = f.leaf("User", ca, kind=kind, slot=320, eku=eku, ku=ku)
    assert check(cert, anchors=[root], chain=[ca], usage=usage).status is S.VALID


def test_intermediate_eku_must_allow_the_usage() -> None:
    root, _, _ = pki()
    tls_ca = f.intermediate("TLS CA", root, eku=[SERVER])
    alice = f.leaf("Alice", tls_ca)
    result = check(alice, anchors=[root], chain=[tls_ca])
    assert result.status is S.WRONG_USAGE
    assert "limited to serverAuth" in result.reason
    assert check(alice, anchors=[root], chain=[tls_ca], usage=Usage.ANY).status is S.VALID
    mail_ca = f.intermediate("Mail CA", root, eku=[EMAIL, SERVER])
    assert check(f.leaf("Bob", mail_ca), anchors=[root], chain=[mail_ca]).status is S.VALID


def test_issuer_that_is_not_a_ca_breaks_the_path() -> None:
    root, ca, alice = pki()
    mallory = f.leaf("Mallory", alice, slot=330)
    result = check(mallory, anchors=[root], chain=[ca, alice])
    assert result.status is S.WRONG_USAGE
    assert "CN=Alice" in result.reason
    assert "not a CA certificate" in result.reason


def test_issuer_without_key_cert_sign_breaks_the_path() -> None:
    root, _, _ = pki()
    ca = f.intermediate("Crl-only CA", root, ku=["crl_sign", "digital_signature"])
    result = check(f.leaf("Alice", ca), anchors=[root], chain=[ca])
    assert result.status is S.WRONG_USAGE
    assert "keyCertSign" in result.reason


def test_path_len_constraint_is_honoured() -> None:
    root = f.root("Strict Root", slot=101, path_len=0)
    ca = f.intermediate("Issuing CA", root)
    result = check(f.leaf("Alice", ca), anchors=[root], chain=[ca])
    assert result.status is S.WRONG_USAGE
    assert "pathLenConstraint" in result.reason
    roomy = f.root("Roomy Root", slot=102, path_len=1)
    ca2 = f.intermediate("Issuing CA 2", roomy, slot=201)
    assert check(f.leaf("Bob", ca2), anchors=[roomy], chain=[ca2]).status is S.VALID


# ---- revocation --------------------------------------------------------------------


def test_revoked_leaf_carries_date_and_reason() -> None:
    root, ca, alice = pki()
    crl = f.crl(ca, [(alice.cert.serial_number, KC)])
    result = check(alice, anchors=[root], chain=[ca], crls=[crl, f.crl(root)])
    assert result.status is S.REVOKED
    assert result.revoked_at == NOW - 2 * DAY
    assert result.revocation_reason == "keyCompromise"
    assert "revoked on 2026-05-30 (keyCompromise)" in result.reason


def test_revocation_without_reason_is_unspecified() -> None:
    root, ca, alice = pki()
    crl = f.crl(ca, [(alice.cert.serial_number, None)])
    result = check(alice, anchors=[root], chain=[ca], crls=[crl, f.crl(root)])
    assert result.status is S.REVOKED
    assert result.revocation_reason == "unspecified"


def test_crl_listing_the_intermediate_revokes_the_path() -> None:
    root, ca, alice = pki()
    root_crl = f.crl(root, [(ca.cert.serial_number, x509.ReasonFlags.ca_compromise)])
    result = check(alice, anchors=[root], chain=[ca], crls=[root_crl, f.crl(ca)])
    assert result.status is S.REVOKED
    assert result.revocation_reason == "cACompromise"
    assert "CA certificate CN=Issuing CA" in result.reason


def test_no_crl_means_revocation_unknown_with_the_fix() -> None:
    root, ca, alice = pki()
    result = check(alice, anchors=[root], chain=[ca], crls=[f.crl(root)])
    assert result.status is S.REVOCATION_UNKNOWN
    assert result.reason.startswith("no current CRL for CN=Issuing CA")
    assert "postseal crl import FILE" in result.reason


def test_fail_open_is_valid_with_a_warning() -> None:
    root, ca, alice = pki()
    result = check(alice, anchors=[root], chain=[ca], crls=[f.crl(root)], fail_open=True)
    assert result.status is S.VALID
    assert len(result.warnings) == 1
    assert "no current CRL for CN=Issuing CA" in result.warnings[0]


def test_revocation_checking_can_be_switched_off() -> None:
    root, ca, alice = pki()
    result = check(alice, anchors=[root], chain=[ca], crls=[], check_revocation=False)
    assert result.status is S.VALID
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("crl_kwargs", "fragment"),
    [
        ({"this_update": NOW - 9 * DAY, "next_update": NOW - DAY}, "expired on 2026-05-31"),
        ({"no_next_update": True}, "no nextUpdate"),
        ({"this_update": NOW + DAY, "next_update": NOW + 8 * DAY}, "starts on"),
    ],
)
def test_stale_or_future_crl_is_not_current(crl_kwargs: dict[str, object], fragment: str) -> None:
    root, ca, alice = pki()
    crl = f.crl(ca, **crl_kwargs)  # type: ignore[arg-type]
    result = check(alice, anchors=[root], chain=[ca], crls=[crl, f.crl(root)])
    assert result.status is S.REVOCATION_UNKNOWN
    assert fragment in result.reason


def test_stale_crl_still_proves_a_revocation() -> None:
    root, ca, alice = pki()
    crl = f.crl(ca, [(alice.cert.serial_number, KC)], this_update=NOW - 9 * DAY,
                next_update=NOW - DAY, revoked_on=NOW - 9 * DAY)  # fmt: skip
    assert check(alice, anchors=[root], chain=[ca], crls=[crl, f.crl(root)]).status is S.REVOKED


def test_hold_in_a_stale_crl_is_not_a_revocation() -> None:
    root, ca, alice = pki()
    hold = x509.ReasonFlags.certificate_hold
    crl = f.crl(ca, [(alice.cert.serial_number, hold)], this_update=NOW - 9 * DAY,
                next_update=NOW - DAY, revoked_on=NOW - 9 * DAY)  # fmt: skip
    result = check(alice, anchors=[root], chain=[ca], crls=[crl, f.crl(root)])
    assert result.status is S.REVOCATION_UNKNOWN


def test_crl_signed_by_the_wrong_key_is_ignored() -> None:
    root, ca, alice = pki()
    forged = f.crl(ca, [(alice.cert.serial_number, KC)], signer=f.key("ec", 999))  # type: ignore[arg-type]
    result = check(alice, anchors=[root], chain=[ca], crls=[forged, f.crl(root)])
    assert result.status is S.REVOCATION_UNKNOWN
    assert "not signed by its key" in result.reason
    good = check(alice, anchors=[root], chain=[ca], crls=[forged, f.crl(ca), f.crl(root)])
    assert good.status is S.VALID


def test_crl_with_unknown_critical_extension_is_unusable() -> None:
    root, ca, alice = pki()
    odd = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    crl = f.crl(ca, extensions=[(odd, True)])
    result = check(alice, anchors=[root], chain=[ca], crls=[crl, f.crl(root)])
    assert result.status is S.REVOCATION_UNKNOWN
    assert "1.3.6.1.4.1.99999.1" in result.reason
    harmless = f.crl(ca, extensions=[(odd, False)])
    assert check(alice, anchors=[root], chain=[ca], crls=[harmless, f.crl(root)]).valid


def test_crl_for_user_certs_only_does_not_cover_a_ca() -> None:
    root, ca, alice = pki()
    users_only = x509.IssuingDistributionPoint(None, None, True, False, None, False, False)
    crl = f.crl(root, extensions=[(users_only, True)])
    result = check(alice, anchors=[root], chain=[ca], crls=[crl, f.crl(ca)])
    assert result.status is S.REVOCATION_UNKNOWN
    assert "CN=Test Root" in result.reason


def test_crl_issuer_without_crl_sign_is_not_believed() -> None:
    root, _, _ = pki()
    ca = f.intermediate("No CRL CA", root, ku=["key_cert_sign"])
    alice = f.leaf("Alice", ca)
    result = check(alice, anchors=[root], chain=[ca])
    assert result.status is S.REVOCATION_UNKNOWN
    assert "cRLSign" in result.reason


# ---- signatures and chain building -------------------------------------------------


def test_tampered_leaf_is_a_bad_signature() -> None:
    root, ca, alice = pki()
    der = alice.cert.public_bytes(Encoding.DER)
    tampered = x509.load_der_x509_certificate(der.replace(b"Alice", b"Alica"))
    result = check(tampered, anchors=[root], chain=[ca])
    assert result.status is S.BAD_SIGNATURE
    assert "CN=Alica" in result.reason
    assert "CN=Issuing CA" in result.reason


def test_missing_intermediate_names_the_issuer() -> None:
    root, _, alice = pki()
    result = check(alice, anchors=[root])
    assert result.status is S.MISSING_INTERMEDIATE
    assert result.reason.startswith("the issuer CN=Issuing CA,O=Example Org of CN=Alice")
    assert "postseal trust add-intermediate FILE" in result.reason


def test_untrusted_root_names_the_root() -> None:
    root, ca, alice = pki()
    other = f.root("Other Root", slot=103)
    result = check(alice, anchors=[other], chain=[ca], carried=[root])
    assert result.status is S.UNTRUSTED_ROOT
    assert "is signed by root CN=Test Root" in result.reason
    assert "postseal trust add-root FILE" in result.reason
    assert result.path == (alice.cert, ca.cert, root.cert)


def test_self_signed_leaf_that_is_not_trusted() -> None:
    root, _, _ = pki()
    selfie = f.make("Selfie", subject_key=f.key("ec", 340), eku=[EMAIL])
    result = check(selfie, anchors=[root])
    assert result.status is S.UNTRUSTED_ROOT
    assert "self-signed and not trusted" in result.reason


def test_cross_certificate_leads_to_the_other_root() -> None:
    root_a = f.root("Root A", slot=110)
    root_b = f.root("Root B", slot=111)
    ca = f.intermediate("Partner CA", root_a, slot=210)
    cross_a = f.cross(root_a, root_b)
    bob = f.leaf("Bob", ca)
    result = check(bob, anchors=[root_b], chain=[ca, cross_a], carried=[root_a])
    assert result.status is S.VALID
    assert result.path == (bob.cert, ca.cert, cross_a.cert, root_b.cert)


def test_only_the_verifying_candidate_issuer_is_used() -> None:
    root, ca, alice = pki()
    decoy = f.intermediate("Issuing CA", root, slot=220, ski=False)
    result = check(alice, anchors=[root], chain=[decoy, ca])
    assert result.status is S.VALID
    assert result.path[1] == ca.cert


def test_all_candidates_are_explored_when_the_first_path_fails() -> None:
    root, ca, alice = pki()
    revoked_copy = f.intermediate("Issuing CA", root, not_before=NOW - DAY)
    renewed = f.intermediate("Issuing CA", root, not_before=NOW - 2 * DAY)
    crl = f.crl(root, [(revoked_copy.cert.serial_number, x509.ReasonFlags.superseded)])
    result = check(alice, anchors=[root], chain=[revoked_copy, renewed], crls=[crl, f.crl(ca)])
    assert result.status is S.VALID
    assert result.path[1] == renewed.cert


def test_revoked_path_is_reported_over_a_dead_end() -> None:
    root, ca, alice = pki()
    crl = f.crl(root, [(ca.cert.serial_number, KC)])
    stray = f.intermediate("Issuing CA", f.root("Elsewhere", slot=104), slot=200)
    result = check(alice, anchors=[root], chain=[ca, stray], crls=[crl, f.crl(ca)])
    assert result.status is S.REVOKED


def test_mutual_certification_loop_terminates() -> None:
    ka, kb = f.key("ec", 120), f.key("ec", 121)
    a_tmp = f.Issued(f.make("Loop A", subject_key=ka, ca=True).cert, ka)
    b_tmp = f.Issued(f.make("Loop B", subject_key=kb, ca=True).cert, kb)
    a_by_b = f.make("Loop A", issuer=b_tmp, subject_key=ka, ca=True)
    b_by_a = f.make("Loop B", issuer=a_tmp, subject_key=kb, ca=True)
    leaf = f.leaf("Looper", a_by_b)
    root, _, _ = pki()
    result = check(leaf, anchors=[root], chain=[a_by_b, b_by_a])
    assert result.status is S.UNTRUSTED_ROOT
    assert "loop" in result.reason


def test_max_depth_bounds_the_path() -> None:
    root = f.root("Deep Root", slot=105)
    parent, chain = root, []
    for level in range(4):
        parent = f.intermediate(f"Level {level}", parent, slot=230 + level)
        chain.append(parent)
    leaf = f.leaf("Deep", parent)
    assert check(leaf, anchors=[root], chain=chain).status is S.VALID
    result = check(leaf, anchors=[root], chain=chain, max_depth=4)
    assert result.status is S.UNTRUSTED_ROOT
    assert "within 4 certificates" in result.reason


def _hostile_bundle() -> tuple[f.Issued, list[f.Issued]]:
    """14 keys x 14 certificates named like the leaf's issuer, each key certifying each."""
    keys = [f.key("ec", 400 + i) for i in range(14)]
    bare = [f.Issued(f.make("Evil CA", subject_key=k, ca=True).cert, k) for k in keys]
    bundle = [
        f.make("Evil CA", issuer=signer, subject_key=k, ca=True, aki=False, ski=False)
        for signer in bare
        for k in keys
    ]
    return f.leaf("Victim", bare[0]), bundle


def test_hostile_bundle_is_cut_off_by_the_work_bound() -> None:
    leaf, bundle = _hostile_bundle()
    root, _, _ = pki()
    finder = PathFinder(
        leaf.cert, anchors=[root.cert], pool=[b.cert for b in bundle], now=NOW, max_depth=8
    )
    assert list(finder.paths()) == []
    assert finder.exhausted
    assert finder.examined <= MAX_CANDIDATES + 1


def test_hostile_bundle_of_200_look_alike_cas_finishes_fast() -> None:
    root, ca, alice = pki()
    same_key = [f.make("Issuing CA", subject_key=ca.key, ca=True) for _ in range(200)]
    leaf, mesh = _hostile_bundle()
    for target, bundle in ((alice, same_key), (leaf, mesh)):
        started = time.perf_counter()
        result = check(target, anchors=[root], carried=bundle, crls=[])
        elapsed = time.perf_counter() - started
        assert result.status is S.UNTRUSTED_ROOT
        assert any("stopped after examining" in w for w in result.warnings)
        # A hang guard with a wide margin (typical: ~0.05 s), not a benchmark.
        assert elapsed < 1.0


# ---- signature algorithms ----------------------------------------------------------


def test_rsa_pss_signatures_on_certificates_and_crls() -> None:
    root = f.root("PSS Root", kind="rsa", slot=130)
    ca = f.intermediate("PSS CA", root, kind="rsa", slot=240, pss=True)
    leaf = f.leaf("Pat", ca, kind="rsa", slot=340, pss=True,
                  ku=["digital_signature", "key_encipherment"])  # fmt: skip
    crls = [f.crl(root, pss=True), f.crl(ca, pss=True)]
    assert check(leaf, anchors=[root], chain=[ca], crls=crls).status is S.VALID
    revoked = [f.crl(root, pss=True), f.crl(ca, [(leaf.cert.serial_number, KC)], pss=True)]
    assert check(leaf, anchors=[root], chain=[ca], crls=revoked).status is S.REVOKED


def test_ed25519_signatures_on_certificates_and_crls() -> None:
    root = f.root("Ed Root", kind="ed25519", slot=140)
    ca = f.intermediate("Ed CA", root, kind="ed25519", slot=250)
    leaf = f.leaf("Eddie", ca, kind="ed25519", slot=350, ku=["digital_signature"])
    assert check(leaf, anchors=[root], chain=[ca]).status is S.VALID
    revoked = [f.crl(root), f.crl(ca, [(leaf.cert.serial_number, KC)])]
    assert check(leaf, anchors=[root], chain=[ca], crls=revoked).status is S.REVOKED


def test_rsa_pkcs1_chain_with_ec_leaf() -> None:
    root = f.root("RSA Root", kind="rsa", slot=131)
    ca = f.intermediate("RSA CA", root, kind="rsa", slot=241)
    leaf = f.leaf("Mixed", ca)
    assert check(leaf, anchors=[root], chain=[ca]).status is S.VALID


def test_expired_anchor_asks_for_the_renewed_root() -> None:
    root = f.root("Old Root", slot=106, not_before=NOW - 900 * DAY, not_after=NOW - DAY)
    ca = f.intermediate("Under Old Root", root, slot=260)
    result = check(f.leaf("Carol", ca), anchors=[root], chain=[ca])
    assert result.status is S.EXPIRED
    assert "CN=Old Root" in result.reason
    assert "postseal trust add-root FILE" in result.reason


def test_delta_crl_alone_is_not_enough() -> None:
    root, ca, alice = pki()
    delta = f.crl(ca, extensions=[(x509.DeltaCRLIndicator(1), True)])
    result = check(alice, anchors=[root], chain=[ca], crls=[delta, f.crl(root)])
    assert result.status is S.REVOCATION_UNKNOWN
    assert "delta CRL" in result.reason
