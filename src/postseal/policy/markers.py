"""How a sender asks for signing or encryption: a subject tag and a request header.

- The **subject tag** (``secure_subject_tag``, default ``[secure]``) asks for encryption.
  It is found anywhere in the Subject, case-insensitively (``Re: [SECURE] contract``
  counts: replies keep it), and removed from the Subject when honoured so the recipient
  does not see an instruction meant for the server. An empty tag turns the feature off.
- The **request header** (``request_header``, default ``X-Postseal-Request``) carries
  comma- or space-separated tokens ``sign`` and ``encrypt``, case-insensitive, in one or
  more fields. Any other token is reported, never ignored: a typo such as ``encrpyt``
  must not send a confidential message in clear. The header is always removed before the
  message leaves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postseal.policy.facts import MessageFacts
from postseal.policy.rules import Effective

__all__ = ["Requests", "find_requests", "has_subject_tag", "strip_subject_tag"]

_TOKENS = frozenset({"sign", "encrypt"})
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True, slots=True)
class Requests:
    """What the sender asked for, and how."""

    sign: bool = False
    encrypt_by_tag: bool = False
    encrypt_by_header: bool = False
    header_present: bool = False
    unknown: tuple[str, ...] = ()

    @property
    def encrypt(self) -> bool:
        return self.encrypt_by_tag or self.encrypt_by_header


def has_subject_tag(subject: str, tag: str) -> bool:
    """True when ``tag`` (non-empty) occurs in ``subject``, ignoring case."""
    return bool(tag) and tag.lower() in subject.lower()


def strip_subject_tag(subject: str, tag: str) -> str:
    """``subject`` without any occurrence of ``tag`` (ignoring case) and the blanks around
    it, other text untouched: ``"Re: [SECURE]  Q3 figures"`` → ``"Re: Q3 figures"``."""
    if not tag:
        return subject
    pattern = re.compile(r"[ \t]*" + re.escape(tag) + r"[ \t]*", re.IGNORECASE)
    return pattern.sub(" ", subject).strip(" \t")


def find_requests(facts: MessageFacts, settings: Effective) -> Requests:
    """The requests in ``facts`` under the tag and header name of ``settings``."""
    values = facts.header_values(settings.request_header)
    tokens = [t.lower() for value in values for t in _SEPARATORS.split(value) if t]
    unknown = tuple(dict.fromkeys(t for t in tokens if t not in _TOKENS))
    return Requests(
        sign="sign" in tokens,
        encrypt_by_tag=has_subject_tag(facts.subject, settings.secure_subject_tag),
        encrypt_by_header="encrypt" in tokens,
        header_present=bool(values),
        unknown=unknown,
    )
