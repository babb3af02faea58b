"""pkilint judges what postseal issues: every default template and key type against the
CA/Browser Forum S/MIME Baseline Requirements, and the CRLs against the BR and PKIX
profiles. Exit status 0 and no output at ``-s ERROR`` means clean (shared/INTEROP.md)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from tests.e2e.cli import Org, copy_org, init_org, venv_tool

pytestmark = pytest.mark.interop

LINT_TIMEOUT = 60
KEY_TYPES = ("rsa-2048", "ecdsa-p256", "rsa-3072", "ecdsa-p384")
TEMPLATES = {
    "Administrator": "admin@example.org",
    "User": "user@example.org",
    "Smartcard User": "card@example.org",
}
# every reason an administrator may give; "unspecified" must become an entry without a reason code
REVOCATIONS = {
    "r1@example.org": "unspecified",
    "r2@example.org": "keyCompromise",
    "r3@example.org": "affiliationChanged",
    "r4@example.org": "superseded",
    "r5@example.org": "privilegeWithdrawn",
}
REMOVED = "r6@example.org"  # `user remove` revokes with cessationOfOperation


def _tool(name: str) -> str:
    found = venv_tool(name)
    if found is None:
        pytest.skip(f"{name} not installed (pip package pkilint; `make test` installs it)")
    return found


def _lint(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=LINT_TIMEOUT, check=False)


@pytest.fixture(scope="module")
def org_for(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Org]:
    """One organisation per key type, created on first use, with a holder of each template."""
    cache: dict[str, Org] = {}

    def get(key_type: str) -> Org:
        if key_type not in cache:
            org = init_org(
                tmp_path_factory.mktemp(key_type) / "org",
                key_type=key_type,
                pki_url="http://pki.example.org/pki",
            )
            for template, address in TEMPLATES.items():
                if template != "Administrator":
                    org.ok("user", "add", address, "--template", template)
            cache[key_type] = org
        return cache[key_type]

    return get


@pytest.mark.parametrize("template", list(TEMPLATES))
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_certificate_lints_clean(
    org_for: Callable[[str], Org], tmp_path: Path, key_type: str, template: str
) -> None:
    lint = _tool("lint_cabf_smime_cert")
    org = org_for(key_type)
    address = TEMPLATES[template]
    pem = tmp_path / "cert.pem"
    org.ok("cert", "export", address, "--format", "pem", "--out", str(pem))
    cert = x509.load_pem_x509_certificate(pem.read_bytes())
    assert org.json("cert", "show", format(cert.serial_number, "X"))["template"] == template
    done = _lint([lint, "lint", "-d", "-s", "ERROR", str(pem)])
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (0, "", ""), done.stdout


@pytest.fixture(scope="module", params=["rsa-2048", "ecdsa-p256"])
def revoked_org(
    request: pytest.FixtureRequest,
    org_for: Callable[[str], Org],
    tmp_path_factory: pytest.TempPathFactory,
) -> Org:
    """A copy of an organisation whose issuing CA has revoked entries of every reason."""
    org = copy_org(org_for(request.param), tmp_path_factory.mktemp("revoked") / "org")
    for address, reason in REVOCATIONS.items():
        org.ok("user", "add", address)
        org.ok("cert", "revoke", org.serial_of(address), "--reason", reason)
    org.ok("user", "add", REMOVED)
    org.ok("user", "remove", REMOVED)
    return org


def _crl_file(org: Org, path: Path, ca: str) -> Path:
    org.ok("crl", "export", "--ca", ca, "--out", str(path))
    return path


def test_revoked_org_crl_has_the_expected_entries(revoked_org: Org, tmp_path: Path) -> None:
    crl = x509.load_pem_x509_crl(
        _crl_file(revoked_org, tmp_path / "crl.pem", "issuing").read_bytes()
    )
    reasons = set()
    for entry in crl:
        try:
            reasons.add(entry.extensions.get_extension_for_class(x509.CRLReason).value.reason)
        except x509.ExtensionNotFound:
            reasons.add(None)  # unspecified: no reason code (RFC 5280 §5.3.1)
    assert len(crl) == len(REVOCATIONS) + 1
    assert reasons == {
        None,
        x509.ReasonFlags.key_compromise,
        x509.ReasonFlags.affiliation_changed,
        x509.ReasonFlags.superseded,
        x509.ReasonFlags.privilege_withdrawn,
        x509.ReasonFlags.cessation_of_operation,
    }


@pytest.mark.parametrize("profile", ["BR", "PKIX"])
def test_issuing_crl_lints_clean(revoked_org: Org, tmp_path: Path, profile: str) -> None:
    lint = _tool("lint_crl")
    crl = _crl_file(revoked_org, tmp_path / "crl.pem", "issuing")
    done = _lint([lint, "lint", "-t", "CRL", "-p", profile, "-s", "ERROR", str(crl)])
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (0, "", ""), done.stdout


@pytest.mark.parametrize("profile", ["BR", "PKIX"])
def test_root_arl_with_a_revoked_ca_lints_clean(
    revoked_org: Org, tmp_path: Path, profile: str
) -> None:
    lint = _tool("lint_crl")
    org = copy_org(revoked_org, tmp_path / "org")
    service = next(
        row["serial"] for row in org.json("cert", "list") if row["role"] == "service-issuing"
    )
    org.ok("cert", "revoke", service, "--reason", "keyCompromise", "--force")
    arl = _crl_file(org, tmp_path / "arl.pem", "root")
    assert len(x509.load_pem_x509_crl(arl.read_bytes())) == 1
    done = _lint([lint, "lint", "-t", "ARL", "-p", profile, "-s", "ERROR", str(arl)])
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (0, "", ""), done.stdout
