"""A token that changes whenever what validation depends on changes.

Every transaction that adds a CA certificate, revokes one, publishes a CRL, or changes the
trust store or the imported CRLs calls :func:`mark_changed` inside itself; readers that
keep parsed CA certificates and CRLs in memory (the trust context, the CA chain of
signatures) compare :func:`current` — one indexed read of ``meta`` — with the token
they loaded under, and reload when it differs. No staleness, across processes too: the
token commits with the change it announces.
"""

from __future__ import annotations

import secrets

from postseal.store.ports import Transaction

__all__ = ["PKI_STATE_KEY", "current", "mark_changed"]

PKI_STATE_KEY = "pki_state"


async def mark_changed(tx: Transaction) -> None:
    """Announce, within ``tx``, that CA certificates, CRLs or trust entries changed.

    A random token rather than a counter: two concurrent changes never need to agree
    on a next value (PostgreSQL READ COMMITTED), each only has to differ."""
    await tx.meta.set(PKI_STATE_KEY, secrets.token_hex(16))


async def current(tx: Transaction) -> str | None:
    """The token now; None in a store no change has been announced in yet."""
    return await tx.meta.get(PKI_STATE_KEY)
