"""Issue 2 acceptance through the real CLI: certificates, templates, auto-enrollment,
the directory check, and the encryption-certificate lookup."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from postseal.config import load_settings
from postseal.errors import PolicyError
from postseal.runtime import open_services
from postseal.services.enrollment import EnrollmentAction
from tests.e2e.cli import Org, copy_org, init_org

USERS = ("bob@example.org", "carol@example.org")


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    created = init_org(tmp_path_factory.mktemp("certs") / "org")
    for address in USERS:
        created.ok("user", "add", address)
    return created


@pytest.fixture(scope="module")
def foreign_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A certificate for bob@example.org issued by another organisation's CA."""
    base = tmp_path_factory.mktemp("foreign")
    other = init_org(base / "org", org="Other Org")
    other.ok("user", "add", "bob@example.org")
    other.ok("cert", "export", "bob@example.org", "--format", "pem", "--out", str(base / "bob.pem"))
    return base / "bob.pem"


@pytest.fixture
def own(org: Org, tmp_path: Path) -> Org:
    return copy_org(org, tmp_path / "org")


def _certs(org: Org, address: str | None = None) -> dict[str, dict[str, object]]:
    args = ["cert", "list"] + (["--user", address] if address else [])
    return {row["serial"]: row for row in org.json(*args)}


def _attributes(org: Org, address: str) -> tuple[object, object]:
    shown = org.json("user", "show", address)
    return shown["userCertificate"], shown["userSMIMECertificate"]


