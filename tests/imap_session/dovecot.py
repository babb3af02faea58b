"""A private Dovecot (Debian ``dovecot-imapd``) for differential tests and the benchmark:
127.0.0.1 on a free port, ``ssl = no``, one passwd-file user, a Maildir per user
(INTEROP.md). Started and stopped by the caller; nothing system-wide is touched."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
_FLAG_LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}


def available() -> bool:
    return Path(DOVECOT).exists() and os.geteuid() == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    port: int
    maildir: Path  # the user's Maildir (INBOX)


def write_maildir(maildir: Path, messages: list[tuple[bytes, tuple[str, ...], datetime]]) -> None:
    """Messages into ``maildir/cur`` in order, flags in the ``:2,`` info, mtime the
    internal date (what Dovecot reads as INTERNALDATE)."""
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for n, (data, flags, when) in enumerate(messages):
        letters = "".join(sorted(_FLAG_LETTERS[f] for f in flags if f in _FLAG_LETTERS))
        path = maildir / "cur" / f"{1_700_000_000 + n}.M{n}P1.bench,S={len(data)}:2,{letters}"
        path.write_bytes(data)
        stamp = when.timestamp()
        os.utime(path, (stamp, stamp))
    for name in ("Sent", "Drafts", "Trash", "Junk"):
        for sub in ("cur", "new", "tmp"):
            (maildir / f".{name}" / sub).mkdir(parents=True, exist_ok=True)
    shutil.chown(maildir, "dovecot", "dovecot")
    subprocess.run(["chown", "-R", "dovecot:dovecot", str(maildir)], check=True)


@contextmanager
def running(user: str, password: str) -> Iterator[Dovecot]:
    """Dovecot serving ``user`` from a fresh directory (under /tmp, so that Dovecot's
    unprivileged processes can reach it; removed afterwards); fill the Maildir before
    the first login with :func:`write_maildir`."""
    base = Path(tempfile.mkdtemp(prefix="postseal-dovecot-"))
    os.chmod(base, 0o755)  # noqa: S103 - Dovecot's unprivileged processes must enter it
    port = free_port()
    run_dir = base / "run"
    run_dir.mkdir(exist_ok=True)
    maildir = base / "mail" / user
    maildir.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["chown", "dovecot:dovecot", str(maildir.parent)], check=True)
    (base / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    (base / "dovecot.conf").write_text(
        f"""
base_dir = {run_dir}
state_dir = {run_dir}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:{base}/mail/%u
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
log_path = {base}/dovecot.log
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={base}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""
    )
    subprocess.run([DOVECOT, "-c", str(base / "dovecot.conf")], check=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield Dovecot(port, maildir)
    finally:
        pid = run_dir / "master.pid"
        if pid.exists():
            os.kill(int(pid.read_text().strip()), 15)
            time.sleep(0.3)
        shutil.rmtree(base, ignore_errors=True)
