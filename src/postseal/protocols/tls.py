"""Server TLS and listening sockets for every listener: SMTP (RFC 3207 STARTTLS, RFC 8314
implicit TLS), IMAP (RFC 3501 §6.2.1, RFC 8314), POP3 (RFC 2595) and HTTP.

TLS 1.2 is the minimum (RFC 8996 deprecates 1.0/1.1); compression is off (CRIME); the
cipher list is OpenSSL's default for that minimum, which has forward secrecy first. No
client certificate is asked for: clients authenticate with a password (SASL).

``ssl`` loads keys from files only. A key given as PEM bytes (postseal's own certificate,
unsealed from the store) is re-encrypted under a random one-time passphrase before it
touches the temporary file, so nothing usable is ever written to disk.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from postseal.errors import CertificateFormatError, ConfigError

__all__ = [
    "bind_listening_socket",
    "check_server_context",
    "server_context",
    "start_line_server",
]


def server_context(*, cert_chain: bytes | Path, key: bytes | Path) -> ssl.SSLContext:
    """A server context from a PEM certificate chain (leaf first) and its PEM private key.

    Each of ``cert_chain`` and ``key`` is either the PEM bytes or a path to a PEM file.
    Raises :class:`~postseal.errors.CertificateFormatError` when they cannot be loaded or
    do not match.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= ssl.OP_NO_RENEGOTIATION
    with tempfile.TemporaryDirectory(prefix="postseal-tls-") as scratch:
        cert_path = _as_file(cert_chain, Path(scratch, "chain.pem"))
        passphrase: bytes | None = None
        if isinstance(key, bytes):
            passphrase = secrets.token_bytes(32)
            key = _write_private(_reencrypted(key, passphrase), Path(scratch, "key.pem"))
        try:
            context.load_cert_chain(cert_path, key, password=passphrase)
        except (ssl.SSLError, OSError) as exc:
            raise CertificateFormatError(
                f"cannot load the SMTP TLS certificate and key: {exc.strerror or exc}",
                hint="give a PEM certificate chain (leaf first) and its matching PEM key",
            ) from None
    return context


def check_server_context(context: ssl.SSLContext, *, protocol: str) -> None:
    """Refuse a context that would allow TLS below 1.2 (RFC 8996) or that is not a server
    context; ``protocol`` names the listener in the message."""
    if context.protocol != ssl.PROTOCOL_TLS_SERVER:
        raise ConfigError(
            f"the {protocol} TLS context must be a server context (PROTOCOL_TLS_SERVER)"
        )
    if context.minimum_version < ssl.TLSVersion.TLSv1_2:
        raise ConfigError(
            f"the {protocol} TLS context allows {context.minimum_version.name}",
            hint="build it with postseal.protocols.tls.server_context (TLS 1.2 minimum)",
        )


def bind_listening_socket(name: str, host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket for the listener ``name``; binding here rather than
    inside asyncio turns "address in use" into a ConfigError naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen for {name} on {host}:{port}: {exc.strerror}",
            hint=f"choose another address with --listen {name}=HOST:PORT",
        ) from None


async def start_line_server(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    *,
    name: str,
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    handshake_timeout: float,
    line_limit: int,
) -> asyncio.Server:
    """A stream server for a line protocol (IMAP, POP3) on a freshly bound socket: with
    ``tls`` the TLS handshake comes first (implicit TLS, RFC 8314 §3.3), bounded by
    ``handshake_timeout``; lines are bounded by ``line_limit``. The socket is closed when
    the server cannot start, so a failed start leaves no port held."""
    sock = bind_listening_socket(name, host, port)
    try:
        return await asyncio.start_server(
            serve,
            sock=sock,
            ssl=tls,
            ssl_handshake_timeout=handshake_timeout if tls is not None else None,
            limit=line_limit,
        )
    except BaseException:
        sock.close()
        raise


def _as_file(value: bytes | Path, scratch: Path) -> Path:
    if isinstance(value, Path):
        return value
    scratch.write_bytes(value)
    return scratch


def _reencrypted(key_pem: bytes, passphrase: bytes) -> bytes:
    try:
        private_key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise CertificateFormatError(
            "the SMTP TLS private key is not an unencrypted PEM private key"
        ) from None
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def _write_private(data: bytes, path: Path) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path
