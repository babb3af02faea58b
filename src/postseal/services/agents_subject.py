"""The subject-tag agent: ``[EXTERNAL]`` in front of the Subject of mail from outside.

Off by default (``enabled = false``); switched on and its tag set through the agent's
options (ADR 0015). Inbound mail is mail that arrived on the MX listener: its envelope
sender is unauthenticated, so a message claiming a local sender is tagged too — that is
the forgery the tag warns about.

The top-level Subject is an outer header field: it is outside the signed content of a
``multipart/signed`` message (RFC 8551 §3.5.3: the first body part is signed) and of an
``application/pkcs7-mime`` signed-data message (§3.5.2: the content is inside the CMS
object); only a message/rfc822 wrapper would protect it (§3.1). So the agent asks for a
``set_fields`` change, which the pipeline grants for signed and encrypted mail too.
Clients that implement header protection (RFC 9788) show the protected Subject instead
of the outer one, so the tag is not visible there, by design of that RFC.
"""

from __future__ import annotations

import re

from postseal.errors import ConfigError
from postseal.mail.fields import split_message
from postseal.mail.structure import decode_header_value
from postseal.policy import Direction
from postseal.services.agents import AgentContext, AgentResult

__all__ = ["SubjectTagAgent"]

DEFAULT_TAG = "[EXTERNAL]"
_MAX_SUBJECT = 900  # a longer unfolded Subject could not stay under RFC 5322's 998 octets
_PRINTABLE = re.compile(r"[\x20-\x7e]+\Z")


class SubjectTagAgent:
    """Prefixes ``tag`` to the Subject of inbound mail when ``enabled``."""

    name = "subject-tag"

    def __init__(self, *, enabled: bool = False, tag: str = DEFAULT_TAG) -> None:
        if not isinstance(enabled, bool):
            raise ConfigError(f"subject-tag: enabled must be true or false, got {enabled!r}")
        if not isinstance(tag, str) or not _PRINTABLE.match(tag) or not tag.strip():
            raise ConfigError(
                f"subject-tag: tag must be printable ASCII text, got {tag!r}",
                hint='write e.g. tag = "[EXTERNAL]"',
            )
        self.enabled = enabled
        self.tag = tag.strip()

    async def process(self, message: bytes, context: AgentContext) -> AgentResult:
        if not self.enabled or context.direction is not Direction.INBOUND:
            return AgentResult()
        raw = _raw_subject(message)
        if raw is None:
            return AgentResult(set_fields=(("Subject", self.tag),), note="tagged (no Subject)")
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            return AgentResult(note="Subject is not UTF-8: not tagged")
        if self.tag.lower() in decode_header_value(value).lower():
            return AgentResult(note="already tagged")
        if len(value) > _MAX_SUBJECT:
            return AgentResult(note="Subject too long to tag")
        tagged = f"{self.tag} {value}" if value else self.tag
        return AgentResult(set_fields=(("Subject", tagged),), note="Subject tagged")


def _raw_subject(message: bytes) -> bytes | None:
    """The unfolded raw value of the first top-level Subject (RFC 5322 §2.2.3)."""
    fields, _ = split_message(message)
    for field in fields:
        name, colon, value = field.partition(b":")
        if colon and name.strip().lower() == b"subject":
            return re.sub(rb"\r?\n[ \t]", b" ", value).strip()
    return None
