"""ADR 0024: ``mail.smtp_processes`` — SMTP worker processes sharing serve's listening
sockets, each with its own queue runner; restarted when they die, stopped with serve,
and never left behind when serve is killed."""

from __future__ import annotations

import os
import signal
import smtplib
import time
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from pathlib import Path

from tests.e2e import mailserver
from tests.e2e.cli import Org, init_org


def _org(base: Path, processes: int) -> Org:
    org = init_org(base / "org", key_type="ecdsa-p256", pki_url="http://pki.example.org/pki")
    org.ok("user", "add", "bob@example.org", "--password-stdin", stdin="bob password 123\n")
    (org.data_dir / "postseal.toml").write_text(f"[mail]\nsmtp_processes = {processes}\n")
    return org


def _serving(server: mailserver.Server, count: int) -> bool:
    return server.errors.read_text().count("SMTP worker") >= 2 * count and (
        server.errors.read_text().count(") serving ") >= count
    )


def _workers(serve_pid: int) -> list[int]:
    """The live child processes of serve (its SMTP workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == serve_pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:"):
            inodes.add(target)
    return inodes


def _send(port: int, n: int) -> None:
    message = (
        f"From: <sender@outside.example>\r\nTo: <bob@example.org>\r\nSubject: burst {n}\r\n"
        f"Message-ID: <burst.{n}@outside.example>\r\n\r\nmessage number {n}\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("sender@outside.example", ["bob@example.org"], message)


def _subjects(org: Org) -> list[str]:
    return [str(message_from_bytes(m)["Subject"]) for m in mailserver.inbox(org, "bob@example.org")]


def test_workers_share_the_sockets_and_deliver_every_message_once(tmp_path: Path) -> None:
    org = _org(tmp_path, processes=3)
    port = mailserver.free_port()
    with mailserver.running(org, {"smtp": port}, tmp_path) as server:
        mailserver.wait_for(lambda: _serving(server, 2), timeout=30, what="two SMTP workers")
        workers = _workers(server.process.pid)
        listening = _socket_inodes(server.process.pid)
        for pid in workers:
            assert _socket_inodes(pid) & listening, f"worker {pid} shares no socket with serve"

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: _send(port, n), range(40)))
        mailserver.wait_for(lambda: len(_subjects(org)) >= 40, what="40 messages in the INBOX")

        # With serve itself frozen, only the workers can accept and commit.
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            for n in range(40, 45):
                _send(port, n)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)

        mailserver.wait_for(lambda: len(_subjects(org)) >= 45, what="45 messages in the INBOX")
        time.sleep(1.0)  # a duplicate would show up by now
        assert sorted(_subjects(org)) == sorted(f"burst {n}" for n in range(45))
    assert _workers(server.process.pid) == []


def test_a_dead_worker_is_started_again_and_serve_stops_them_all(tmp_path: Path) -> None:
    org = _org(tmp_path, processes=2)
    port = mailserver.free_port()
    with mailserver.running(org, {"smtp": port}, tmp_path) as server:
        mailserver.wait_for(
            lambda: len(_workers(server.process.pid)) == 1, timeout=20, what="an SMTP worker"
        )
        (first,) = _workers(server.process.pid)
        os.kill(first, signal.SIGKILL)
        mailserver.wait_for(
            lambda: _workers(server.process.pid) not in ([], [first]),
            timeout=20,
            what="the worker started again",
        )
        _send(port, 1)
        mailserver.wait_for(lambda: _subjects(org) == ["burst 1"], what="the message delivered")
        workers = _workers(server.process.pid)
    # serve's SIGTERM (mailserver.running) stopped the workers before it exited
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    assert "exited with -9" in server.errors.read_text()


def test_workers_stop_by_themselves_when_serve_is_killed(tmp_path: Path) -> None:
    org = _org(tmp_path, processes=3)
    server = mailserver.start(org, {"smtp": mailserver.free_port()}, tmp_path)
    try:
        # killed while its workers start, as much as once they serve
        mailserver.wait_for(
            lambda: len(_workers(server.process.pid)) == 2, timeout=20, what="two SMTP workers"
        )
        workers = _workers(server.process.pid)
    finally:
        server.process.kill()
        server.process.wait(timeout=10)
    mailserver.wait_for(
        lambda: all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in workers),
        timeout=15,
        what="the orphaned workers to stop",
    )


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
