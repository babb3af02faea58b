"""Differential test against Dovecot's POP3 (Debian dovecot-pop3d): the same mailbox,
exported with ``export_maildir`` into Dovecot's Maildir, must list, identify and
retrieve the same way — Dovecot is the judge."""

from __future__ import annotations

import asyncio
import os
import poplib
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from postseal.services.mailboxes import MailboxService
from postseal.store.ports import UserRecord
from tests.peers import require_tool
from tests.smtp.conftest import SmtpPki

from .conftest import PASSWORD, StartPop3
from .test_sessions import MESSAGES

pytestmark = pytest.mark.interop

SIGNED_LIKE = (
    b"From: alice@example.org\r\nSubject: signed\r\nContent-Type: multipart/signed; "
    b'boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ntrailing space \r\n'
    b".\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAEC\r\n--b--\r\n"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(base: Path, port: int, owner: pwd.struct_passwd) -> str:
    return f"""
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
listen = 127.0.0.1
protocols = pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_location = maildir:{base}/mail/%u
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={base}/home/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture
def dovecot_base() -> Iterator[Path]:
    """A world-traversable directory (Dovecot's unprivileged processes must reach it)."""
    base = Path(tempfile.mkdtemp(prefix="postseal-dovecot-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _start(base: Path, port: int) -> Path:
    dovecot = require_tool("dovecot", package="dovecot-pop3d")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("nobody")
        for path in [base / "mail", *(base / "mail").rglob("*")]:
            os.chown(path, owner.pw_uid, owner.pw_gid)
    else:
        owner = pwd.getpwuid(os.geteuid())
    (base / "passwd").write_text(f"bob@example.org:{{PLAIN}}{PASSWORD}\n")
    (base / "passwd").chmod(0o644)
    config = base / "dovecot.conf"
    config.write_text(_config(base, port, owner))
    # dovecot daemonises; its children keep inherited pipes open, so no capture here
    subprocess.run(
        [dovecot, "-c", str(config)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return base / "run" / "master.pid"
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"dovecot did not listen: {(base / 'dovecot.log').read_text()}")


def _session(port: int, *, tls: SmtpPki | None) -> dict[str, object]:
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    if tls is not None:
        client.stls(tls.client_context())
    client.user("bob@example.org")
    client.pass_(PASSWORD)
    count, size = client.stat()
    seen: dict[str, object] = {"stat": (count, size), "list": client.list()[1]}
    seen["uidl count"] = len(client.uidl()[1])
    seen["retr"] = [client.retr(n)[1] for n in range(1, count + 1)]
    seen["top"] = [client.top(n, 1)[1] for n in range(1, count + 1)]
    client.quit()
    return seen


async def test_postseal_and_dovecot_serve_the_same_maildrop(
    start_pop3: StartPop3,
    pki: SmtpPki,
    service: MailboxService,
    bob: UserRecord,
    dovecot_base: Path,
) -> None:
    for data in [*MESSAGES, SIGNED_LIKE]:
        await service.append(bob, "INBOX", data)
    await service.export_maildir(bob, dovecot_base / "mail" / "bob@example.org")
    port = _free_port()
    pid_file = await asyncio.to_thread(_start, dovecot_base, port)
    try:
        theirs = await asyncio.to_thread(_session, port, tls=None)
    finally:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 15)
    listener = await start_pop3("pop3")
    ours = await asyncio.to_thread(_session, listener.port, tls=pki)
    assert ours == theirs
