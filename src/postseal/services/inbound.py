"""Inbound delivery hook: decrypt for mailboxes whose keys the server holds, by policy.

With ``decrypt = "decrypt"`` for a recipient (policy.user/group/domain/organisation), an
encrypted message is stored decrypted (still sealed at rest under the mailbox key) so
webmail, IMAP search and the antivirus can read it; an inner signature is verified and its
outcome recorded in ``Authentication-Results`` (RFC 8601) outside the content. With the
default ``keep`` the message is stored as it arrived, byte-exact.

A message that cannot be decrypted (not for this key, altered) is stored as it arrived:
the recipient's own mail program may still hold a key that opens it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from postseal.errors import PostsealError
from postseal.mail import trace
from postseal.mail.fields import field_value
from postseal.policy import DecryptMode, RuleSource, smime_layers
from postseal.services.smime import SmimeService

__all__ = ["decrypt_transform"]

log = logging.getLogger("postseal.inbound")

Transform = Callable[[str, bytes], Awaitable[bytes]]


def decrypt_transform(
    smime: SmimeService, rules: RuleSource, *, authserv_id: str = "postseal"
) -> Transform:
    async def transform(address: str, message: bytes) -> bytes:
        if rules.resolve(address).decrypt is not DecryptMode.DECRYPT:
            return message
        _, encrypted = smime_layers(field_value(message, "Content-Type") or "text/plain")
        if not encrypted:
            return message
        try:
            outcome = await smime.decrypt(message, as_address=address)
        except PostsealError as exc:
            log.info("kept a message for %s encrypted: %s", address, exc.message)
            return message
        restored = outcome.result.restored_message
        if outcome.inner is None:
            return restored
        verdict = "pass" if outcome.inner.ok else "fail"
        field = trace.authentication_results(
            authserv_id=authserv_id,
            results=[("smime", verdict, "; ".join(outcome.inner.summary())[:300], {})],
        )
        return trace.prepend_fields(restored, [field])

    return transform
