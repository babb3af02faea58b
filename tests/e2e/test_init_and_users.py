"""Issue 2 acceptance through the real CLI: init, configuration, users, and refusals that
change nothing."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from postseal import __version__
from postseal.config import load_settings
from postseal.errors import CertificateFormatError
from postseal.pki.export import read_pkcs12
from postseal.runtime import open_services
from tests.e2e.cli import CliResult, Org, copy_org, init_org, invoke, spawn_cli, venv_tool
from tests.peers import require_tool

P12_PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    """An organisation with bob@example.org; tests that change it work on a copy."""
    created = init_org(tmp_path_factory.mktemp("init") / "org")
    created.ok("user", "add", "bob@example.org", "--name", "Bob")
    return created


@pytest.fixture
def own(org: Org, tmp_path: Path) -> Org:
    return copy_org(org, tmp_path / "org")


def _snapshot(data_dir: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode))
        for p in sorted(data_dir.iterdir())
    }


def _one_line_error(result: CliResult, *fragments: str) -> None:
    lines = result.error_lines
    assert result.status != 0
    assert len(lines) == 1, lines
    assert lines[0].startswith("postseal: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# -- init ------------------------------------------------------------------------------


def test_init_prints_the_admin_password_once_and_writes_master_key_0600(org: Org) -> None:
    record = dict(
        line.split(None, 1) if " " in line else (line, "")
        for line in org.init.stdout.splitlines()
        if line.startswith(("administrator", "password"))
    )
    password = record["password"].strip()
    assert len(password) >= 16
    assert org.init.stdout.count(password) == 1
    assert password not in org.init.stderr
    assert "shown only this once" in org.init.stderr
    key = org.data_dir / "master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(base64.b64decode(key.read_text().strip(), validate=True)) == 32

    async def authenticate() -> bool:
        settings = load_settings(org.data_dir, environ={})
        async with open_services(settings, {}) as services:
            user = await services.directory.authenticate(record["administrator"].strip(), password)
            wrong = await services.directory.authenticate(
                record["administrator"].strip(), "x" + password
            )
        return user is not None and wrong is None

    assert asyncio.run(authenticate())


def test_init_json_reports_the_password_for_scripts(tmp_path: Path) -> None:
    result = invoke(
        tmp_path / "org",
        "init",
        "--org",
        "O",
        "--domain",
        "example.org",
        "--key-type",
        "ecdsa-p256",
        as_json=True,
    )
    assert result.status == 0, result.stderr
    data = result.json()
    assert data["administrator"] == "admin@example.org"
    assert data["password"]
    assert result.stderr == ""


def test_second_init_refuses_and_changes_nothing(own: Org) -> None:
    before = _snapshot(own.data_dir)
    result = own.run(
        "init", "--org", "Other", "--domain", "other.example", "--key-type", "ecdsa-p256"
    )
    assert result.status == 1
    _one_line_error(result, "already initialised", "nothing was changed")
    assert result.stdout == ""
    assert _snapshot(own.data_dir) == before


def test_second_init_without_master_key_file_still_refuses(own: Org) -> None:
    """The store itself says it is in use: init must not write a new master.key over it."""
    key = own.data_dir / "master.key"
    secret = key.read_text()
    key.rename(own.data_dir.parent / "master.key.bak")
    before = _snapshot(own.data_dir)
    result = own.run(
        "init", "--org", "Other", "--domain", "example.org", "--key-type", "ecdsa-p256"
    )
    _one_line_error(result, "already holds the organisation", "Example Org")
    assert _snapshot(own.data_dir) == before
    assert not key.exists()
    (own.data_dir.parent / "master.key.bak").rename(key)
    assert key.read_text() == secret


# -- version and entry points ----------------------------------------------------------


def test_version_in_process() -> None:
    result = invoke(None, "--version")
    assert result.status == 0
    assert result.stdout.strip() == f"postseal {__version__}"


def test_python_dash_m_version() -> None:
    done = spawn_cli([sys.executable, "-m", "postseal", "--version"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"postseal {__version__}"


def test_console_script_runs_a_real_command(org: Org) -> None:
    script = venv_tool("postseal")
    if script is None:
        pytest.skip("the postseal console script is not installed")
    done = spawn_cli([script, "--data-dir", str(org.data_dir), "--json", "user", "list"])
    assert done.returncode == 0, done.stderr
    assert "bob@example.org" in done.stdout
    bad = spawn_cli([script, "--data-dir", str(org.data_dir), "user", "show", "nobody@example.org"])
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "postseal: error: no user nobody@example.org in the directory"
    ]


# -- config show ---------------------------------------------------------------------


def _config(org: Org, env: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    return {row["key"]: row for row in org.json("config", "show", env=env)}


def test_config_show_lists_every_setting_with_its_source(org: Org) -> None:
    rows = _config(org)
    assert {"store.database_url", "pki.crl_validity_days", "log.level", "listen"} <= set(rows)
    assert all(row["source"] == "default" for row in rows.values())


def test_config_show_names_env_and_file_sources(own: Org) -> None:
    (own.data_dir / "postseal.toml").write_text('[log]\nlevel = "warning"\n')
    rows = _config(own, env={"POSTSEAL_PKI_CRL_VALIDITY_DAYS": "3"})
    assert rows["pki.crl_validity_days"]["value"] == "3"
    assert rows["pki.crl_validity_days"]["source"] == "env POSTSEAL_PKI_CRL_VALIDITY_DAYS"
    assert rows["log.level"]["value"] == "WARNING"
    assert rows["log.level"]["source"] == f"file {own.data_dir / 'postseal.toml'}"
    assert rows["store.database_url"]["source"] == "default"


def test_config_rejects_an_unknown_toml_key_by_name(own: Org) -> None:
    (own.data_dir / "postseal.toml").write_text("[pki]\ncrl_validty_days = 3\n")
    result = own.run("config", "show")
    _one_line_error(result, "crl_validty_days", "postseal.toml")


def test_config_rejects_an_unknown_postseal_variable_by_name(org: Org) -> None:
    result = org.run("config", "show", env={"POSTSEAL_PKI_CRL_VALIDTY_DAYS": "3"})
    _one_line_error(result, "POSTSEAL_PKI_CRL_VALIDTY_DAYS")


def test_config_rejects_an_out_of_range_value(org: Org) -> None:
    result = org.run("config", "show", env={"POSTSEAL_PKI_CRL_VALIDITY_DAYS": "30"})
    _one_line_error(result, "POSTSEAL_PKI_CRL_VALIDITY_DAYS", "1 to 10")


# -- users -----------------------------------------------------------------------------


def test_user_lifecycle_round_trips(own: Org) -> None:
    added = own.json(
        "user",
        "add",
        "Carol@Example.org",
        "--name",
        "Carol C",
        "--password-stdin",
        "--group",
        "staff",
        stdin="s3cret-password\n",
    )
    assert added["address"] == "carol@example.org"
    assert added["template"] == "User"
    assert "password" not in added  # it came from stdin, so it is not echoed
    serial = added["certificate"]

    listed = {u["address"]: u for u in own.json("user", "list")}
    assert listed["carol@example.org"]["name"] == "Carol C"
    assert listed["carol@example.org"]["groups"] == ["staff"]
    assert listed["carol@example.org"]["enabled"] is True

    shown = own.json("user", "show", "carol@example.org")
    assert shown["userCertificate"] == serial
    assert shown["userSMIMECertificate"] == serial
    assert shown["password set"] is True

    assert own.json("user", "disable", "carol@example.org")["address"] == "carol@example.org"
    assert own.json("user", "show", "carol@example.org")["enabled"] is False
    own.ok("user", "enable", "CAROL@example.org")
    assert own.json("user", "show", "carol@example.org")["enabled"] is True

    removed = own.json("user", "remove", "carol@example.org")
    assert removed["revoked"] == [serial]
    assert "carol@example.org" not in {u["address"] for u in own.json("user", "list")}
    _one_line_error(own.run("user", "show", "carol@example.org"), "no user carol@example.org")


def test_user_add_generates_a_password_when_none_is_given(own: Org) -> None:
    added = own.json("user", "add", "dave@example.org", "--no-cert")
    assert len(added["password"]) >= 16
    assert "certificate" not in added
    assert own.json("cert", "list", "--user", "dave@example.org") == []


def test_user_remove_revokes_certificates_in_list_and_crl(own: Org, tmp_path: Path) -> None:
    serial = own.serial_of("bob@example.org")
    result = own.ok("user", "remove", "bob@example.org")
    assert "revoked 1 certificate" in result.stdout
    rows = {r["serial"]: r for r in own.json("cert", "list")}
    assert rows[serial]["status"] == "revoked"
    assert rows[serial]["reason"] == "cessationOfOperation"

    own.ok("crl", "export", "--format", "der", "--out", str(tmp_path / "crl.der"))
    crl = x509.load_der_x509_crl((tmp_path / "crl.der").read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(int(serial, 16))
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.cessation_of_operation


# -- refusals: one clear line, non-zero, nothing changed ----------------------------------


def _leaf_pem(org: Org, path: Path) -> Path:
    org.ok("cert", "export", "bob@example.org", "--format", "pem", "--out", str(path))
    return path


CORRUPT_PEM = b"-----BEGIN CERTIFICATE-----\nMIIBnotreallybase64!!\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("args", "stdin", "fragments"),
    [
        pytest.param(
            ["user", "add", "not-an-address"],
            "",
            ["not-an-address", "not a valid"],
            id="malformed-address",
        ),
        pytest.param(["user", "add", "bob@@example.org"], "", ["bob@@example.org"], id="double-at"),
        pytest.param(
            ["user", "add", "Bob@Example.org"],
            "",
            ["bob@example.org", "already exists"],
            id="duplicate-case",
        ),
        pytest.param(
            ["user", "add", "carol@example.org", "--template", "Nope"],
            "",
            ["unknown template 'Nope'"],
            id="unknown-template",
        ),
        pytest.param(
            ["cert", "issue", "bob@example.org", "--template", "Nope"],
            "",
            ["unknown template 'Nope'"],
            id="issue-unknown-template",
        ),
        pytest.param(["cert", "show", "DEADBEEF"], "", ["DEADBEEF"], id="show-unknown-serial"),
        pytest.param(
            ["cert", "revoke", "DEADBEEF", "--reason", "keyCompromise"],
            "",
            ["DEADBEEF"],
            id="revoke-unknown-serial",
        ),
        pytest.param(["cert", "renew", "0xdeadbeef"], "", ["DEADBEEF"], id="renew-unknown-serial"),
        pytest.param(
            ["cert", "show", "not-hex"], "", ["not-hex", "hexadecimal"], id="serial-not-hex"
        ),
        pytest.param(
            ["user", "show", "nobody@example.org"], "", ["nobody@example.org"], id="unknown-user"
        ),
        pytest.param(
            ["user", "remove", "nobody@example.org"],
            "",
            ["nobody@example.org"],
            id="remove-unknown-user",
        ),
        pytest.param(
            ["user", "add", "carol@example.org", "--password-stdin"],
            "",
            ["no password on standard input"],
            id="empty-password",
        ),
        pytest.param(
            [
                "cert",
                "export",
                "bob@example.org",
                "--format",
                "p12",
                "--with-key",
                "--password-stdin",
            ],
            "short\n",
            ["at least 8"],
            id="short-p12-password",
        ),
        pytest.param(
            ["cert", "export", "bob@example.org", "--format", "pem", "--with-key"],
            "",
            ["PKCS#12"],
            id="key-outside-p12",
        ),
        pytest.param(
            ["user", "add", "carol@example.org", "--extension", "12a"],
            "",
            ["12a"],
            id="bad-extension",
        ),
        pytest.param(
            ["template", "add", "Bad", "--eku", "client-auth", "--key-type", "ecdsa-p256"],
            "",
            ["secure e-mail"],
            id="template-without-email-eku",
        ),
        pytest.param(
            [
                "template",
                "add",
                "Bad",
                "--eku",
                "email",
                "--key-type",
                "ecdsa-p256",
                "--validity-days",
                "30",
                "--renewal-days",
                "30",
            ],
            "",
            ["renewal window"],
            id="template-renewal-too-long",
        ),
        pytest.param(
            ["template", "supersede", "User", "--by", "Nope"], "", ["Nope"], id="supersede-unknown"
        ),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    own: Org, args: list[str], stdin: str, fragments: list[str]
) -> None:
    before = own.state()
    templates = own.json("template", "list")
    result = own.run(*args, stdin=stdin)
    assert result.status == 1
    _one_line_error(result, *fragments)
    assert own.state() == before
    assert own.json("template", "list") == templates


def test_a_leaf_certificate_is_refused_as_a_root(own: Org, tmp_path: Path) -> None:
    leaf = _leaf_pem(own, tmp_path / "bob.pem")
    before, trust = own.state(), own.json("trust", "list")
    result = own.run("trust", "add-root", str(leaf))
    _one_line_error(result, "CN=bob@example.org")
    assert own.state() == before
    assert own.json("trust", "list") == trust


@pytest.mark.parametrize(
    "command",
    [["trust", "add-root"], ["directory", "publish", "bob@example.org"], ["crl", "import"]],
)
def test_a_corrupt_pem_file_is_refused(own: Org, tmp_path: Path, command: list[str]) -> None:
    corrupt = tmp_path / "corrupt.pem"
    corrupt.write_bytes(CORRUPT_PEM)
    before, trust, shown = (
        own.state(),
        own.json("trust", "list"),
        own.json("user", "show", "bob@example.org"),
    )
    result = own.run(*command, str(corrupt))
    _one_line_error(result)
    assert "Traceback" not in result.stderr
    assert own.state() == before
    assert own.json("trust", "list") == trust
    assert own.json("user", "show", "bob@example.org") == shown


def test_a_missing_input_file_is_named(own: Org, tmp_path: Path) -> None:
    result = own.run("trust", "add-root", str(tmp_path / "absent.pem"))
    _one_line_error(result, "absent.pem", "no such file")


@pytest.mark.parametrize("legacy", [False, True], ids=["aes", "legacy"])
def test_our_p12_refuses_a_wrong_password(own: Org, tmp_path: Path, legacy: bool) -> None:
    openssl = require_tool("openssl", package="openssl")
    p12 = tmp_path / "bob.p12"
    own.ok(
        "cert",
        "export",
        "bob@example.org",
        "--format",
        "p12",
        "--with-key",
        "--password-stdin",
        *(["--legacy-p12"] if legacy else []),
        "--out",
        str(p12),
        stdin=P12_PASSWORD + "\n",
    )
    assert stat.S_IMODE(p12.stat().st_mode) == 0o600
    base = [openssl, "pkcs12", "-info", "-noout", "-in", str(p12), *(["-legacy"] if legacy else [])]
    good = subprocess.run(
        [*base, "-passin", f"pass:{P12_PASSWORD}"], capture_output=True, timeout=30, check=False
    )
    assert good.returncode == 0, good.stderr
    bad = subprocess.run(
        [*base, "-passin", "pass:wrong password"], capture_output=True, timeout=30, check=False
    )
    assert bad.returncode != 0
    assert b"mac verify" in bad.stderr.lower()

    opened = read_pkcs12(p12.read_bytes(), P12_PASSWORD.encode())
    assert isinstance(opened, pkcs12.PKCS12KeyAndCertificates)
    assert opened.key is not None
    with pytest.raises(CertificateFormatError, match="password is wrong"):
        read_pkcs12(p12.read_bytes(), b"wrong password")


# -- key custody -------------------------------------------------------------------------


def test_a_wrong_master_key_is_refused(own: Org) -> None:
    before = own.state()
    other = base64.b64encode(os.urandom(32)).decode()
    for args in (["user", "list"], ["user", "add", "carol@example.org"], ["crl", "publish"]):
        result = own.run(*args, env={"POSTSEAL_MASTER_KEY": other})
        _one_line_error(result, "master key does not belong to this store")
    assert own.state() == before


def test_a_malformed_master_key_variable_is_refused(own: Org) -> None:
    result = own.run("user", "list", env={"POSTSEAL_MASTER_KEY": "not base64!"})
    _one_line_error(result, "master key")


def test_the_right_master_key_from_the_environment_works(own: Org) -> None:
    key = own.data_dir / "master.key"
    secret = key.read_text().strip()
    key.unlink()
    result = own.run("user", "show", "bob@example.org", env={"POSTSEAL_MASTER_KEY": secret})
    assert result.status == 0, result.stderr


def test_a_missing_master_key_is_refused_naming_the_file(own: Org) -> None:
    key = own.data_dir / "master.key"
    before = own.state()
    key.rename(own.data_dir / "master.key.moved")
    stored = _snapshot(own.data_dir)
    result = own.run("user", "add", "carol@example.org")
    _one_line_error(result, str(key), "POSTSEAL_MASTER_KEY")
    assert _snapshot(own.data_dir) == stored
    (own.data_dir / "master.key.moved").rename(key)
    assert own.state() == before


def test_a_world_readable_master_key_is_refused(own: Org) -> None:
    key = own.data_dir / "master.key"
    before = own.state()
    key.chmod(0o644)
    result = own.run("user", "list")
    _one_line_error(result, str(key), "chmod 600")
    key.chmod(0o600)
    assert own.state() == before


# -- init input checks ----------------------------------------------------------------------

BAD_INIT = [
    pytest.param(["--hostname", "bad host"], "bad host", id="hostname"),
    pytest.param(["--domain", "exa mple.org"], "exa mple.org", id="domain"),
    pytest.param(["--org", "  "], "organisation name", id="blank-org"),
    pytest.param(["--pki-url", "ftp://pki.example.org/pki"], "http://", id="pki-url-scheme"),
]


def _init_args(extra: list[str]) -> list[str]:
    base = {"--org": "Example Org", "--domain": "example.org", "--key-type": "ecdsa-p256"}
    pairs = dict(zip(extra[::2], extra[1::2], strict=True))
    return ["init", *[item for pair in {**base, **pairs}.items() for item in pair]]


@pytest.mark.parametrize(("extra", "fragment"), BAD_INIT)
def test_init_with_bad_input_is_refused_and_can_be_retried(
    tmp_path: Path, extra: list[str], fragment: str
) -> None:
    data_dir = tmp_path / "org"
    result = invoke(data_dir, *_init_args(extra))
    _one_line_error(result, fragment)
    assert not (data_dir / "master.key").exists()
    retry = invoke(data_dir, *_init_args([]))
    assert retry.status == 0, retry.stderr


@pytest.mark.parametrize(("extra", "fragment"), BAD_INIT)
def test_init_with_bad_input_writes_nothing(
    tmp_path: Path, extra: list[str], fragment: str
) -> None:
    data_dir = tmp_path / "org"
    result = invoke(data_dir, *_init_args(extra))
    _one_line_error(result, fragment)
    assert not data_dir.exists() or list(data_dir.iterdir()) == []


@pytest.mark.parametrize("url", ["http://pki.example.org/pki?q=1", "http://pki.example.org/pki#x"])
def test_init_refuses_a_pki_url_with_query_or_fragment(tmp_path: Path, url: str) -> None:
    result = invoke(tmp_path / "org", *_init_args(["--pki-url", url]))
    _one_line_error(result, url)
