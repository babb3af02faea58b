"""Scripted IMAP conversations over a real TLS socket against the real MailboxService:
the RFC 3501 §8 sample session adapted, and each command's happy and error paths."""

from __future__ import annotations

import re

from postseal.protocols.imap.listener import ImapListener
from postseal.services.mailboxes import MailboxService
from tests.smtp.conftest import SmtpPki

from .client import RawImap
from .conftest import Connect, StartListener, Users, message


async def test_rfc3501_sample_session(
    connect: Connect, service: MailboxService, users: Users
) -> None:
    """RFC 3501 §8, with our data: LOGIN, SELECT, FETCH FULL, FETCH BODY[HEADER],
    STORE +FLAGS \\Deleted, LOGOUT."""
    for n in range(3):
        await service.append(users.alice, "INBOX", message(f"sample {n}"))
    client = await connect(login=None)
    assert client.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1")
    await client.login()
    select = await client.command("SELECT INBOX")
    assert select.tagged.endswith(b"[READ-WRITE] SELECT completed\r\n")
    assert select.has(b"* 3 EXISTS") and select.has(b"* 0 RECENT")
    assert select.has(b"[UIDVALIDITY ") and select.has(b"[UIDNEXT 4]")
    assert select.has(b"[UNSEEN 1]") and select.has(b"[HIGHESTMODSEQ ")
    assert select.has(b"[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]")
    full = await client.command("FETCH 1 FULL")
    assert full.status == "OK"
    assert full.untagged[0].startswith(b'* 1 FETCH (FLAGS () INTERNALDATE "')
    assert b'ENVELOPE ("Mon, 02 Mar 2026 08:00:00 +0000" "sample 0"' in full.untagged[0]
    assert b'BODY ("text" "plain" ("charset" "utf-8")' in full.untagged[0]
    header = await client.command("FETCH 2 BODY[HEADER]")
    assert header.untagged[0].startswith(b"* 2 FETCH (BODY[HEADER] {")
    assert b"Subject: sample 1\r\n" in header.untagged[0]
    assert header.has(b"FLAGS (\\Seen)")  # a non-PEEK section sets \Seen (RFC 3501 §6.4.5)
    store = await client.command("STORE 2 +FLAGS (\\Deleted)")
    assert store.untagged == [b"* 2 FETCH (FLAGS (\\Deleted \\Seen))\r\n"]
    logout = await client.command("LOGOUT")
    assert logout.untagged[0].startswith(b"* BYE") and logout.status == "OK"
    assert await client.closed()


async def test_starttls_and_logindisabled(start_listener: StartListener, pki: SmtpPki) -> None:
    listener = await start_listener("imap")
    client = await RawImap.connect(listener.port)
    try:
        assert b"LOGINDISABLED" in client.greeting and b"STARTTLS" in client.greeting
        assert b"AUTH=PLAIN" not in client.greeting
        login = await client.command('LOGIN alice@example.org "alice-pw"')
        assert b" NO [PRIVACYREQUIRED]" in login.tagged
        auth = await client.command("AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNlLXB3")
        assert b" NO [PRIVACYREQUIRED]" in auth.tagged
        select = await client.command("SELECT INBOX")
        assert select.status == "BAD"
        starttls = await client.command("STARTTLS")
        assert starttls.status == "OK"
        await client.writer.start_tls(pki.client_context(), server_hostname="localhost")
        caps = await client.command("CAPABILITY")
        assert caps.has(b"AUTH=PLAIN") and not caps.has(b"LOGINDISABLED")
        again = await client.command("STARTTLS")
        assert again.status == "BAD"
        # SASL-IR (RFC 4959): "\0alice@example.org\0alice-pw"
        auth = await client.command("AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNlLXB3")
        assert auth.status == "OK" and b"[CAPABILITY IMAP4rev1" in auth.tagged
        assert b"CONDSTORE" in auth.tagged and b"MOVE" in auth.tagged
    finally:
        await client.close()


async def test_authenticate_with_continuation(connect: Connect) -> None:
    client = await connect(login=None)
    await client.send(b"x1 AUTHENTICATE PLAIN\r\n")
    assert await client.response() == b"+ \r\n"
    await client.send(b"AGJvYkBleGFtcGxlLm9yZwBib2ItcHc=\r\n")
    reply = await client.until("x1")
    assert reply.status == "OK"
    cancelled = await connect(login=None)
    await cancelled.send(b"x2 AUTHENTICATE PLAIN\r\n")
    await cancelled.response()
    await cancelled.send(b"*\r\n")
    assert (await cancelled.until("x2")).status == "BAD"
    unknown = await cancelled.command("AUTHENTICATE CRAM-MD5")
    assert unknown.status == "NO"


