"""Fuzz target: mailbox addresses — ``postseal.mail.address.parse_address``.

Beyond "value or AddressError": the canonical form is a fixed point (parsing
``str(address)`` gives the same address back) and ``unicode_domain`` never raises.
Run: ``python fuzz/address.py -max_total_time=60 corpus/`` (see fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import sys

import _harness

from postseal.errors import PostsealError
from postseal.mail.address import parse_address

SEEDS = (
    b"alice@example.org",
    b"Alice.Smith+tag@Example.ORG.",
    b"bob@b\xc3\xbccher.example",
    b"carol@xn--bcher-kva.example",
    b"dave@[192.0.2.1]",
    b'"quoted"@example.org',
    b"a..b@example.org",
    b"x@localhost",
    b"x@example.123",
    b"\xe2\x80\x8bzero@width.example",
    b"user@\xef\xbc\xa5xample.org",
    b"user@example..org",
)
DICTIONARY = (b"@", b".", b"xn--", b"\xc3\x9f", b"\xe2\x80\x8d", b"\xef\xbc\x8e", b"[", b"]", b'"')


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    with contextlib.suppress(PostsealError):
        address = parse_address(text)
        again = parse_address(str(address))
        assert again == address, f"{text!r} → {address!s} → {again!s}"
        assert isinstance(address.unicode_domain, str)


def seeds() -> list[bytes]:
    return list(SEEDS)


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
