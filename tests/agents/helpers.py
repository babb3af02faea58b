"""Building blocks of the transport-agent tests: messages, contexts, and S/MIME messages
signed or encrypted in-process with the signing tests' PKI (tests.smime.signing_fixtures)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from postseal.policy import Direction, DisclaimerAction, MessageFacts, PolicyDecision
from postseal.services.agents import AgentContext
from postseal.services.agents_mime import protection
from postseal.smime.encrypt import Recipient, encrypt
from postseal.smime.sign import sign
from postseal.smime.verify import verify
from tests.smime.envelope_fixtures import party
from tests.smime.signing_fixtures import NOW, pki

DISCLAIMER = "Vertraulich \u2013 nur für den Empfänger.\nConfidential: for the addressee only."
LOCAL = frozenset({"example.org"})

HEAD = (
    b"From: Alice <alice@example.org>\r\nTo: bob@partner.example\r\nSubject: Q3 figures\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <q3@example.org>\r\n"
)


def plain(body: bytes = b"Hello Bob.\r\n", *, content: bytes | None = None) -> bytes:
    """A text/plain message; ``content`` replaces the default Content-* fields."""
    fields = content if content is not None else b"Content-Type: text/plain; charset=utf-8\r\n"
    return HEAD + b"MIME-Version: 1.0\r\n" + fields + b"\r\n" + body


def decision(
    action: DisclaimerAction = DisclaimerAction.APPEND,
    text: str = DISCLAIMER,
    direction: Direction = Direction.OUTBOUND,
) -> PolicyDecision:
    return PolicyDecision(direction=direction, disclaimer=action, disclaimer_text=text)


def facts(
    direction: Direction = Direction.OUTBOUND, sender: str = "alice@example.org"
) -> MessageFacts:
    return MessageFacts(direction=direction, sender=sender, recipients=("bob@partner.example",))


def context(
    message: bytes,
    action: DisclaimerAction = DisclaimerAction.APPEND,
    *,
    direction: Direction = Direction.OUTBOUND,
    text: str = DISCLAIMER,
) -> AgentContext:
    content_type = message_from_bytes(message).get("Content-Type", "text/plain")
    signed, encrypted = protection(content_type)
    return AgentContext(
        direction=direction,
        sender="alice@example.org",
        recipients=("bob@partner.example",),
        decision=decision(action, text, direction),
        signed=signed,
        encrypted=encrypted,
        local_domains=LOCAL,
    )


def parsed(message: bytes) -> EmailMessage:
    result = message_from_bytes(message, policy=policy.default)
    assert isinstance(result, EmailMessage)
    return result


def texts(message: bytes) -> list[str]:
    """The decoded text of every text part (RFC 2045 decoding by the standard library)."""
    found = []
    for part in parsed(message).walk():
        if part.get_content_maintype() == "text":
            found.append(part.get_content().replace("\r\n", "\n"))
    return found


def signed(message: bytes, *, opaque: bool = False) -> bytes:
    """``message`` signed by alice: outer fields stay outside (RFC 8551 §3.5)."""
    p = pki()
    user = p.users["alice"]
    cut = message.index(b"MIME-Version")
    outer, entity = message[:cut], message[cut:].replace(b"MIME-Version: 1.0\r\n", b"", 1)
    return outer + sign(
        entity,
        signer_cert=user.cert,
        signer_key=user.key,
        chain=p.chain,
        signing_time=NOW,
        opaque=opaque,
    )


def verifies(message: bytes) -> bool:
    result = verify(message, validate_chain=pki().validator(), now=NOW)
    return result.ok


def encrypted(message: bytes) -> bytes:
    bob = party("bob")  # RSA-2048, keyEncipherment
    return encrypt(message, recipients=[Recipient(bob.address, bob.cert)]).message