async def test_mailbox_commands(connect: Connect) -> None:
    client = await connect()
    listing = await client.command('LIST "" "*"')
    names = [line for line in listing.untagged if line.startswith(b"* LIST")]
    assert b'* LIST (\\HasNoChildren) "/" INBOX\r\n' in names
    assert b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n' in names
    assert (await client.command('LIST "" ""')).untagged == [b'* LIST (\\Noselect) "/" ""\r\n']
    assert (await client.command("CREATE Projects/2026/")).status == "OK"
    exists = await client.command("CREATE Projects/2026")
    assert b" NO [ALREADYEXISTS]" in exists.tagged
    top = await client.command('LIST "" "%"')
    assert top.has(b'(\\Noselect \\HasChildren) "/" Projects')
    status = await client.command("STATUS Projects/2026 (MESSAGES UIDNEXT UNSEEN SIZE)")
    assert status.untagged == [b"* STATUS Projects/2026 (MESSAGES 0 UIDNEXT 1 UNSEEN 0 SIZE 0)\r\n"]
    assert (await client.command("RENAME Projects/2026 Archive/2026")).status == "OK"
    missing = await client.command("SELECT Projects/2026")
    assert b" NO [NONEXISTENT]" in missing.tagged
    assert (await client.command("SUBSCRIBE Archive/2026")).status == "OK"
    lsub = await client.command('LSUB "" "Arch*"')
    assert lsub.untagged == [b'* LSUB () "/" Archive/2026\r\n']
    extended = await client.command(
        'LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES) SPECIAL-USE)'
    )
    assert extended.has(b"\\Subscribed") and extended.has(b"* STATUS Archive/2026 (MESSAGES 0)")
    special = await client.command('LIST (SPECIAL-USE) "" "*"')
    assert len(special.lines(b"* LIST")) == 4
    assert (await client.command("UNSUBSCRIBE Archive/2026")).status == "OK"
    assert (await client.command("DELETE Archive/2026")).status == "OK"
    gone = await client.command("DELETE Archive/2026")
    assert b" NO [NONEXISTENT]" in gone.tagged
    inbox = await client.command("DELETE INBOX")
    assert inbox.status == "NO"
    use = await client.command("CREATE Old (USE (\\Archive))")
    assert use.status == "OK"
    assert (await client.command('LIST "" Old')).has(b"\\Archive")
    utf7 = await client.command("CREATE &AMk-t&AOk-")
    assert utf7.status == "OK"
    assert (await client.command('LIST "" "&AMk-*"')).has(b"&AMk-t&AOk-")
    ns = await client.command("NAMESPACE")
    assert ns.untagged == [b'* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))\r\n']


async def test_append_fetch_byte_exact(connect: Connect) -> None:
    raw = message("byte exact", "line one\r\n\tindented  \r\nlast") + b"\r\n"
    client = await connect()
    await client.send(b"t1 APPEND INBOX (\\Flagged $Work) {%d}\r\n" % len(raw))
    assert (await client.response()).startswith(b"+ ")
    await client.send(raw + b"\r\n")
    appended = await client.until("t1")
    assert re.match(rb"t1 OK \[APPENDUID \d+ 1\] APPEND completed", appended.tagged)
    plus = await client.command(b"APPEND INBOX {%d+}\r\n" % len(raw) + raw)
    assert b"APPENDUID" in plus.tagged
    missing = await client.command(b"APPEND Nowhere {5+}\r\nhello")
    assert b" NO [TRYCREATE]" in missing.tagged
    await client.command("SELECT INBOX")
    peek = await client.command("UID FETCH 1 (BODY.PEEK[] RFC822.SIZE FLAGS)")
    line = peek.untagged[0]
    assert line.startswith(b"* 1 FETCH (BODY[] {%d}\r\n" % len(raw) + raw + b" ")
    assert line.endswith(b" UID 1)\r\n")
    assert b"RFC822.SIZE %d" % len(raw) in line and b"FLAGS ($Work \\Flagged)" in line
    part = await client.command("FETCH 1 (BODY.PEEK[TEXT]<0.8> BODY.PEEK[1.MIME] ENVELOPE)")
    assert b'BODY[TEXT]<0> "line one"' in part.untagged[0]
    seen = await client.command("FETCH 1 BODY[]")
    assert seen.has(b"FLAGS ($Work \\Flagged \\Seen)")
    bad = await client.command("FETCH 9 FLAGS")
    assert bad.status == "BAD"
    nothing = await client.command("UID FETCH 99 FLAGS")
    assert nothing.status == "OK" and nothing.untagged == []
    structure = await client.command("FETCH 1:* (BODYSTRUCTURE UID)")
    assert len(structure.lines(b"BODYSTRUCTURE")) == 2


