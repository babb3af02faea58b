"""``kill -9`` in the middle of a burst from several concurrent sessions, when the
intake's group commits hold several messages each and the runner delivers in batches
(ADR 0016): after a restart every acknowledged message is in the INBOX exactly once."""

from __future__ import annotations

import signal
import smtplib
import threading
from email import message_from_bytes
from pathlib import Path

from tests.e2e import mailserver
from tests.e2e.cli import init_org

SESSIONS = 6


def _message(subject: str) -> bytes:
    return (
        f"From: <sender@outside.example>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + f"burst line of {subject}\r\n"
        * 40
    ).encode()


def test_kill_9_mid_concurrent_burst_loses_nothing_and_delivers_once(tmp_path: Path) -> None:
    org = init_org(tmp_path / "org", pki_url="http://pki.example.org/pki")
    org.ok("user", "add", "bob@example.org", "--password-stdin", stdin="a password of bob\n")
    ports = {"smtp": mailserver.free_port()}
    server = mailserver.start(org, ports, tmp_path)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def burst(session: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30) as client:
                for n in range(150):
                    if stop.is_set():
                        return
                    subject = f"s{session}-{n:03d}"
                    client.sendmail(
                        "sender@outside.example", ["bob@example.org"], _message(subject)
                    )
                    with lock:
                        acknowledged.append(subject)
        except (smtplib.SMTPException, OSError):
            return  # the server died under us: what was acknowledged is what counts

    senders = [threading.Thread(target=burst, args=(s,)) for s in range(SESSIONS)]
    for sender in senders:
        sender.start()
    mailserver.wait_for(lambda: len(acknowledged) >= 60, what="60 acknowledged messages")
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    stop.set()
    for sender in senders:
        sender.join(timeout=30)
    with lock:
        expected = set(acknowledged)

    with mailserver.running(org, ports, tmp_path):

        def all_there() -> bool:
            return expected <= set(_subjects(mailserver.inbox(org, "bob@example.org")))

        mailserver.wait_for(all_there, timeout=60, what="every acknowledged message")
    subjects = _subjects(mailserver.inbox(org, "bob@example.org"))
    assert len(subjects) == len(set(subjects)), "a message was delivered twice"
    assert expected <= set(subjects)


def _subjects(messages: list[bytes]) -> list[str]:
    return [str(message_from_bytes(m)["Subject"]) for m in messages]