def _pem(org: Org, serial: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(org.ok("cert", "show", serial, "--pem").stdout_bytes)


# -- issue, list, show, renew, revoke -------------------------------------------------------


def test_issue_list_show(own: Org) -> None:
    issued = own.json("cert", "issue", "bob@example.org")
    serial = issued["serial"]
    assert issued["status"] == "valid"
    assert issued["template"] == "User"
    rows = _certs(own, "bob@example.org")
    assert serial in rows
    assert len(rows) == 2
    shown = own.json("cert", "show", serial.lower())
    assert shown["serial"] == serial
    assert shown["subject"] == "CN=bob@example.org"
    assert "secure e-mail" in shown["purposes"]
    cert = _pem(own, serial)
    assert format(cert.serial_number, "X") == serial
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["bob@example.org"]
    assert _attributes(own, "bob@example.org") == (serial, serial)


def test_renew_gives_a_new_serial_supersedes_and_publishes(own: Org) -> None:
    old = own.serial_of("bob@example.org")
    renewed = own.json("cert", "renew", old)
    new = renewed["serial"]
    assert new != old
    rows = _certs(own, "bob@example.org")
    assert rows[old]["status"] == "superseded"
    assert rows[new]["status"] == "valid"
    assert own.json("cert", "show", old)["superseded_by"] == new
    assert _attributes(own, "bob@example.org") == (new, new)
    assert _pem(own, new).public_key() != _pem(own, old).public_key()


def test_revoke_withdraws_and_lists_in_the_crl(own: Org, tmp_path: Path) -> None:
    serial = own.serial_of("carol@example.org")
    result = own.json("cert", "revoke", serial, "--reason", "keyCompromise")
    assert result["serial"] == serial
    assert result["reason"] == "keyCompromise"
    assert _certs(own)[serial]["status"] == "revoked"
    assert _attributes(own, "carol@example.org") == (None, None)
    own.ok("crl", "export", "--format", "der", "--out", str(tmp_path / "crl.der"))
    crl = x509.load_der_x509_crl((tmp_path / "crl.der").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    again = own.run("cert", "renew", serial)
    assert again.status == 1
    assert "revoked" in again.stderr


def test_revoking_the_root_is_refused(own: Org) -> None:
    root = next(s for s, row in _certs(own).items() if row["role"] == "root")
    before = own.state()
    result = own.run("cert", "revoke", root, "--reason", "keyCompromise")
    assert result.status == 1
    assert len(result.error_lines) == 1
    assert own.state() == before


# -- templates and auto-enrollment ------------------------------------------------------------


def test_superseded_template_moves_its_holders_on_enroll(own: Org) -> None:
    before = {a: own.serial_of(a) for a in USERS}
    own.ok(
        "template",
        "add",
        "User v2",
        "--eku",
        "email",
        "--eku",
        "client-auth",
        "--key-type",
        "ecdsa-p256",
    )
    own.ok("template", "supersede", "User", "--by", "User v2")
    templates = {t["name"]: t for t in own.json("template", "list")}
    assert templates["User"]["superseded_by"] == "User v2"

    actions = own.json("enroll", "run")
    reissued = {a["address"] for a in actions if a["action"] == "reissued"}
    assert reissued == set(USERS)
    assert not [a for a in actions if a["address"] == "admin@example.org"]
    users = {u["address"]: u for u in own.json("user", "list")}
    for address in USERS:
        assert users[address]["template"] == "User v2"
        new = own.serial_of(address)
        assert new != before[address]
        assert _certs(own, address)[new]["template"] == "User v2"
        assert _attributes(own, address) == (new, new)
        ekus = _pem(own, new).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert set(ekus) == {ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert users["admin@example.org"]["template"] == "Administrator"

    second = own.run("enroll", "run")
    assert second.status == 0
    assert "nothing to do" in second.stdout
    assert own.json("enroll", "run") == []


def test_an_explicitly_named_superseded_template_is_refused(own: Org) -> None:
    own.ok("template", "add", "User v2", "--eku", "email", "--key-type", "ecdsa-p256")
    own.ok("template", "supersede", "User", "--by", "User v2")
    before = own.state()
    result = own.run("cert", "issue", "bob@example.org", "--template", "User")
    assert result.status == 1
    assert "User v2" in result.stderr
    assert own.state() == before


def test_enroll_withdraws_a_revoked_certificate_from_both_attributes(
    own: Org, tmp_path: Path
) -> None:
    serial = own.serial_of("bob@example.org")
    pem = tmp_path / "bob.pem"
    own.ok("cert", "export", "bob@example.org", "--format", "pem", "--out", str(pem))
    own.ok("user", "disable", "bob@example.org")
    own.ok("cert", "revoke", serial, "--reason", "superseded")
    assert _attributes(own, "bob@example.org") == (None, None)
    # a legacy client (or a restored backup) puts the revoked certificate back
    own.ok("directory", "publish", "bob@example.org", str(pem))
    assert _attributes(own, "bob@example.org") == (serial, serial)

    actions = own.json("enroll", "run")
    assert [(a["address"], a["action"]) for a in actions] == [("bob@example.org", "withdrew")]
    assert serial in actions[0]["detail"]
    assert _attributes(own, "bob@example.org") == (None, None)
    assert own.json("enroll", "run") == []


def test_enroll_issues_for_a_user_whose_certificate_was_revoked(own: Org) -> None:
    serial = own.serial_of("bob@example.org")
    own.ok("cert", "revoke", serial, "--reason", "keyCompromise")
    actions = own.json("enroll", "run")
    assert [(a["address"], a["action"]) for a in actions] == [("bob@example.org", "issued")]
    new = own.serial_of("bob@example.org")
    assert new != serial
    assert _attributes(own, "bob@example.org") == (new, new)


def test_enroll_renews_inside_the_renewal_window(own: Org) -> None:
    own.ok(
        "template",
        "add",
        "Short",
        "--eku",
        "email",
        "--key-type",
        "ecdsa-p256",
        "--validity-days",
        "30",
        "--renewal-days",
        "29",
    )
    own.ok("user", "add", "erin@example.org", "--template", "Short")
    first = own.serial_of("erin@example.org")
    assert own.json("enroll", "run") == []  # a fresh certificate is not inside its window yet

    # 30 days of validity, renew in the last 29: two days from now it is due
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)

    async def run_twice() -> tuple[list[EnrollmentAction], list[EnrollmentAction]]:
        settings = load_settings(own.data_dir, environ={})
        async with open_services(settings, {}, clock=lambda: later) as services:
            return await services.enrollment.run(actor="test"), await services.enrollment.run(
                actor="test"
            )

    actions, again = asyncio.run(run_twice())
    assert [(a.address, a.action) for a in actions] == [("erin@example.org", "renewed")]
    assert first in actions[0].detail
    assert again == []
    rows = _certs(own, "erin@example.org")
    second = next(s for s in rows if s != first)
    assert rows[first]["status"] == "superseded"
    assert _attributes(own, "erin@example.org") == (second, second)


# -- directory check ---------------------------------------------------------------------------


def test_directory_check_finds_and_fixes_a_foreign_certificate(own: Org, foreign_pem: Path) -> None:
    clean = own.run("directory", "check")
    assert clean.status == 0, clean.stderr
    own.ok(
        "directory",
        "publish",
        "bob@example.org",
        str(foreign_pem),
        "--attribute",
        "userSMIMECertificate",
    )
    serial = own.serial_of("bob@example.org")
    assert _attributes(own, "bob@example.org") == (serial, "foreign certificate")

    found = own.run("directory", "check", as_json=True)
    assert found.status == 3
    problems = {(f["address"], f["problem"]) for f in found.json()}
    assert problems == {("bob@example.org", "attributes-differ"), ("bob@example.org", "foreign")}
    assert own.run("directory", "check").status == 3  # checking changed nothing

    fixed = own.run("directory", "check", "--fix", as_json=True)
    assert fixed.status == 0
    assert all(f["fixed"] for f in fixed.json())
    assert _attributes(own, "bob@example.org") == (serial, serial)
    after = own.run("directory", "check")
    assert after.status == 0
    assert "agree and are valid" in after.stdout


# -- encryption lookup ---------------------------------------------------------------------------


@pytest.fixture
def mixed(own: Org) -> Org:
    """bob valid, carol revoked, dave without a certificate, erin disabled."""
    own.ok("cert", "revoke", own.serial_of("carol@example.org"), "--reason", "keyCompromise")
    own.ok("user", "add", "dave@example.org", "--no-cert")
    own.ok("user", "add", "erin@example.org")
    own.ok("user", "disable", "erin@example.org")
    return own


async def test_find_encryption_certs_names_every_recipient_without_one(mixed: Org) -> None:
    own = mixed
    bob = await asyncio.to_thread(own.serial_of, "bob@example.org")
    settings = load_settings(own.data_dir, environ={})
    async with open_services(settings, {}) as services:
        good = await services.directory.find_encryption_certs(
            ["Bob@Example.org", "admin@example.org"]
        )
        bad = await services.directory.find_encryption_certs(
            ["bob@example.org", "carol@example.org", "dave@example.org"]
        )
    found = good.require_all()
    assert set(found) == {"bob@example.org", "admin@example.org"}
    assert format(found["bob@example.org"].serial_number, "X") == bob
    assert set(bad.found) == {"bob@example.org"}
    with pytest.raises(PolicyError) as caught:
        bad.require_all()
    assert caught.value.message == (
        "cannot encrypt: no valid certificate for carol@example.org, dave@example.org"
    )


async def test_find_encryption_certs_skips_a_disabled_user(mixed: Org) -> None:
    settings = load_settings(mixed.data_dir, environ={})
    async with open_services(settings, {}) as services:
        lookup = await services.directory.find_encryption_certs(
            ["erin@example.org", "bob@example.org"]
        )
    assert lookup.missing == ("erin@example.org",)
    assert set(lookup.found) == {"bob@example.org"}


def test_renewing_an_already_renewed_certificate_is_refused(own: Org) -> None:
    old = own.serial_of("bob@example.org")
    first = own.json("cert", "renew", old)["serial"]
    before = own.state()
    again = own.run("cert", "renew", old)
    assert again.status == 1
    assert first in again.stderr
    assert own.state() == before
    assert own.json("cert", "show", old)["superseded_by"] == first


def test_after_revoking_the_issuing_ca_issuance_says_why(own: Org) -> None:
    issuing = next(s for s, row in _certs(own).items() if row["role"] == "issuing")
    refused = own.run("cert", "revoke", issuing, "--reason", "keyCompromise")
    assert refused.status == 1
    assert "--force" in refused.stderr
    own.ok("cert", "revoke", issuing, "--reason", "keyCompromise", "--force")
    before = own.state()
    result = own.run("user", "add", "erin@example.org")
    assert result.status == 1
    assert len(result.error_lines) == 1
    assert own.state() == before  # holds today: nothing is issued under a revoked CA
    assert "revoked" in result.stderr
    assert "postseal init" not in result.stderr
