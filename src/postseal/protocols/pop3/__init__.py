"""POP3 (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), SASL PLAIN (RFC 5034), UIDL
and TOP, on top of :class:`~postseal.services.mailboxes.MailboxService`."""

from __future__ import annotations

from .context import Authenticate, Pop3Limits
from .listener import KINDS, Pop3Listener

__all__ = ["KINDS", "Authenticate", "Pop3Limits", "Pop3Listener"]
