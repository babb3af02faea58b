"""IMAP on a large mailbox, side by side with Dovecot on an identical Maildir.

One Maildir of N messages (a few KB each, a third of them multipart) is written once;
postseal imports it (``MailboxService.import_maildir``: sealed bodies and summaries in
a SQLite store) and a private Dovecot serves it as it is (Debian ``dovecot-imapd``,
needs root; see ``tests/imap_session/dovecot.py``). The same raw client then times on
each server, after a warm-up login:

- ``SELECT INBOX`` plus ``UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)``;
- 1,000 full-body fetches (``UID FETCH n BODY.PEEK[]``, one command each);
- ``SEARCH SUBJECT "needle"`` (a header key: postseal opens the summaries).

postseal is reached over TLS (imaps: it takes no password in clear), Dovecot in
plaintext, so postseal's times include TLS; the ratio is postseal / Dovecot.

    python bench/imap.py            # 10,000 messages
    python bench/imap.py --quick    # 1,000 messages, under a minute
    python bench/imap.py --profile  # cProfile postseal's server side, top 25
    python bench/imap.py --repeat 5 # each server's fastest of 5 rounds (a noisy machine)

Rounds after the first find Dovecot's index cache filled by the first (ENVELOPE and the
searched header are cached there), so their listing and SEARCH compare with a warm
Dovecot; the bodies are read afresh every round by both.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.imap_session import dovecot
from tests.imap_session.client import RawImap

from postseal.custody import MasterKey
from postseal.errors import AuthenticationError
from postseal.protocols.imap.listener import ImapLimits, ImapListener
from postseal.protocols.tls import server_context
from postseal.services.clock import system_clock
from postseal.services.mailboxes import MailboxService
from postseal.store.ports import NewUser, UserRecord
from postseal.store.sql import open_store

USER, PASSWORD = "alice@example.org", "alice-pw"


def _message(n: int) -> bytes:
    subject = "needle in a haystack" if n % 100 == 0 else f"report {n}"
    head = (
        f'From: "Sender {n % 37}" <sender{n % 37}@example.net>\r\nTo: alice@example.org\r\n'
        f"Cc: team{n % 5}@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <m{n}@example.net>\r\nDate: Mon, 02 Mar 2026 08:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
    )
    text = ("All work and no play makes a dull message. " * 40 + "\r\n") * 2
    if n % 3:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text).encode()
    return (
        head + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\n" + text + "\r\n--b\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n" * 20
        + "--b--\r\n"
    ).encode()


def _tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    client = ssl.create_default_context(cadata=pem.decode())
    return server_context(cert_chain=pem, key=key_pem), client


async def _time(step: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


async def _measure(client: RawImap, count: int, fetches: int, repeat: int) -> dict[str, float]:
    """Each operation's time: the fastest of ``repeat`` rounds on one connection."""
    await client.login(USER, PASSWORD)
    await client.command("SELECT INBOX")  # warm-up: caches, page cache, index
    await client.command("UNSELECT")
    # Client and postseal share this process: the setup's garbage (the import, the
    # Maildir) is collected now rather than in whichever timed step crosses a threshold.
    gc.collect()
    rounds: list[dict[str, float]] = []
    for _ in range(repeat):
        rounds.append(await _round(client, count, fetches))
        await client.command("UNSELECT")
    await client.command("LOGOUT")
    return {name: min(r[name] for r in rounds) for name in rounds[0]}


