"""Failed logins are counted once for the whole server (ADR 0027): guessing over IMAP
locks the account for POP3 and SMTP AUTH as well, a restart does not forget, and
``user unlock`` lifts the lock."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
from pathlib import Path

import pytest

from tests.e2e import mailserver
from tests.e2e.cli import init_org

PASSWORD = "correct horse battery staple"
PER_ACCOUNT = 5  # AuthThrottle's default


def test_guessing_over_imap_locks_pop3_and_smtp_auth_too(tmp_path: Path) -> None:
    org = init_org(tmp_path / "org", key_type="ecdsa-p256", pki_url="http://pki.example.org/pki")
    org.ok("user", "add", "bob@example.org", "--password-stdin", stdin=PASSWORD + "\n")
    ports = {name: mailserver.free_port() for name in ("submission", "imap", "pop3s")}
    with mailserver.running(org, ports, tmp_path) as server:
        for _ in range(PER_ACCOUNT):
            imap = imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=30)
            try:
                imap.starttls(ssl_context=server.tls_context())
                with pytest.raises(imaplib.IMAP4.error):
                    imap.login("bob@example.org", "a wrong guess")
            finally:
                imap.shutdown()
        _assert_locked(server, ports)
    with mailserver.running(org, ports, tmp_path) as server:
        _assert_locked(server, ports)  # counted in the store, not in a process
        shown = org.ok("--json", "user", "show", "bob@example.org").json()
        assert (shown["failed logins"], shown["locked"]) == (PER_ACCOUNT, True)
        locks = org.ok("--json", "user", "locks").json()
        assert locks == [
            {"address": "bob@example.org", "failed logins": PER_ACCOUNT, "locked": True}
        ]
        unlocked = org.ok("--json", "user", "unlock", "Bob@Example.org")
        assert unlocked.json()["cleared"] == PER_ACCOUNT, unlocked.stdout
        pop = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=server.tls_context(), timeout=30)
        try:
            pop.user("bob@example.org")
            assert pop.pass_(PASSWORD).startswith(b"+OK")
        finally:
            pop.quit()
        shown = org.ok("--json", "user", "show", "bob@example.org").json()
        assert (shown["failed logins"], shown["locked"]) == (0, False)
        assert org.ok("--json", "user", "locks").json() == []
    unknown = org.run("user", "unlock", "nobody@example.org")
    assert unknown.status == 1
    assert unknown.error_lines == ["postseal: error: no user nobody@example.org in the directory"]


def _assert_locked(server: mailserver.Server, ports: dict[str, int]) -> None:
    """The right password no longer opens POP3 or SMTP AUTH."""
    pop = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=server.tls_context(), timeout=30)
    try:
        pop.user("bob@example.org")
        with pytest.raises(poplib.error_proto, match=r"(?i)too many"):
            pop.pass_(PASSWORD)
    finally:
        pop.close()
    with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=30) as client:
        client.starttls(context=server.tls_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("bob@example.org", PASSWORD)
    assert refused.value.smtp_code == 454, refused.value
