"""Mailbox address canonicalisation (RFC 5321 §4.1.2, IDNA)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postseal.errors import AddressError
from postseal.mail.address import Address, parse_address


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("alice@example.org", "alice@example.org"),
        ("Alice@Example.ORG", "alice@example.org"),
        ("  bob.smith+tag@example.org ", "bob.smith+tag@example.org"),
        ("bob@bücher.example", "bob@xn--bcher-kva.example"),
        ("carol@mail.example.org.", "carol@mail.example.org"),
        ("o'neil@example.org", "o'neil@example.org"),
    ],
)
def test_canonical_forms(text: str, canonical: str) -> None:
    assert str(parse_address(text)) == canonical


def test_unicode_domain_for_display() -> None:
    assert parse_address("bob@bücher.example").unicode_domain == "bücher.example"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("no-at-sign", "expected local@domain"),
        ("@example.org", "expected local@domain"),
        ("alice@", "expected local@domain"),
        ('"quoted"@example.org', "quoted local part"),
        ("a..b@example.org", "separated by single dots"),
        (".a@example.org", "separated by single dots"),
        ("a b@example.org", "separated by single dots"),
        ("ålice@example.org", "ASCII"),
        ("x" * 65 + "@example.org", "64 octets"),
        ("alice@localhost", "two labels"),
        ("alice@[192.0.2.1]", "address literals"),
        ("alice@-bad.example", "not a valid domain"),
        ("alice@example.123", "numeric"),
        ("alice\r\n@example.org", "control characters"),
        ("alice@exa_mple.org", "not a valid domain"),
    ],
)
def test_rejections_name_the_rule(text: str, fragment: str) -> None:
    with pytest.raises(AddressError) as caught:
        parse_address(text)
    assert fragment in str(caught.value)


@given(st.text(max_size=400))
def test_any_text_gives_an_address_or_an_address_error(text: str) -> None:
    try:
        address = parse_address(text)
    except AddressError:
        return
    assert isinstance(address, Address)
    assert str(address) == str(address).lower()
    assert parse_address(str(address)) == address
