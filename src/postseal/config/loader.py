"""Loading settings: defaults < ``DATA_DIR/postseal.toml`` < ``POSTSEAL_*`` env < CLI flags.

Every key is declared once in :data:`KEYS`. An unknown key in the file, or an unknown
``POSTSEAL_*`` variable, is an error that names it and where it was found, so a typo never
silently leaves a setting at its default. The source of every effective value is
recorded for ``postseal config show``.

Environment names are ``POSTSEAL_`` + section + ``_`` + key, upper-case:
``store.database_url`` ↔ ``POSTSEAL_STORE_DATABASE_URL``. ``POSTSEAL_DATA_DIR`` and
``POSTSEAL_MASTER_KEY`` are not settings (they locate and unlock the data directory) and
``POSTSEAL_TEST_*`` belongs to the test suite.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postseal.config.settings import (
    ListenAddress,
    LogSettings,
    MailSettings,
    PkiSettings,
    QueueSettings,
    RelaySettings,
    Settings,
    StoreSettings,
)
from postseal.errors import ConfigError

__all__ = ["ENV_DATA_DIR", "ENV_MASTER_KEY", "KEYS", "load_settings", "parse_listen"]

ENV_DATA_DIR = "POSTSEAL_DATA_DIR"
ENV_MASTER_KEY = "POSTSEAL_MASTER_KEY"
_ENV_NOT_SETTINGS = {ENV_DATA_DIR, ENV_MASTER_KEY}
_ENV_FREE_PREFIXES = ("POSTSEAL_TEST_",)
CONFIG_FILE = "postseal.toml"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_MAX_FILE = 1 << 20


@dataclass(frozen=True, slots=True)
class _Key:
    default: Callable[[Path], Any]
    parse: Callable[[Any, str], Any]
    doc: str


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {
        "1",
        "true",
        "yes",
        "on",
        "0",
        "false",
        "no",
        "off",
    }:
        return value.lower() in {"1", "true", "yes", "on"}
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _integer(low: int, high: int) -> Callable[[Any, str], int]:
    def parse(value: Any, where: str) -> int:
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not low <= number <= high:
            raise ConfigError(
                f"{where}: expected a whole number from {low} to {high}, got {value!r}"
            )
        return number

    return parse


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or "://" not in value:
        raise ConfigError(f"{where}: expected a database URL such as sqlite+aiosqlite:///path")
    return value


def _level(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.upper() not in _LOG_LEVELS:
        raise ConfigError(f"{where}: expected one of {', '.join(_LOG_LEVELS)}, got {value!r}")
    return value.upper()


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > 1024:
        raise ConfigError(f"{where}: expected a string")
    return value


def _domains(value: Any, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}: expected a list of domains")
    return tuple(i.strip().lower() for i in items if i.strip())


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(i, str) and i for i in value):
        raise ConfigError(f"{where}: expected a list of names")
    return tuple(value)


def _dns_servers(value: Any, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}: expected a list of nameservers, IP or IP:PORT")
    servers = tuple(i.strip() for i in items if i.strip())
    for server in servers:
        host, port = server, ""
        if server.startswith("["):  # [2001:db8::53]:5353
            host, _, port = server[1:].partition("]")
            port = port.removeprefix(":")
        elif server.count(":") == 1:  # 192.0.2.53:5353
            host, _, port = server.partition(":")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(
                f"{where}: {server!r} is not an IP address (nameservers are given by address)"
            ) from None
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"{where}: {server!r} has no valid port")
    return servers


def _clamd(value: Any, where: str) -> str:
    text = _string(value, where)
    if text and not text.startswith(("unix:", "tcp:")):
        raise ConfigError(
            f"{where}: expected unix:/path/to/clamd.sock or tcp:HOST:PORT, got {text!r}"
        )
    return text


def _host_port(value: Any, where: str) -> str:
    text = _string(value, where)
    host, colon, port = text.rpartition(":")
    if text and (not colon or not host or not port.isdigit() or not 0 < int(port) < 65536):
        raise ConfigError(f"{where}: expected HOST:PORT, got {text!r}")
    return text


def _policy(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table")
    return value


def _listen_table(value: Any, where: str) -> tuple[ListenAddress, ...]:
    if isinstance(value, str):
        return parse_listen(value.split(","), where)
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where}: expected a table of NAME = "HOST:PORT"')
    return parse_listen([f"{name}={addr}" for name, addr in value.items()], where)


KEYS: dict[str, _Key] = {
    "store.database_url": _Key(
        lambda data_dir: f"sqlite+aiosqlite:///{data_dir / 'postseal.db'}",
        _url,
        "SQLAlchemy URL: sqlite+aiosqlite:///PATH (default, in the data dir) or "
        "postgresql+asyncpg://USER@HOST/DB",
    ),
    "pki.revocation_fail_open": _Key(
        lambda _: False, _boolean, "accept certificates whose revocation status is unknown"
    ),
    "pki.crl_validity_days": _Key(
        lambda _: 7, _integer(1, 10), "nextUpdate of issued CRLs, in days (CA/B Forum: at most 10)"
    ),
    "pki.crl_refresh_hours": _Key(
        lambda _: 24, _integer(1, 168), "how often `serve` re-issues the CRLs"
    ),
    "pki.enroll_interval_minutes": _Key(
        lambda _: 60, _integer(1, 10080), "how often `serve` runs auto-enrollment"
    ),
    "log.level": _Key(lambda _: "INFO", _level, "DEBUG, INFO, WARNING or ERROR"),
    "mail.local_domains": _Key(
        lambda _: (), _domains, "domains delivered here (default: the organisation's)"
    ),
    "mail.max_message_bytes": _Key(
        lambda _: 25 << 20, _integer(1024, 1 << 30), "largest message accepted"
    ),
    "mail.max_recipients": _Key(lambda _: 100, _integer(1, 10000), "recipients per message"),
    "mail.clamd": _Key(
        lambda _: "", _clamd, "clamd socket: unix:/path or tcp:HOST:PORT; empty: no scanning"
    ),
    "mail.agents": _Key(
        lambda _: ("disclaimer", "subject-tag"),
        _names,
        "transport agents in run order: built-in names, entry points or pkg.module:factory",
    ),
    "mail.agent_options": _Key(lambda _: {}, _policy, "per-agent options, a table per agent name"),
    "mail.smtp_processes": _Key(
        lambda _: 1,
        _integer(1, 32),
        "processes accepting SMTP: serve's own, plus workers sharing its listening sockets",
    ),
    "relay.smart_host": _Key(
        lambda _: "", _host_port, "HOST:PORT of the smart host for remote mail"
    ),
    "relay.require_tls": _Key(
        lambda _: True, _boolean, "refuse to relay without STARTTLS and a valid certificate"
    ),
    "relay.ca_file": _Key(lambda _: "", _string, "PEM bundle of CAs to verify the smart host"),
    "relay.direct": _Key(
        lambda _: False, _boolean, "without a smart host, deliver to the recipients' MX hosts"
    ),
    "relay.dns_servers": _Key(
        lambda _: (), _dns_servers, "nameservers for MX lookups, HOST or HOST:PORT; [] = system"
    ),
    "relay.mx_port": _Key(lambda _: 25, _integer(1, 65535), "port of MX hosts (25 but in a lab)"),
    "queue.retry_initial_seconds": _Key(
        lambda _: 60, _integer(1, 86400), "first retry delay; doubles"
    ),
    "queue.retry_max_seconds": _Key(lambda _: 14400, _integer(1, 86400), "longest retry delay"),
    "queue.expire_hours": _Key(lambda _: 120, _integer(1, 720), "give up and send a DSN after"),
    "queue.lease_seconds": _Key(lambda _: 300, _integer(5, 3600), "a runner's hold on a recipient"),
    "queue.node_id": _Key(
        lambda _: "",
        _string,
        "this node's name for queue leases (unique per node; default: host name)",
    ),
    "policy": _Key(lambda _: {}, _policy, "the policy rules table (see docs/policy.md)"),
    "listen": _Key(
        lambda _: (
            ListenAddress("http", "0.0.0.0", 80),  # noqa: S104 - a server listens on all addresses
            ListenAddress("smtp", "0.0.0.0", 25),  # noqa: S104
            ListenAddress("submission", "0.0.0.0", 587),  # noqa: S104
            ListenAddress("submissions", "0.0.0.0", 465),  # noqa: S104
            ListenAddress("imap", "0.0.0.0", 143),  # noqa: S104
            ListenAddress("imaps", "0.0.0.0", 993),  # noqa: S104
            ListenAddress("pop3", "0.0.0.0", 110),  # noqa: S104
            ListenAddress("pop3s", "0.0.0.0", 995),  # noqa: S104
        ),
        _listen_table,
        'listeners, NAME = "HOST:PORT": http (CRLs, CA certificates), smtp (MX), '
        "submission (587, STARTTLS), submissions (465, implicit TLS), imap (143, STARTTLS), "
        "imaps (993), pop3 (110, STLS), pop3s (995)",
    ),
}

_LISTENER_NAMES = ("http", "smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s")


def parse_listen(items: Sequence[str], where: str) -> tuple[ListenAddress, ...]:
    """Parse ``NAME=HOST:PORT`` items (IPv6 hosts in brackets); one entry per name."""
    result: dict[str, ListenAddress] = {}
    for item in items:
        name, sep, addr = item.strip().partition("=")
        host, colon, port_text = addr.rpartition(":")
        if not sep or not colon or not host or not port_text.isdigit():
            raise ConfigError(f"{where}: {item!r} is not NAME=HOST:PORT (e.g. http=127.0.0.1:8080)")
        if name not in _LISTENER_NAMES:
            raise ConfigError(
                f"{where}: unknown listener {name!r}; known: {', '.join(_LISTENER_NAMES)}"
            )
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ConfigError(f"{where}: port {port} is out of range 0-65535")
        result[name] = ListenAddress(name, host.strip("[]"), port)
    return tuple(result.values())


def _env_name(key: str) -> str:
    return "POSTSEAL_" + key.replace(".", "_").upper()


def _flatten(table: Mapping[str, Any], path: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, value in table.items():
        if section in ("listen", "policy"):
            flat[section] = value
            continue
        if section == "mail" and isinstance(value, Mapping) and "agent_options" in value:
            flat["mail.agent_options"] = value["agent_options"]
            value = {k: v for k, v in value.items() if k != "agent_options"}
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{path}: unknown key {section!r} (settings live in sections such as [store])"
            )
        for key, item in value.items():
            flat[f"{section}.{key}"] = item
    for key in flat:
        if key not in KEYS:
            raise ConfigError(
                f"{path}: unknown key {key!r}",
                hint=f"known keys: {', '.join(sorted(KEYS))}",
            )
    return flat


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    if path.stat().st_size > _MAX_FILE:
        raise ConfigError(f"{path}: larger than 1 MiB; this is not a postseal.toml")
    try:
        return _flatten(tomllib.loads(path.read_text("utf-8")), path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_settings(
    data_dir: Path,
    *,
    environ: Mapping[str, str],
    overrides: Mapping[str, tuple[Any, str]] | None = None,
) -> Settings:
    """Resolve every key; ``overrides`` maps a dotted key to (value, flag name)."""
    path = data_dir / CONFIG_FILE
    from_file = _read_file(path)
    known_env = {_env_name(key): key for key in KEYS}
    for name in environ:
        if (
            name.startswith("POSTSEAL_")
            and name not in known_env
            and name not in _ENV_NOT_SETTINGS
            and not name.startswith(_ENV_FREE_PREFIXES)
        ):
            raise ConfigError(
                f"unknown environment variable {name}",
                hint=f"known: {', '.join(sorted([*known_env, *_ENV_NOT_SETTINGS]))}",
            )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, spec in KEYS.items():
        env = _env_name(key)
        if overrides and key in overrides:
            raw, flag = overrides[key]
            values[key], sources[key] = spec.parse(raw, f"option {flag}"), f"option {flag}"
        elif env in environ:
            values[key], sources[key] = spec.parse(environ[env], env), f"env {env}"
        elif key in from_file:
            values[key] = spec.parse(from_file[key], f"{path}: {key}")
            sources[key] = f"file {path}"
        else:
            values[key], sources[key] = spec.default(data_dir), "default"
    if values["relay.direct"] and values["relay.smart_host"]:
        raise ConfigError(
            "relay.direct and relay.smart_host are both set: remote mail goes one way",
            hint="remove relay.smart_host to deliver to MX hosts, or relay.direct to use it",
        )
    return Settings(
        data_dir=data_dir,
        store=StoreSettings(database_url=values["store.database_url"]),
        pki=PkiSettings(
            revocation_fail_open=values["pki.revocation_fail_open"],
            crl_validity_days=values["pki.crl_validity_days"],
            crl_refresh_hours=values["pki.crl_refresh_hours"],
            enroll_interval_minutes=values["pki.enroll_interval_minutes"],
        ),
        log=LogSettings(level=values["log.level"]),
        listen=values["listen"],
        mail=MailSettings(
            local_domains=values["mail.local_domains"],
            max_message_bytes=values["mail.max_message_bytes"],
            max_recipients=values["mail.max_recipients"],
            clamd=values["mail.clamd"],
            agents=values["mail.agents"],
            agent_options=values["mail.agent_options"],
            smtp_processes=values["mail.smtp_processes"],
        ),
        relay=RelaySettings(
            smart_host=values["relay.smart_host"],
            require_tls=values["relay.require_tls"],
            ca_file=values["relay.ca_file"],
            direct=values["relay.direct"],
            dns_servers=values["relay.dns_servers"],
            mx_port=values["relay.mx_port"],
        ),
        queue=QueueSettings(
            retry_initial_seconds=values["queue.retry_initial_seconds"],
            retry_max_seconds=values["queue.retry_max_seconds"],
            expire_hours=values["queue.expire_hours"],
            lease_seconds=values["queue.lease_seconds"],
            node_id=values["queue.node_id"],
        ),
        policy=values["policy"],
        sources=sources,
    )


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(key, effective value, source) for every key, for ``postseal config show``."""
    rows = []
    for key in KEYS:
        if key == "listen":
            value = ", ".join(str(item) for item in settings.listen)
        elif key == "policy":
            value = f"{len(settings.policy)} entries" if settings.policy else "(defaults)"
        else:
            section, _, name = key.partition(".")
            raw = getattr(getattr(settings, section), name)
            if isinstance(raw, bool):
                value = str(raw).lower()
            elif isinstance(raw, tuple):
                value = ", ".join(raw) or "-"
            elif isinstance(raw, Mapping):
                value = f"{len(raw)} entries" if raw else "-"
            else:
                value = str(raw) if raw != "" else "-"
        if key == "store.database_url":
            value = _redact_url(value)
        rows.append((key, value, settings.sources.get(key, "default")))
    return rows


def _redact_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}"
    return url
