"""The SMTP edge: MX (``smtp``), ``submission`` and ``submissions`` listeners.

Wire format, sessions and replies live here; everything else is asked of the
:class:`~postseal.services.ports.MailIntake` port. See docs/adr/0007-smtp-edge.md.
"""

from __future__ import annotations

from postseal.protocols.tls import server_context

from .limits import Limits
from .listener import SmtpListener

__all__ = ["Limits", "SmtpListener", "server_context"]
