"""The DATA reader fed in chunks cut anywhere gives exactly what it gives line by line,
and the session finds the terminator in a stream written in odd pieces."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import assume, given
from hypothesis import strategies as st

from postseal.errors import PostsealError
from postseal.protocols.smtp import SmtpListener
from postseal.protocols.smtp.data import DataReader

from .fakes import FakeIntake
from .test_data import open_transaction

CLEAN = [b"x", b"xxxxxxxxxx", b".", b"..", b"\r\n"]  # the fast path's kind of lines
PIECES = [*CLEAN, b"\n", b"\r", b"\x00", b"y" * 120]


def _outcome(reader: DataReader) -> bytes | tuple[type[PostsealError], str]:
    try:
        return reader.finish()
    except PostsealError as exc:
        return type(exc), exc.message


def _by_lines(content: bytes) -> bytes | tuple[type[PostsealError], str]:
    reader = DataReader(max_size=1_000_000, max_line_length=100)
    for line in content.splitlines(keepends=True):
        assert not reader.feed(line)
    return _outcome(reader)


@given(
    st.one_of(
        st.lists(st.sampled_from(CLEAN), max_size=60),
        st.lists(st.sampled_from(PIECES), max_size=60),
    ),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
)
def test_chunks_cut_anywhere_read_as_the_lines_do(parts: list[bytes], cuts: list[int]) -> None:
    content = b"".join(parts) + b"\r\n"
    # no line may be the terminator: only the session decides that
    assume(not content.startswith(b".\r\n") and b"\r\n.\r\n" not in content)
    assume(b"\r" not in content.replace(b"\r\n", b""))  # bare LF lines only via \n
    reader = DataReader(max_size=1_000_000, max_line_length=100)
    edges = sorted({min(c, len(content)) for c in cuts} | {0, len(content)})
    for start, end in itertools.pairwise(edges):
        reader.feed_chunk(content[start:end])
    assert _outcome(reader) == _by_lines(content)


def test_a_line_longer_than_the_limit_without_its_lf_is_not_kept() -> None:
    reader = DataReader(max_size=1_000_000, max_line_length=100)
    for _ in range(50):
        reader.feed_chunk(b"z" * 1000)  # one line of 50,000 octets, arriving in pieces
    reader.feed_chunk(b"\r\n")
    outcome = _outcome(reader)
    assert isinstance(outcome, tuple) and "longer than 100" in outcome[1]


def test_at_line_start_follows_the_last_two_octets() -> None:
    reader = DataReader(max_size=1000, max_line_length=1000)
    assert reader.at_line_start  # the DATA command's own CRLF
    reader.feed_chunk(b"abc\r")
    assert not reader.at_line_start
    reader.feed_chunk(b"\n")
    assert reader.at_line_start
    reader.feed_chunk(b"x\n")
    assert not reader.at_line_start  # a bare LF does not end a line for the terminator


async def test_a_large_message_written_in_odd_pieces(mx: SmtpListener, intake: FakeIntake) -> None:
    """200 KB with dot-stuffed lines and lines ending in a dot; the terminator split
    over two writes; a command pipelined right behind it is answered."""
    lines = [b"line %d ends with a dot." % n if n % 7 else b"..stuffed %d" % n for n in range(4000)]
    body = b"\r\n".join(lines) + b"\r\n"
    client = await open_transaction(mx.port)
    for start in range(0, len(body), 4093):
        await client.send(body[start : start + 4093])
        await asyncio.sleep(0)
    await client.send(b".\r")
    await asyncio.sleep(0.05)
    await client.send(b"\nNOOP\r\n")
    assert (await client.reply())[0] == 250
    assert (await client.reply())[0] == 250  # the NOOP, read from behind the terminator
    await client.close()
    (envelope,) = intake.accepted
    expected = [line[1:] if line.startswith(b".") else line for line in lines]
    assert envelope.data == b"\r\n".join(expected) + b"\r\n"


async def test_empty_message_and_dot_line_after_a_chunk_boundary(
    mx: SmtpListener, intake: FakeIntake
) -> None:
    client = await open_transaction(mx.port)
    await client.send(b".\r\n")
    assert (await client.reply())[0] == 250
    assert (await client.command("MAIL FROM:<carol@remote.example>"))[0] == 250
    assert (await client.command("RCPT TO:<bob@example.test>"))[0] == 250
    assert (await client.command("DATA"))[0] == 354
    text = (b"a" * 78 + b"\r\n") * 60  # beyond the stream's limit: taken in chunks
    await client.send(text)
    await asyncio.sleep(0.05)
    await client.send(b".\r\n")  # alone in the buffer, after data that ended in CRLF
    assert (await client.reply())[0] == 250
    await client.close()
    assert [e.data for e in intake.accepted] == [b"", text]


def test_the_first_line_at_fault_gives_the_reason_however_the_chunks_fall() -> None:
    """Found by the property above: a NUL line, then a line too long, cut after the NUL."""
    content = b"\x00\n" + b"y" * 120 + b"\r\n"
    reader = DataReader(max_size=1_000_000, max_line_length=100)
    reader.feed_chunk(content[:2])
    reader.feed_chunk(content[2:])
    assert _outcome(reader) == _by_lines(content)
    outcome = _outcome(reader)
    assert isinstance(outcome, tuple) and "NUL" in outcome[1]
