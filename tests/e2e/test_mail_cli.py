"""The mail administration commands: policy show|explain, queue, quarantine; and the
antivirus policy with a real clamd (infected mail refused at DATA or quarantined)."""

from __future__ import annotations

import asyncio
import base64
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from postseal.config import load_settings
from postseal.errors import ContentRefusedError
from postseal.mailserver import build_mail_services
from postseal.runtime import open_services
from postseal.services.ports import Envelope, Listener
from tests.adapters.clamd import EICAR, Clamd, start_clamd
from tests.e2e import mailserver
from tests.e2e.cli import Org, init_org

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    with start_clamd(tmp_path_factory.mktemp("clamd")) as instance:
        yield instance


def _org(base: Path, toml: str = "") -> Org:
    org = init_org(base / "org")
    for user in ("alice", "bob"):
        org.ok("user", "add", f"{user}@example.org", "--password-stdin", stdin=PASSWORD + "\n")
    (org.data_dir / "postseal.toml").write_text(toml)
    return org


def _message(subject: str, *, attachment: bytes | None = None) -> bytes:
    head = (
        f"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if attachment is None:
        return (head + "Content-Type: text/plain\r\n\r\nhello\r\n").encode()
    encoded = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    return (
        head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        '--b1\r\nContent-Type: application/octet-stream; name="t.com"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + encoded + "--b1--\r\n"
    ).encode()


def _accept(org: Org, data: bytes, *, to: str = "bob@example.org") -> str:
    """Run a message through the real intake in this process (no listener, no runner)."""

    async def go() -> str:
        settings = load_settings(org.data_dir, environ={})
        async with open_services(settings, {}) as services:
            mail = build_mail_services(services, settings)
            envelope = Envelope(
                listener=Listener.SUBMISSION,
                client_address="127.0.0.1",
                helo="laptop",
                auth_user="alice@example.org",
                mail_from="alice@example.org",
                rcpt_tos=(to,),
                data=data,
                tls=True,
            )
            return await mail.intake.accept(envelope)

    return asyncio.run(go())


def test_policy_show_names_the_rule_behind_each_value(tmp_path: Path) -> None:
    org = _org(
        tmp_path, '[policy]\nsign = "always"\n[policy.user."bob@example.org"]\nencrypt = "never"\n'
    )
    rows = {r["key"]: r for r in org.json("policy", "show", "--user", "bob@example.org")}
    assert rows["sign"]["value"] == "always"
    assert rows["sign"]["rule"] == "postseal.toml: policy.sign"
    assert rows["encrypt"]["value"] == "never"
    assert rows["encrypt"]["rule"] == 'postseal.toml: policy.user."bob@example.org".encrypt'
    assert rows["verify"]["rule"] == "built-in default"


def test_policy_explain_dry_runs_and_changes_nothing(tmp_path: Path) -> None:
    org = _org(tmp_path, '[policy]\nrequire_encryption_domains = ["partner.example"]\n')
    message = tmp_path / "m.eml"
    message.write_bytes(_message("[secure] figures"))
    ok = org.run(
        "policy", "explain", str(message), "--from", "alice@example.org", "--to", "bob@example.org"
    )
    assert ok.status == 0, ok.stderr
    assert "encrypt: yes" in ok.stdout
    assert "[secure]" in ok.stdout or "subject" in ok.stdout
    refused = org.run(
        "policy",
        "explain",
        str(message),
        "--from",
        "alice@example.org",
        "--to",
        "carol@partner.example",
    )
    assert refused.status == 1
    assert "REFUSED" in refused.stdout
    assert "carol@partner.example" in refused.stdout
    assert org.json("queue", "list") == []


def test_queue_list_show_retry_delete(tmp_path: Path) -> None:
    org = _org(tmp_path, '[policy]\nencrypt = "never"\n')
    queue_id = _accept(org, _message("queued"))
    (row,) = org.json("queue", "list")
    assert row["id"] == queue_id
    assert row["status"] == "pending"
    shown = org.json("queue", "show", queue_id)
    assert shown["recipients"][0].startswith("bob@example.org: pending")
    assert org.json("queue", "retry", queue_id)["due"] == 1
    org.ok("queue", "delete", queue_id)
    assert org.json("queue", "list") == []
    missing = org.run("queue", "show", queue_id)
    assert missing.status == 1
    assert "no queued message" in missing.stderr


def test_infected_mail_is_refused_at_data(tmp_path: Path, clamd: Clamd) -> None:
    org = _org(tmp_path, f'[mail]\nclamd = "unix:{clamd.unix_path}"\n[policy]\nencrypt = "never"\n')
    with mailserver.running(org, {"submission": mailserver.free_port()}, tmp_path) as server:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            server.submit(
                "alice@example.org",
                PASSWORD,
                ["bob@example.org"],
                _message("virus", attachment=EICAR),
            )
        server.submit("alice@example.org", PASSWORD, ["bob@example.org"], _message("clean"))
        mailserver.wait_for(lambda: mailserver.inbox(org, "bob@example.org"), what="clean mail")
    assert refused.value.smtp_code == 554
    assert b"5.7.0" in refused.value.smtp_error
    (delivered,) = mailserver.inbox(org, "bob@example.org")
    assert b"Subject: clean" in delivered


def test_quarantine_holds_releases_and_deletes(tmp_path: Path, clamd: Clamd) -> None:
    org = _org(
        tmp_path,
        f'[mail]\nclamd = "unix:{clamd.unix_path}"\n[policy]\non_infected = "quarantine"\nencrypt = "never"\n',
    )
    held_one = _accept(org, _message("virus one", attachment=EICAR))
    held_two = _accept(org, _message("virus two", attachment=EICAR))
    assert org.json("queue", "list") == []
    entries = {e["id"]: e for e in org.json("quarantine", "list")}
    assert set(entries) == {held_one, held_two}
    assert "eicar" in entries[held_one]["reason"].lower()
    released = org.json("quarantine", "release", held_one)
    assert [r["id"] for r in org.json("queue", "list")] == [released["queue_id"]]
    org.ok("quarantine", "delete", held_two)
    assert org.json("quarantine", "list") == []
    assert len(org.json("quarantine", "list", "--all")) == 1


def test_intake_refuses_infected_mail_in_process(tmp_path: Path, clamd: Clamd) -> None:
    org = _org(tmp_path, f'[mail]\nclamd = "unix:{clamd.unix_path}"\n')
    with pytest.raises(ContentRefusedError):
        _accept(org, _message("virus", attachment=EICAR))
    assert org.json("queue", "list") == []
