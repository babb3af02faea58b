"""MIME wrapping/unwrapping (RFC 8551 §3, RFC 1847), canonical form for signing
(RFC 8551 §3.1.1) and SMIMECapabilities (RFC 8551 §2.5.2)."""

from __future__ import annotations

import base64
import binascii
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postseal.errors import InputError
from postseal.mail import octets
from postseal.mail.canonical import (
    _header_of,
    canonicalize,
    content_type,
    header_fields,
    is_crlf,
    split_entity,
)
from postseal.smime.algorithms import (
    AES256_GCM,
    DEFAULT_CAPABILITIES,
    RSAES_OAEP,
    Capability,
    decode_capabilities,
    encode_capabilities,
)
from postseal.smime.mime import (
    DetachedParts,
    OpaqueParts,
    _delimiters,
    base64_lines,
    build_multipart_signed,
    build_pkcs7_mime,
    parse_smime,
)


def test_lf_becomes_crlf() -> None:
    assert canonicalize(b"Content-Type: text/plain\n\na\nb\n") == (
        b"Content-Type: text/plain\r\n\r\na\r\nb\r\n"
    )


def test_8bit_text_becomes_quoted_printable() -> None:
    out = canonicalize(
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nK\xc3\xa4se\r\n"
    )
    assert out == (
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=A4se\r\n"
    )


def test_binary_attachment_becomes_base64_inside_multipart() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="xx"\n\npreamble\n--xx\n'
        b"Content-Type: text/plain\n\nhi\n--xx\n"
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n"
        b"\x00\xff\r\n\x01\n--xx--\n"
    )
    out = canonicalize(raw)
    assert out.isascii()
    assert (
        b"\r\n--xx\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nAP8NCgE=\r\n" in out
    )
    assert out.endswith(b"\r\n--xx--\r\n")
    assert b"\n" not in out.replace(b"\r\n", b"")


def test_long_lines_and_trailing_space_are_protected() -> None:
    out = canonicalize(b"Content-Type: text/plain\r\n\r\n" + b"a" * 1200 + b"\r\nend \r\n")
    assert b"quoted-printable" in out
    assert all(len(line) <= 76 for line in out.split(b"\r\n"))
    assert out.endswith(b"end=20\r\n")


def test_7bit_content_is_untouched() -> None:
    entity = b"Content-Type: text/plain\r\nX-A: b\r\n\r\nplain text\r\n"
    assert canonicalize(entity) == entity


