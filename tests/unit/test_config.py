"""Settings: defaults < postseal.toml < POSTSEAL_* < options, with sources recorded."""

from pathlib import Path

import pytest

from postseal.config import load_settings
from postseal.config.loader import describe
from postseal.errors import ConfigError


def test_defaults_name_their_source(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.store.database_url == f"sqlite+aiosqlite:///{tmp_path / 'postseal.db'}"
    assert settings.pki.crl_validity_days == 7
    assert {source for _, _, source in describe(settings)} == {"default"}


def test_file_then_env_then_option(tmp_path: Path) -> None:
    (tmp_path / "postseal.toml").write_text(
        '[pki]\ncrl_validity_days = 5\nrevocation_fail_open = true\n[listen]\nhttp = "127.0.0.1:9000"\n'
    )
    settings = load_settings(
        tmp_path,
        environ={"POSTSEAL_PKI_CRL_VALIDITY_DAYS": "3"},
        overrides={"log.level": ("debug", "--log-level")},
    )
    assert settings.pki.crl_validity_days == 3
    assert settings.pki.revocation_fail_open is True
    assert settings.log.level == "DEBUG"
    assert [str(a) for a in settings.listen] == ["http=127.0.0.1:9000"]
    assert settings.sources["pki.crl_validity_days"] == "env POSTSEAL_PKI_CRL_VALIDITY_DAYS"
    assert settings.sources["pki.revocation_fail_open"] == f"file {tmp_path / 'postseal.toml'}"
    assert settings.sources["log.level"] == "option --log-level"


def test_unknown_file_key_names_key_and_file(tmp_path: Path) -> None:
    (tmp_path / "postseal.toml").write_text("[pki]\ncrl_valdity_days = 5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={})
    assert "pki.crl_valdity_days" in str(caught.value)
    assert str(tmp_path / "postseal.toml") in str(caught.value)


def test_unknown_environment_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="POSTSEAL_STORE_DATABASE_ULR"):
        load_settings(tmp_path, environ={"POSTSEAL_STORE_DATABASE_ULR": "x"})


def test_data_dir_master_key_and_test_variables_are_not_settings(tmp_path: Path) -> None:
    load_settings(
        tmp_path,
        environ={"POSTSEAL_DATA_DIR": "x", "POSTSEAL_MASTER_KEY": "y", "POSTSEAL_TEST_FOO": "z"},
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[pki]\ncrl_validity_days = 11\n", "from 1 to 10"),
        ("[pki]\ncrl_validity_days = true\n", "whole number"),
        ("[pki]\nrevocation_fail_open = 'maybe'\n", "true or false"),
        ("[log]\nlevel = 'LOUD'\n", "DEBUG, INFO"),
        ("[listen]\nldap = '127.0.0.1:389'\n", "unknown listener"),
        ("[listen]\nhttp = '127.0.0.1'\n", "NAME=HOST:PORT"),
        ("[listen]\nhttp = '127.0.0.1:70000'\n", "out of range"),
        ("store = 1\n", "unknown key 'store'"),
        ("[pki\n", "not valid TOML"),
    ],
)
def test_bad_values_are_specific(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / "postseal.toml").write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={})
    assert fragment in str(caught.value)


def test_database_password_is_redacted_in_show(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path,
        environ={"POSTSEAL_STORE_DATABASE_URL": "postgresql+asyncpg://app:s3cret@db/postseal"},
    )
    shown = {k: v for k, v, _ in describe(settings)}
    assert "s3cret" not in shown["store.database_url"]
    assert shown["store.database_url"] == "postgresql+asyncpg://app:***@db/postseal"


def test_ipv6_listen_address(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"POSTSEAL_LISTEN": "http=[::1]:8080"})
    assert settings.listen[0].host == "::1"
    assert str(settings.listen[0]) == "http=[::1]:8080"


def test_transport_agents_and_their_options(tmp_path: Path) -> None:
    (tmp_path / "postseal.toml").write_text(
        '[mail]\nagents = ["subject-tag"]\n[mail.agent_options."subject-tag"]\nenabled = true\n'
    )
    settings = load_settings(tmp_path, environ={})
    assert settings.mail.agents == ("subject-tag",)
    assert settings.mail.agent_options == {"subject-tag": {"enabled": True}}
    (tmp_path / "postseal.toml").write_text("[mail]\nagents = [1]\n")
    with pytest.raises(ConfigError, match=r"mail\.agents"):
        load_settings(tmp_path, environ={})


def test_direct_delivery_settings(tmp_path: Path) -> None:
    (tmp_path / "postseal.toml").write_text(
        '[relay]\ndirect = true\ndns_servers = ["127.0.0.1:5353", "[::1]:53", "192.0.2.53"]\n'
        "mx_port = 2525\n"
    )
    relay = load_settings(tmp_path, environ={}).relay
    assert relay.direct is True
    assert relay.dns_servers == ("127.0.0.1:5353", "[::1]:53", "192.0.2.53")
    assert relay.mx_port == 2525


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('[relay]\ndirect = true\nsmart_host = "smtp.example.net:25"\n', "both set"),
        ('[relay]\ndns_servers = ["ns1.example.net"]\n', "is not an IP address"),
        ('[relay]\ndns_servers = ["127.0.0.1:99999"]\n', "has no valid port"),
        ("[relay]\nmx_port = 0\n", "relay.mx_port"),
    ],
)
def test_bad_direct_delivery_settings(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / "postseal.toml").write_text(content)
    with pytest.raises(ConfigError, match=fragment):
        load_settings(tmp_path, environ={})
