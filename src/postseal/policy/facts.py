"""What the policy engine knows about one message: plain values the services gather.

The engine never looks anything up. The submission service (outbound) or the MX service
(inbound) fills a :class:`MessageFacts` from the envelope (RFC 5321 §2.3.1: the
reverse-path and forward-paths, not the From:/To: headers), the directory and the
certificate store, then calls :func:`postseal.policy.decide`.

Addresses are expected canonical (lower-case, A-label domains, ADR 0006); the engine
lower-cases them again so a slip in a caller cannot split one user in two.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message

__all__ = ["Direction", "MessageFacts", "smime_layers"]


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"  # from submission (587/465): a local, authenticated sender
    INBOUND = "inbound"  # from the MX listener (25): for local recipients


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """One message as policy sees it.

    ``groups`` maps local addresses (the sender of outbound mail, the local recipients of
    inbound mail) to their directory groups. ``certified_recipients`` are the recipients
    with a valid (unexpired, unrevoked, trusted) encryption certificate;
    ``sender_can_sign`` says the sender has a valid signing certificate whose key the
    server holds. ``server_held_keys`` are the local recipients whose decryption key the
    server holds (not zero-access mailboxes). ``headers`` are the message's top-level
    header fields as (name, unfolded value) pairs; ``signed``/``encrypted`` say the
    message already is S/MIME (see :func:`smime_layers`).
    """

    direction: Direction
    sender: str
    recipients: tuple[str, ...]
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    local_recipients: frozenset[str] = frozenset()
    certified_recipients: frozenset[str] = frozenset()
    sender_can_sign: bool = False
    server_held_keys: frozenset[str] = frozenset()
    subject: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    signed: bool = False
    encrypted: bool = False
    size: int = 0

    def groups_of(self, address: str) -> frozenset[str]:
        """The directory groups of ``address`` (empty for unknown or remote addresses)."""
        wanted = address.lower()
        for key, value in self.groups.items():
            if key.lower() == wanted:
                return value
        return frozenset()

    def header_values(self, name: str) -> tuple[str, ...]:
        """Every value of the header field ``name`` (compared case-insensitively)."""
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key.lower() == wanted)


def smime_layers(content_type: str) -> tuple[bool, bool]:
    """``(signed, encrypted)`` for a top-level Content-Type header value.

    ``multipart/signed; protocol="application/pkcs7-signature"`` (RFC 8551 §3.5.3) and
    ``application/pkcs7-mime; smime-type=signed-data`` are signed;
    ``application/pkcs7-mime`` with ``smime-type=enveloped-data`` or
    ``authEnveloped-data`` (RFC 8551 §3.2.2), or without a smime-type, is encrypted —
    an unlabelled pkcs7-mime body cannot be scanned either way. The ``x-pkcs7-*`` names
    of older clients count too.
    """
    holder = Message()
    holder["Content-Type"] = content_type
    kind = holder.get_content_type()
    if kind == "multipart/signed":
        protocol = str(holder.get_param("protocol", "")).lower()
        return protocol in {"application/pkcs7-signature", "application/x-pkcs7-signature"}, False
    if kind in {"application/pkcs7-mime", "application/x-pkcs7-mime"}:
        smime_type = str(holder.get_param("smime-type", "")).lower()
        if smime_type == "signed-data":
            return True, False
        return False, smime_type != "certs-only"
    return False, False