def test_headerless_entity() -> None:
    assert canonicalize(b"\nhello\n") == b"\r\nhello\r\n"


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        (b"Content-Type: text/plain\r\n\r\na\x00b", "NUL byte"),
        (b"Subject: K\xc3\xa4se\r\n\r\nx", "header field holds 8-bit"),
        (b"Content-Type: multipart/mixed\r\n\r\n--a\r\n\r\nx\r\n--a--", "no valid boundary"),
        (b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nx\r\n", "closing boundary"),
        (b"Content-Transfer-Encoding: base64\r\n\r\n\xff\xfe", "8-bit bytes"),
        (b"no blank line", "no blank line"),
        (b" folded: first\r\n\r\nx", "continuation"),
    ],
)
def test_canonicalize_refusals(entity: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        canonicalize(entity)


def test_absurd_nesting_refused_quickly() -> None:
    entity = b"Content-Type: text/plain\r\n\r\nx\r\n"
    for _ in range(40):
        entity = b"Content-Type: message/rfc822\r\n\r\n" + entity
    with pytest.raises(InputError, match="nested deeper"):
        canonicalize(entity)


def test_header_helpers() -> None:
    fields = header_fields(
        b'Content-Type: multipart/signed;\r\n\tboundary="a b"; MICALG=sha-256\r\nFrom: x@y.org'
    )
    assert fields[1] == ("from", "x@y.org")
    assert content_type(fields) == ("multipart/signed", {"boundary": "a b", "micalg": "sha-256"})
    assert content_type([]) == ("text/plain", {})


def test_base64_lines_are_76_wide_with_crlf() -> None:
    lines = base64_lines(bytes(range(256)) * 3).split(b"\r\n")
    assert lines[-1] == b""
    assert {len(line) for line in lines[:-2]} == {76}


def test_multipart_signed_round_trip() -> None:
    content = b"Content-Type: text/plain\r\n\r\nhello\r\n"
    message = build_multipart_signed(content, b"\x30\x03\x02\x01\x01", micalg="sha-256")
    parts = parse_smime(message)
    assert isinstance(parts, DetachedParts)
    assert parts.content == content
    assert parts.signature == b"\x30\x03\x02\x01\x01"
    assert parts.micalg == "sha-256"


def test_boundary_never_occurs_in_content() -> None:
    first = build_multipart_signed(b"x\r\n", b"sig", micalg="sha-256")
    boundary = first.split(b'boundary="', 1)[1].split(b'"', 1)[0]
    content = b"x\r\n" + boundary + b"\r\n"
    second = build_multipart_signed(content, b"sig", micalg="sha-256")
    parts = parse_smime(second)
    assert isinstance(parts, DetachedParts)
    assert parts.content == content


def test_pkcs7_mime_round_trip() -> None:
    message = build_pkcs7_mime(b"\x30\x00" * 100, smime_type="enveloped-data")
    parts = parse_smime(message)
    assert isinstance(parts, OpaqueParts)
    assert parts.smime_type == "enveloped-data"
    assert parts.der == b"\x30\x00" * 100


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (b"Content-Type: text/plain\r\n\r\nhi", "not an S/MIME message"),
        (b"Content-Type: multipart/signed\r\n\r\nx", "boundary"),
        (
            b'Content-Type: multipart/signed; boundary="b"\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n',
            "exactly two parts",
        ),
        (
            b'Content-Type: multipart/signed; boundary="b"\r\n\r\n--b\r\n\r\nx\r\n--b\r\n'
            b"Content-Type: text/plain\r\n\r\ny\r\n--b--\r\n",
            "not a signature",
        ),
        (
            b"Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: base64\r\n\r\n!!",
            "not valid base64",
        ),
        (
            b"Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            "empty",
        ),
    ],
)
def test_parse_refusals(message: bytes, text: str) -> None:
    with pytest.raises(InputError, match=text):
        parse_smime(message)


def test_capabilities_round_trip_and_unknown_oid() -> None:
    der = encode_capabilities(DEFAULT_CAPABILITIES)
    assert decode_capabilities(der) == DEFAULT_CAPABILITIES
    odd = Capability("1.2.3.4", "1.2.3.4", b"\x05\x00")
    assert decode_capabilities(encode_capabilities([odd, AES256_GCM])) == (odd, AES256_GCM)
    assert RSAES_OAEP.parameters is not None  # SHA-256 OAEP spelled out (RFC 4055 §4.1)


@pytest.mark.parametrize("der", [b"", b"\x30\x05\x30", b"\x04\x00", b"\x30\x02\x30\x00"])
def test_capabilities_malformed(der: bytes) -> None:
    with pytest.raises(InputError, match="SMIMECapabilities"):
        decode_capabilities(der)


def _reference_text_decision(body: bytes) -> bytes | None:
    """The canonical body RFC 8551 §3.1.1 and the module's rules ask for, or None when
    the text must be re-encoded (counting scans, no shortcuts)."""
    crlf = re.sub(rb"\r?\n", b"\r\n", body)
    if not crlf.isascii() or crlf.count(b"\r") != crlf.count(b"\r\n"):
        return None
    if any(len(line) > 998 for line in crlf.split(b"\r\n")):
        return None
    if b" \r\n" in crlf or b"\t\r\n" in crlf or crlf.endswith((b" ", b"\t")):
        return None
    return crlf


_TEXT_PIECES = st.sampled_from(
    [b"a", b" ", b"\t", b"\r", b"\n", b"\r\n", b"=", b"\xc3\xa4", b"x" * 997, b"y" * 1000]
)


_TEXT_HEADERS = st.sampled_from(
    [
        b"Content-Type: text/plain\r\n",
        b"Content-Type: text/plain\r\nContent-Description: ends in white space \r\n",
        b"Subject: \t\r\nContent-Type: text/plain;\r\n charset=us-ascii \r\n",
    ]
)


