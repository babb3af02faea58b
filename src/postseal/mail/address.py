"""Mailbox addresses as postseal stores and compares them.

Contract (RFC 5321 §4.1.2, §4.5.3.1; RFC 5890 for IDNA):

- ``local@domain`` with a dot-atom local part of printable ASCII (RFC 5322 §3.2.3 atext)
  of at most 64 octets. Quoted local parts, comments, source routes and IP literals are
  refused: certificates carry the address as an IA5String ``rfc822Name`` (RFC 5280
  §4.2.1.6) and clients disagree on the rest.
- The domain is converted to its IDNA A-label form (``bücher.example`` →
  ``xn--bcher-kva.example``) and lower-cased; it has at least two labels of letters,
  digits and hyphens, at most 63 octets each, 253 in all.
- **Local-part case**: RFC 5321 lets a server treat local parts as case-sensitive;
  postseal does not. The canonical address is lower-cased as a whole, so ``Alice@`` and
  ``alice@`` are one mailbox, one directory entry and one certificate — the behaviour of
  Exchange and of every mainstream server, and the only one under which a certificate's
  address reliably matches a From: header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import idna

from postseal.errors import AddressError

__all__ = ["Address", "parse_address"]

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*\Z")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_MAX_INPUT = 320


@dataclass(frozen=True, slots=True, order=True)
class Address:
    """A canonical mailbox address: lower-case local part and A-label domain."""

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"

    @property
    def unicode_domain(self) -> str:
        """The domain in U-labels, for display."""
        try:
            return idna.decode(self.domain)
        except idna.IDNAError:
            return self.domain


def parse_address(text: str) -> Address:
    """Validate ``text`` and return its canonical :class:`Address`.

    Raises :class:`~postseal.errors.AddressError` with the rule that was broken.
    """
    raw = text.strip()
    if not raw:
        raise AddressError("an empty mailbox address is not valid")
    if len(raw) > _MAX_INPUT or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise AddressError(f"{_show(raw)} is not a valid mailbox address: control characters")
    local, sep, domain = raw.rpartition("@")
    if not sep or not local or not domain:
        raise AddressError(f"{_show(raw)} is not a valid mailbox address: expected local@domain")
    if local.startswith('"'):
        raise AddressError(
            f"{_show(raw)} uses a quoted local part, which postseal does not accept",
            hint="choose a local part of letters, digits and . _ - +",
        )
    if not local.isascii() or not _DOT_ATOM.match(local):
        raise AddressError(
            f"{_show(raw)} is not a valid mailbox address: the part before @ may hold "
            "ASCII letters, digits and !#$%&'*+/=?^_`{|}~- separated by single dots"
        )
    if len(local.encode()) > 64:
        raise AddressError(f"{_show(raw)}: the part before @ is longer than 64 octets")
    return Address(local.lower(), _canonical_domain(raw, domain))


def _canonical_domain(raw: str, domain: str) -> str:
    if domain.startswith("[") or domain.endswith("]"):
        raise AddressError(f"{_show(raw)}: address literals such as [192.0.2.1] are not accepted")
    domain = domain.rstrip(".") if domain.endswith(".") and not domain.endswith("..") else domain
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise AddressError(f"{_show(raw)}: {domain!r} is not a valid domain name ({exc})") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise AddressError(f"{_show(raw)}: the domain needs at least two labels, e.g. example.org")
    if len(ascii_domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise AddressError(f"{_show(raw)}: {domain!r} is not a valid domain name")
    if labels[-1].isdigit():
        raise AddressError(f"{_show(raw)}: the domain's last label cannot be numeric")
    return ascii_domain


def _show(raw: str) -> str:
    return repr(raw if len(raw) <= 80 else raw[:77] + "...")
