"""How the queue runner records what became of a recipient (ADR 0010, ADR 0016).

Each settlement is one unit of the process's
:class:`~postseal.services.group_commit.GroupCommit`, guarded by the runner's lease:

- relayed: ``mark_delivered`` for every recipient the smart host accepted;
- deferred: pending again after exponential back-off (RFC 5321 §4.5.4.1), never later
  than the message expires;
- failed or expired: ``mark_failed`` / ``mark_expired`` and one DSN to the sender
  (RFC 3464) in the same transaction, so the sender hears of it exactly once.

A ``ConflictError`` from a guarded mark changed nothing (another runner took the
recipient over, or finished it): the recipient is skipped, logged at warning, and the
others of the unit go ahead. Logging happens after the commit, so a unit run twice (its
batch failed) logs once.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from postseal.config.settings import QueueSettings
from postseal.errors import ConflictError
from postseal.services.bounces import Bounced, BounceWriter, wants_failure_notice
from postseal.services.clock import Clock
from postseal.services.group_commit import GroupCommit
from postseal.store.ports import ClaimedMessage, QueuedRecipient, Transaction

__all__ = ["Settlement"]

log = logging.getLogger("postseal.services.delivery")  # the runner's lines, one log name
_JITTER = 0.1
_REPLY = re.compile(r"([45])\d\d[ -](?:(\1\.\d{1,3}\.\d{1,3})\b)?")


class Settlement:
    """Settles the recipients one runner (``owner``) holds leases on."""

    def __init__(
        self,
        commits: GroupCommit,
        bounces: BounceWriter,
        *,
        owner: str,
        clock: Clock,
        settings: QueueSettings,
        rng: random.Random,
    ) -> None:
        self._commits = commits
        self._bounces = bounces
        self._owner = owner
        self._clock = clock
        self._settings = settings
        self._rng = rng

    async def relayed(
        self, item: ClaimedMessage, relayed: Sequence[QueuedRecipient], now: datetime
    ) -> None:
        message_id, owner = item.message.id, self._owner

        async def mark(tx: Transaction) -> list[tuple[str, ConflictError]]:
            skipped = []
            for rcpt in relayed:
                try:
                    await tx.queue.mark_delivered(message_id, rcpt.address, owner=owner, at=now)
                except ConflictError as exc:  # relayed after the lease ran out
                    skipped.append((rcpt.address, exc))
            return skipped

        for address, exc in await self._commits.run(mark):
            log.warning("skipped %s for %s: %s", message_id, address, exc)

    async def expire(self, item: ClaimedMessage, data: bytes | None, now: datetime) -> None:
        since = f"{item.message.received_at:%Y-%m-%d %H:%M} UTC"
        expired = [
            (r, f"delivery time expired (queued {since}): {r.last_error or 'never attempted'}")
            for r in item.recipients
        ]
        await self.finish(item, expired, data, now=now, expired=True)

    async def finish(
        self,
        item: ClaimedMessage,
        recipients: Sequence[tuple[QueuedRecipient, str]],
        data: bytes | None,
        *,
        now: datetime,
        expired: bool = False,
    ) -> None:
        """Mark each recipient failed (or expired) and queue one DSN for those that want
        it, all in one unit. A ConflictError from a guarded mark changed nothing, so the
        others go ahead."""
        message, owner = item.message, self._owner

        async def finish(tx: Transaction) -> list[tuple[str, str | ConflictError]]:
            outcomes: list[tuple[str, str | ConflictError]] = []
            bounced = []
            for rcpt, text in recipients:
                try:
                    if expired:
                        await tx.queue.mark_expired(message.id, rcpt.address, owner=owner, at=now)
                    else:
                        await tx.queue.mark_failed(
                            message.id, rcpt.address, owner=owner, error=text, at=now
                        )
                except ConflictError as exc:
                    outcomes.append((rcpt.address, exc))
                    continue
                outcomes.append((rcpt.address, text))
                if wants_failure_notice(rcpt.notify):
                    status = "4.4.7" if expired else _status(text, "5.0.0")  # RFC 3463
                    bounced.append(Bounced(rcpt.address, status, text, rcpt.orcpt, now))
            await self._bounces.enqueue(tx, message, data, bounced, now=now)
            return outcomes

        for address, outcome in await self._commits.run(finish):
            if isinstance(outcome, ConflictError):
                log.warning("skipped %s for %s: %s", message.id, address, outcome)
            else:
                log.info("queued message %s %s for %s: %s", message.id,
                         "expired" if expired else "failed", address, outcome)  # fmt: skip

    async def defer(
        self, item: ClaimedMessage, recipients: Sequence[QueuedRecipient], error: str
    ) -> None:
        """Keep each recipient pending, due again after its back-off (never after the
        message expires); one unit for all of them."""
        now = self._clock()
        message_id, owner = item.message.id, self._owner
        due = {
            r.address: min(now + self.backoff(r.attempts), item.message.expires_at)
            for r in recipients
        }

        async def defer(tx: Transaction) -> list[tuple[str, ConflictError | None]]:
            outcomes: list[tuple[str, ConflictError | None]] = []
            for address, when in due.items():
                try:
                    await tx.queue.mark_deferred(
                        message_id, address, owner=owner, error=error, next_attempt_at=when
                    )
                except ConflictError as exc:
                    outcomes.append((address, exc))
                else:
                    outcomes.append((address, None))
            return outcomes

        for address, conflict in await self._commits.run(defer):
            if conflict is not None:
                log.warning("skipped %s for %s: %s", message_id, address, conflict)
            else:
                log.info("queued message %s deferred for %s until %s: %s", message_id,
                         address, due[address].isoformat(), error)  # fmt: skip

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th try: initial * 2^(attempts-1), at most
        ``retry_max_seconds``, then ±10 % jitter so retries of a burst spread out."""
        base = self._settings.retry_initial_seconds * 2 ** max(attempts - 1, 0)
        capped = min(base, self._settings.retry_max_seconds)
        return timedelta(seconds=capped * self._rng.uniform(1 - _JITTER, 1 + _JITTER))


def _status(reply: str, default: str) -> str:
    """The enhanced status code of an SMTP reply (RFC 3463), or ``default``."""
    found = _REPLY.match(reply)
    if found is None:
        return default
    return found.group(2) or f"{found.group(1)}.0.0"