async def _round(client: RawImap, count: int, fetches: int) -> dict[str, float]:
    results: dict[str, float] = {}

    async def listing() -> None:
        await client.command("SELECT INBOX", wait=120)
        reply = await client.command(
            "UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)", wait=300
        )
        assert len(reply.untagged) >= count, reply.tagged

    async def bodies() -> None:
        step = max(1, count // fetches)
        for uid in range(1, count + 1, step)[:fetches]:
            reply = await client.command(f"UID FETCH {uid} BODY.PEEK[]")
            assert reply.status == "OK", reply.tagged
            assert reply.untagged, uid

    async def search() -> None:
        reply = await client.command('SEARCH SUBJECT "needle"', wait=300)
        assert len(reply.untagged[-1].split()) - 2 == count // 100, reply.untagged[-1][:80]

    results["SELECT + UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"] = await _time(
        listing
    )
    results[f"{fetches} x UID FETCH n BODY.PEEK[]"] = await _time(bodies)
    results['SEARCH SUBJECT "needle"'] = await _time(search)
    return results


async def _postseal(
    maildir: Path, work: Path, count: int, fetches: int, repeat: int, profile: bool
) -> dict[str, float]:
    store = await open_store(f"sqlite+aiosqlite:///{work}/store.db", migrate=True)
    try:
        service = MailboxService(store, MasterKey(os.urandom(32)), clock=system_clock)
        async with store.begin() as tx:
            user = await tx.users.add(NewUser(address=USER, display_name=USER, template="User"))
        await service.ensure_defaults(user)
        started = time.perf_counter()
        await service.import_maildir(user, maildir)
        print(f"postseal import of {count} messages: {time.perf_counter() - started:.1f} s")

        async def authenticate(name: str, password: str, client: str) -> UserRecord:
            if (name, password) != (USER, PASSWORD):
                raise AuthenticationError("authentication failed")
            return user

        server_tls, client_tls = _tls()
        listener = ImapListener(
            "imaps", mailboxes=service, authenticate=authenticate, host="127.0.0.1", port=0,
            hostname="localhost", tls=server_tls, limits=ImapLimits(),
        )  # fmt: skip
        await listener.start()
        profiler = cProfile.Profile() if profile else None
        try:
            client = await RawImap.connect(listener.port, tls=client_tls)
            if profiler:
                profiler.enable()
            results = await _measure(client, count, fetches, repeat)
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            await client.close()
        finally:
            await listener.stop()
        return results
    finally:
        await store.close()


async def _dovecot(
    messages: list[tuple[bytes, tuple[str, ...], datetime]], count: int, fetches: int, repeat: int
) -> dict[str, float] | None:
    if not dovecot.available():
        print("dovecot-imapd not installed or not root: postseal only")
        return None
    with dovecot.running(USER, PASSWORD) as server:
        dovecot.write_maildir(server.maildir, messages)  # the same files, owned by Dovecot
        client = await RawImap.connect(server.port)
        results = await _measure(client, count, fetches, repeat)
        await client.close()
        return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 messages")
    parser.add_argument("--profile", action="store_true", help="cProfile postseal's side")
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="report the fastest of N rounds"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat takes a whole number of rounds, 1 or more")
    count = 1000 if args.quick else 10_000
    fetches = 200 if args.quick else 1000
    work = Path(tempfile.mkdtemp(prefix="postseal-bench-imap-"))
    try:
        maildir = work / "Maildir"
        date = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        messages = [(_message(n), ("\\Seen",) if n % 2 else (), date) for n in range(count)]
        dovecot.write_maildir(maildir, messages)
        ours = await _postseal(maildir, work, count, fetches, args.repeat, args.profile)
        theirs = await _dovecot(messages, count, fetches, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rounds = f", fastest of {args.repeat} rounds" if args.repeat > 1 else ""
    print(f"\n{count} messages{rounds}\n")
    print("| operation | postseal (s) | Dovecot (s) | ratio |")
    print("|---|---|---|---|")
    for name, seconds in ours.items():
        peer = theirs.get(name) if theirs else None
        ratio = f"{seconds / peer:.2f}" if peer else "-"
        peer_text = f"{peer:.3f}" if peer is not None else "-"
        print(f"| {name} | {seconds:.3f} | {peer_text} | {ratio} |")


if __name__ == "__main__":
    asyncio.run(main())
