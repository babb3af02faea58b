"""A policy change in the database reaches a running ``postseal serve`` without a restart
(ADR 0019): ``policy set --user alice sign=always`` makes her next message signed, and
``policy unset`` makes the one after that plain again."""

from __future__ import annotations

import time
from pathlib import Path

from postseal.runtime import POLICY_POLL_SECONDS
from tests.e2e import mailserver
from tests.e2e.cli import init_org

PASSWORD = "correct horse battery staple"
ALICE = "alice@example.org"
BOB = "bob@example.org"


def _message(subject: str) -> bytes:
    return (
        f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"This is {subject}.\r\n"
    ).encode()


def _content_type(message: bytes) -> str:
    head = message.split(b"\r\n\r\n", 1)[0].decode()
    unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
    for line in unfolded.split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "content-type":
            return value.strip().lower()
    return ""


def _wait_for_version(server: mailserver.Server, version: int) -> float:
    """Seconds until the server logs that ``version`` is in force."""
    started = time.monotonic()
    mailserver.wait_for(
        lambda: f"policy version {version} in force" in server.errors.read_text(),
        timeout=POLICY_POLL_SECONDS + 10,
        what=f"the server to apply policy version {version}",
    )
    return time.monotonic() - started


def test_a_database_rule_applies_to_the_next_message_without_a_restart(tmp_path: Path) -> None:
    org = init_org(tmp_path / "org")
    for user in (ALICE, BOB):
        org.ok("user", "add", user, "--password-stdin", stdin=PASSWORD + "\n")
    # No encryption, so the only thing that changes between the messages is the signature.
    (org.data_dir / "postseal.toml").write_text('[policy]\nencrypt = "never"\n')
    with mailserver.running(org, {"submission": mailserver.free_port()}, tmp_path) as server:
        pid = server.process.pid

        def delivered(count: int) -> list[bytes]:
            mailserver.wait_for(
                lambda: len(mailserver.inbox(org, BOB)) >= count, what=f"message {count}"
            )
            return mailserver.inbox(org, BOB)

        server.submit(ALICE, PASSWORD, [BOB], _message("before"))
        assert _content_type(delivered(1)[0]).startswith("text/plain")

        org.ok("policy", "set", "--user", ALICE, "sign=always")
        applied = _wait_for_version(server, 1)
        server.submit(ALICE, PASSWORD, [BOB], _message("signed"))
        signed = delivered(2)[1]
        assert _content_type(signed).startswith("multipart/signed"), signed[:400]
        assert b"This is signed." in signed
        assert b'protocol="application/pkcs7-signature"' in signed

        org.ok("policy", "unset", "--user", ALICE, "sign")
        _wait_for_version(server, 2)
        server.submit(ALICE, PASSWORD, [BOB], _message("after"))
        assert _content_type(delivered(3)[2]).startswith("text/plain")
        assert server.process.pid == pid and server.process.poll() is None
    assert applied < POLICY_POLL_SECONDS + 2, applied
