"""``postseal mailbox list|show|stats`` and ``postseal mail import|export`` through the
real command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from postseal.cli import cmd_mail, cmd_mailbox
from postseal.cli import main as cli_main
from tests.e2e.cli import Org, init_org

from .test_transfer import MBOX


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until ``cli/main.py`` lists cmd_mailbox, register it beside cmd_mail."""
    if cmd_mailbox in vars(cli_main).values():
        return
    original: Callable[[object], None] = cmd_mail.register

    def both(groups: object) -> None:
        original(groups)
        cmd_mailbox.register(groups)

    monkeypatch.setattr(cmd_mail, "register", both)


@pytest.fixture
def org(tmp_path: Path) -> Org:
    org = init_org(tmp_path / "org")
    org.ok("user", "add", "bob@example.org", "--password-stdin", stdin="pw pw pw pw\n")
    org.ok("user", "add", "carol@example.org", "--password-stdin", stdin="pw pw pw pw\n")
    return org


def test_import_list_show_stats_export(org: Org, tmp_path: Path) -> None:
    source = tmp_path / "in.mbox"
    source.write_bytes(MBOX)
    assert org.json("mail", "import", "bob@example.org", str(source))["imported"] == 2
    assert (
        "imported 2 message(s)"
        in org.ok("mail", "import", "bob@example.org", str(source), "--mailbox", "Old/2025").stdout
    )

    rows = {r["name"]: r for r in org.json("mailbox", "list", "bob@example.org")}
    assert set(rows) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Old/2025"}
    assert (rows["INBOX"]["messages"], rows["INBOX"]["unseen"]) == (2, 1)
    assert rows["Sent"]["special_use"] == "sent"
    assert "Old/2025" in org.ok("mailbox", "list", "bob@example.org").stdout

    shown = org.json("mailbox", "show", "bob@example.org", "inbox")
    assert (shown["name"], shown["messages"], shown["uidnext"]) == ("INBOX", 2, 3)
    stats = org.json("mailbox", "stats", "bob@example.org")
    assert (stats["mailboxes"], stats["messages"], stats["quota"]) == (6, 4, None)
    assert stats["size"] == 2 * rows["INBOX"]["size"]

    exported = tmp_path / "export"
    assert org.json("mail", "export", "bob@example.org", str(exported))["exported"] == 4
    assert len(list((exported / ".Old.2025" / "cur").iterdir())) == 2
    assert org.json("mail", "import", "carol@example.org", str(exported))["imported"] == 4
    assert org.json("mailbox", "stats", "carol@example.org")["size"] == stats["size"]


def test_errors_say_what_to_do(org: Org, tmp_path: Path) -> None:
    missing = org.run("mailbox", "show", "bob@example.org", "Nope")
    assert missing.status == 1 and "no mailbox Nope" in missing.stderr
    nobody = org.run("mailbox", "list", "nobody@example.org")
    assert nobody.status == 1
    bad = tmp_path / "bad.mbox"
    bad.write_bytes(b"Subject: x\n\nnot an mbox\n")
    refused = org.run("mail", "import", "bob@example.org", str(bad))
    assert refused.status == 1 and "not an mbox" in refused.stderr
    absent = org.run("mail", "import", "bob@example.org", str(tmp_path / "absent"))
    assert absent.status == 1 and "does not exist" in absent.stderr