async def test_search_store_copy_move_expunge(
    connect: Connect, service: MailboxService, users: Users
) -> None:
    for n in range(5):
        await service.append(
            users.alice, "INBOX", message(f"topic {n}", "needle" if n % 2 else "hay")
        )
    client = await connect()
    await client.command("SELECT INBOX")
    assert (await client.command("SEARCH BODY needle")).untagged == [b"* SEARCH 2 4\r\n"]
    assert (await client.command('UID SEARCH SUBJECT "topic 3"')).untagged == [b"* SEARCH 4\r\n"]
    assert b" NO [BADCHARSET" in (await client.command("SEARCH CHARSET KOI8-R ALL")).tagged
    esearch = await client.command("SEARCH RETURN (MIN MAX COUNT) ALL")
    assert esearch.untagged[0].endswith(b") MIN 1 MAX 5 COUNT 5\r\n")
    silent = await client.command("STORE 1:2 +FLAGS.SILENT (\\Seen)")
    assert silent.untagged == []
    assert (await client.command("SEARCH UNSEEN")).untagged == [b"* SEARCH 3 4 5\r\n"]
    fetched = await client.command("FETCH 3:4 (MODSEQ)")
    value = max(int(n) for n in re.findall(rb"MODSEQ \((\d+)\)", b"".join(fetched.untagged)))
    await client.command("STORE 3 +FLAGS.SILENT ($Changed)")
    conditional = await client.command(f"STORE 3,4 (UNCHANGEDSINCE {value}) +FLAGS (\\Flagged)")
    assert b"[MODIFIED 3]" in conditional.tagged
    copy = await client.command("COPY 1:2 Trash")
    assert re.search(rb"\[COPYUID \d+ 1:2 1:2\]", copy.tagged)
    trycreate = await client.command("COPY 1 Nowhere")
    assert b" NO [TRYCREATE]" in trycreate.tagged
    move = await client.command("UID MOVE 5 Junk")
    assert move.untagged[0].startswith(b"* OK [COPYUID ")
    assert move.untagged[1:] == [b"* 5 EXPUNGE\r\n"]
    await client.command("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    uid_expunge = await client.command("UID EXPUNGE 3")
    assert uid_expunge.untagged == [b"* 3 EXPUNGE\r\n"]
    expunge = await client.command("EXPUNGE")
    assert expunge.untagged == [b"* 1 EXPUNGE\r\n"]
    assert (await client.command("CHECK")).status == "OK"
    examine = await client.command("EXAMINE INBOX")
    assert b"[READ-ONLY]" in examine.tagged and examine.has(b"[CLOSED]")
    assert (await client.command("STORE 1 +FLAGS (\\Deleted)")).status == "NO"
    assert (await client.command("UNSELECT")).status == "OK"
    assert (await client.command("FETCH 1 FLAGS")).status == "BAD"
    await client.command("SELECT INBOX")
    await client.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert (await client.command("CLOSE")).untagged == []
    assert (await client.command("STATUS INBOX (MESSAGES)")).has(b"(MESSAGES 1)")


async def test_enable_id_and_condstore(
    connect: Connect, service: MailboxService, users: Users
) -> None:
    await service.append(users.alice, "INBOX", message("one"))
    client = await connect()
    enable = await client.command("ENABLE CONDSTORE UTF8=ACCEPT X-UNKNOWN")
    assert enable.untagged == [b"* ENABLED CONDSTORE UTF8=ACCEPT\r\n"]
    ident = await client.command('ID ("name" "test")')
    assert ident.untagged[0].startswith(b'* ID ("name" "postseal"')
    await client.command("SELECT INBOX (CONDSTORE)")
    changed = await client.command("FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")
    assert changed.untagged == [] or b"MODSEQ" in changed.untagged[0]
    store = await client.command("STORE 1 +FLAGS (\\Answered)")
    assert re.match(rb"\* 1 FETCH \(FLAGS \(\\Answered\) MODSEQ \(\d+\)\)", store.untagged[0])
    found = await client.command("SEARCH MODSEQ 1")
    assert re.match(rb"\* SEARCH 1 \(MODSEQ \d+\)", found.untagged[0])


async def test_listener_refuses_bad_kind(service: MailboxService, server_tls: object) -> None:
    import pytest

    from postseal.errors import ConfigError

    with pytest.raises(ConfigError):
        ImapListener(
            "pop3",
            mailboxes=service,
            authenticate=None,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=0,
            hostname="x",
            tls=server_tls,  # type: ignore[arg-type]
        )