@settings(max_examples=600, deadline=None)
@given(_TEXT_HEADERS, st.lists(_TEXT_PIECES, max_size=12).map(b"".join))
def test_text_is_kept_exactly_when_it_is_already_canonical(header: bytes, body: bytes) -> None:
    entity = header + b"\r\n" + body
    out = canonicalize(entity)
    expected = _reference_text_decision(body)
    crlf = re.sub(rb"\r?\n", b"\r\n", body)
    if expected is None and crlf.count(b"\r") != crlf.count(b"\r\n"):
        # a bare CR: quoted-printable cannot carry it, base64 keeps the text exactly
        head, _, encoded = out.partition(b"\r\n\r\n")
        assert head.endswith(b"Content-Transfer-Encoding: base64")
        assert base64.b64decode(encoded.replace(b"\r\n", b"")) == crlf
    elif expected is None:
        assert b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" in out
    else:
        assert out == header + b"\r\n" + expected
    if is_crlf(entity):  # the caller's word for it: the same result, checked in place
        assert canonicalize(entity, known_crlf=True) == out


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from([b"a", b" ", b"\r", b"\n", b"\r\n"]), max_size=16).map(b"".join))
def test_is_crlf_exactly_when_every_cr_and_lf_is_a_pair(data: bytes) -> None:
    pairs = data.count(b"\r\n")
    assert is_crlf(data) == (data.count(b"\r") == pairs == data.count(b"\n"))


@settings(max_examples=600, deadline=None)
@given(_TEXT_HEADERS, st.lists(st.sampled_from([b"a", b" ", b"\t", b"\r\n"]), max_size=12))
def test_trailing_white_space_is_found_from_the_body_start_exactly(
    header: bytes, pieces: list[bytes]
) -> None:
    body = b"".join(pieces)
    entity = header + b"\r\n" + body
    expected = any(line.endswith((b" ", b"\t")) for line in body.split(b"\r\n"))
    assert bool(octets.scan(body) & octets.TRAILING_SPACE) is expected
    # the header's own trailing white space is not the body's
    assert bool(octets.scan(entity, len(header) + 2) & octets.TRAILING_SPACE) is expected


@pytest.mark.parametrize(
    ("length", "ending", "kept"),
    [(998, b"\r\n", True), (999, b"\r\n", False), (998, b"", True), (999, b"", False)],
)
def test_the_998_octet_line_limit(length: int, ending: bytes, kept: bool) -> None:
    body = b"short\r\n" + b"a" * length + ending
    out = canonicalize(b"Content-Type: text/plain\r\n\r\n" + body)
    assert out.endswith(b"\r\n\r\n" + body) is kept


def _reference_delimiters(body: bytes, delimiter: bytes) -> list[tuple[int, int, bool]]:
    pattern = re.compile(rb"(?:\A|\r?\n)" + re.escape(delimiter) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    marks = []
    for match in pattern.finditer(body):
        marks.append((match.start(), match.end(), bool(match.group(1))))
        if match.group(1) or len(marks) > 3:
            break
    return marks


_MULTIPART_PIECES = st.sampled_from(
    [b"--b", b"--b--", b"\r\n", b"\n", b"\r", b" ", b"\t", b"x", b"-", b"--", b"b", b"--bb"]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_MULTIPART_PIECES, max_size=14).map(b"".join))
def test_boundary_lines_are_found_like_the_rfc_2046_pattern(body: bytes) -> None:
    assert _delimiters(body, b"--b") == _reference_delimiters(body, b"--b")


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from([b"a", b":", b" ", b"\r", b"\n", b"\r\n"]), max_size=14))
def test_the_header_is_found_where_split_entity_finds_it(pieces: list[bytes]) -> None:
    entity = b"".join(pieces)
    try:
        header, body = split_entity(entity)
        expected: object = (header, len(entity) - len(body))
    except InputError:
        expected = InputError
    for known_crlf in (False, True) if is_crlf(entity) else (False,):
        try:
            found: object = _header_of(entity, known_crlf=known_crlf)
        except InputError:
            found = InputError
        assert found == expected


def _fields_by_grammar(header: bytes) -> list[tuple[str, str]] | None:
    """RFC 5322 §2.2 read line by line with the grammar as a regular expression; None
    for a malformed header."""
    fields: list[tuple[str, str]] = []
    for line in re.split(rb"\r?\n", header):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if not fields:
                return None
            fields[-1] = (
                fields[-1][0],
                fields[-1][1] + " " + line.strip().decode("utf-8", "replace"),
            )
            continue
        found = re.match(rb"([!-9;-~]+)[ \t]*:(.*)", line, re.S)
        if found is None:
            return None
        fields.append((found[1].decode().lower(), found[2].strip().decode("utf-8", "replace")))
    return fields


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"a", b"B", b"~", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\xc3\xa9", b"\x00"]
        ),
        max_size=12,
    ).map(b"".join)
)
def test_header_fields_follow_the_field_grammar(header: bytes) -> None:
    try:
        found: list[tuple[str, str]] | None = header_fields(header)
    except InputError:
        found = None
    assert found == _fields_by_grammar(header)


# Found by fuzz/octets.py: what canonicalize returned could still hold what relays alter.


@pytest.mark.parametrize(
    "entity",
    [
        b"\r\n \t\r\n",  # no header fields at all
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n\t\r\n--b--\r\n",
    ],
)
def test_an_entity_without_header_fields_gets_its_encoding_field_in_a_header(
    entity: bytes,
) -> None:
    out = canonicalize(entity)
    part = out if out.startswith(b"Content-Transfer") else out.split(b"--b\r\n", 1)[1]
    header, _, body = part.partition(b"\r\n\r\n")
    assert header == b"Content-Transfer-Encoding: quoted-printable"
    assert body.startswith((b"=09", b" =09"))


def test_a_bare_cr_in_text_travels_in_base64_and_comes_back_exactly() -> None:
    out = canonicalize(b"Content-Type: text/plain\r\n\r\nover\rstrike\r\n")
    header, _, body = out.partition(b"\r\n\r\n")
    assert header.endswith(b"Content-Transfer-Encoding: base64")
    assert base64.b64decode(body) == b"over\rstrike\r\n"
    assert is_crlf(out)


@pytest.mark.parametrize(
    ("entity", "reason"),
    [
        (b"Content-Type: text/plain\r\nX-A: a\x00b\r\n\r\nx\r\n", "header field holds a NUL"),
        (b"Content-Type: text/plain\r\nX-A: a\rb\r\n\r\nx\r\n", "header field holds a CR"),
        (
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nAA\rAA\r\n",
            "base64 body holds a CR",
        ),
        (
            b"Content-Type: application/x\r\nContent-Transfer-Encoding: base64\r\n\r\nA\x00A=\r\n",
            "base64 body holds a NUL",
        ),
        (
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\ramble\r\n--b\r\n\r\nx\r\n--b--\r\n",
            "preamble holds a CR",
        ),
    ],
)
def test_what_no_re_encoding_can_keep_is_refused(entity: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        canonicalize(entity)


def test_one_line_base64_is_rewrapped_to_76_characters_with_the_same_content() -> None:
    data = bytes(range(256)) * 20
    entity = (
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(data)
        + b"\r\n"
    )
    header, _, body = canonicalize(entity).partition(b"\r\n\r\n")
    assert header == entity.partition(b"\r\n\r\n")[0]
    assert {len(line) for line in body.split(b"\r\n")[:-2]} == {76}
    assert base64.b64decode(body) == data
    short = entity.replace(base64.b64encode(data), base64.encodebytes(data).replace(b"\n", b"\r\n"))
    assert canonicalize(short) == short  # lines that fit are kept as they are


def test_a_long_line_that_is_not_base64_is_refused() -> None:
    entity = (
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b"!" * 1200
        + b"\r\n"
    )
    with pytest.raises(InputError, match="not valid base64"):
        canonicalize(entity)


def test_quoted_printable_with_overlong_lines_is_encoded_afresh() -> None:
    text = "Grüße, ".encode() * 300 + b"\r\nend\r\n"  # one line of 2,700 octets decoded
    long_qp = binascii.b2a_qp(text, istext=True).replace(b"=\n", b"")  # soft breaks dropped
    entity = (
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + long_qp
    )
    header, _, body = canonicalize(entity).partition(b"\r\n\r\n")
    assert header.endswith(b"Content-Transfer-Encoding: quoted-printable")
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert binascii.a2b_qp(body) == binascii.a2b_qp(long_qp)
