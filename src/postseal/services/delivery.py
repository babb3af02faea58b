"""The queue runner: delivers queued messages exactly once locally, at least once remotely.

Each pass (:meth:`DeliveryService.run_once`) leases due recipients
(:meth:`~postseal.store.ports.QueueRepository.claim_due`), opens each message's body with
the queue key (``container="queue"``, ``label`` = the queue id) and settles every
recipient it holds:

- **expired** (``expires_at <= now``): ``mark_expired``, and one DSN to the sender in
  the same transaction (RFC 3464; RFC 5321 §4.5.4.1 gives up after 4-5 days);
- **local**: ``mark_delivered`` and the append to the user's INBOX in one transaction
  (ADR 0008 §5), after the optional ``transform`` (decryption for mailboxes whose keys
  the server holds); a user that no longer exists fails with ``5.1.1`` and a DSN;
- **remote**: one :class:`~postseal.services.ports.Relay` transaction per message for
  all its remote recipients; 2yz delivered, 4yz deferred with exponential back-off
  (RFC 5321 §4.5.4.1), 5yz failed with a DSN.

Every ``mark_*`` is guarded by the lease: a ``ConflictError`` means another runner took
over or finished the recipient, so this one skips it and never delivers twice. Any other
error for one message defers its recipients with the error and the runner carries on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import secrets
import socket
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta

from postseal.config.settings import QueueSettings
from postseal.custody import MasterKey, sealing
from postseal.errors import AddressError, ConflictError
from postseal.mail.address import parse_address
from postseal.services.bounces import QUEUE_CONTAINER, Bounced, BounceWriter, wants_failure_notice
from postseal.services.clock import Clock
from postseal.services.mailbox_writer import MailboxWriter
from postseal.services.ports import Relay, RelayOutcome
from postseal.store.ports import ClaimedMessage, QueuedRecipient, RecipientKind, Store

__all__ = ["NO_RELAY", "DeliveryService", "Transform"]

log = logging.getLogger(__name__)
Transform = Callable[[str, bytes], Awaitable[bytes]]
NO_RELAY = "no smart host configured (relay.smart_host)"
_JITTER = 0.1
_REPLY = re.compile(r"([45])\d\d[ -](?:(\1\.\d{1,3}\.\d{1,3})\b)?")


class DeliveryService:
    """One queue runner; ``owner`` names its leases (unique per runner)."""

    def __init__(
        self,
        store: Store,
        master: MasterKey,
        *,
        relay: Relay | None,
        clock: Clock,
        settings: QueueSettings,
        hostname: str,
        owner: str | None = None,
        node: str | None = None,
        transform: Transform | None = None,
        local_domains: Collection[str] = (),
        batch: int = 100,
        relay_concurrency: int = 4,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._queue_key = sealing.queue_key(master)
        self._relay = relay
        self._clock = clock
        self._settings = settings
        # Leases are named "<node>/<pid>/<random>": a restarted node frees what its dead
        # predecessor held (run() below) instead of waiting out lease_seconds.
        self._node = node or socket.gethostname()
        self._owner = owner or f"{self._node}/{os.getpid()}/{secrets.token_hex(4)}"
        self._transform = transform
        self._batch = batch
        self._relay_concurrency = relay_concurrency
        self._rng = rng or random.SystemRandom()
        self._mailboxes = MailboxWriter(master)
        self._bounces = BounceWriter(
            master,
            hostname=hostname,
            expire_hours=settings.expire_hours,
            local_domains=local_domains,
        )
        self._wake = asyncio.Event()

    @property
    def owner(self) -> str:
        return self._owner

    def wake(self) -> None:
        """Start the next pass now (the intake calls this after enqueueing)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set: a pass, then sleep until the next recipient is
        due, ``poll_seconds`` at most, or until :meth:`wake`.

        First it frees the leases this node's previous process left behind: only one
        runner runs per node, so they are a crashed predecessor's (exactly-once holds:
        that process can no longer commit a ``mark_*``)."""
        try:
            async with self._store.begin() as tx:
                freed = await tx.queue.release_leases(owner_prefix=f"{self._node}/")
            if freed:
                log.info(
                    "took back %d recipient(s) leased by a previous run on %s", freed, self._node
                )
        except Exception:
            log.exception("could not free the previous run's leases; they expire on their own")
        while not stop.is_set():
            self._wake.clear()
            try:
                handled = await self.run_once()
                delay = 0.0 if handled >= self._batch else await self._idle_seconds(handled)
            except Exception:
                log.exception("queue run failed; retrying in %s s", self._settings.poll_seconds)
                delay = self._settings.poll_seconds
            if delay > 0:
                await _wait_any((stop, self._wake), seconds=delay)

    async def run_once(self) -> int:
        """One pass: lease the due recipients and settle them; how many were handled.

        Expiries and local deliveries go first, one message after the other; then the
        remote transactions run, ``relay_concurrency`` at a time, so a slow smart host
        never holds up local mail."""
        now = self._clock()
        async with self._store.begin() as tx:
            claimed = await tx.queue.claim_due(
                now,
                owner=self._owner,
                lease_seconds=self._settings.lease_seconds,
                limit=self._batch,
            )
        outward = []
        for item in claimed:
            try:
                if await self._handle(item):
                    outward.append(item)
            except Exception as exc:
                log.exception("delivery of queued message %s failed", item.message.id)
                await self._defer(item, item.recipients, f"internal error: {exc}")
        if outward:
            slots = asyncio.Semaphore(self._relay_concurrency)
            await asyncio.gather(*(self._relay_one(item, slots) for item in outward))
        return sum(len(item.recipients) for item in claimed)

    async def _idle_seconds(self, handled: int) -> float:
        async with self._store.begin() as tx:
            due = await tx.queue.next_due()
        poll = self._settings.poll_seconds
        if due is None:
            return poll
        wait = (due - self._clock()).total_seconds()
        floor = 0.0 if handled else min(poll, 0.05)  # nothing claimable yet: never spin
        return min(max(wait, floor), poll)

    async def _handle(self, item: ClaimedMessage) -> bool:
        """Expire the message or deliver its local recipients; True if remote ones wait."""
        message = item.message
        now = self._clock()
        if message.expires_at <= now:
            try:
                data: bytes | None = self._open(item)
            except Exception:
                data = None  # the sender still hears of the expiry, without the content
            await self._expire(item, data, now)
            return False
        data = self._open(item)
        for recipient in item.recipients:
            if recipient.kind is RecipientKind.LOCAL:
                try:
                    await self._deliver_local(item, recipient, data)
                except ConflictError as exc:
                    log.warning("skipped %s for %s: %s", message.id, recipient.address, exc)
                except Exception as exc:
                    log.exception("local delivery of %s failed", message.id)
                    await self._defer(item, [recipient], f"local delivery failed: {exc}")
        return any(r.kind is RecipientKind.REMOTE for r in item.recipients)

    async def _relay_one(self, item: ClaimedMessage, slots: asyncio.Semaphore) -> None:
        remote = [r for r in item.recipients if r.kind is RecipientKind.REMOTE]
        async with slots:
            try:
                await self._deliver_remote(item, remote, self._open(item))
            except Exception as exc:
                log.exception("remote delivery of queued message %s failed", item.message.id)
                await self._defer(item, remote, f"internal error: {exc}")

    def _open(self, item: ClaimedMessage) -> bytes:
        blob = sealing.SealedBlob(item.body.wrapped_key, item.body.ciphertext)
        return sealing.open_sealed(
            self._queue_key, blob, container=QUEUE_CONTAINER, label=item.message.id
        )

    async def _deliver_local(
        self, item: ClaimedMessage, rcpt: QueuedRecipient, data: bytes
    ) -> None:
        content = await self._transform(rcpt.address, data) if self._transform else data
        message = item.message
        now = self._clock()
        async with self._store.begin() as tx:
            user = await tx.users.get(_canonical(rcpt.address))
            if user is not None:
                await tx.queue.mark_delivered(message.id, rcpt.address, owner=self._owner, at=now)
                await self._mailboxes.deliver(tx, user.id, content, email_id=message.id, now=now)
        if user is None:
            reason = f"550 5.1.1 <{rcpt.address}>: the mailbox no longer exists"
            await self._finish(item, [(rcpt, reason)], data, now=now)
        else:
            log.info("queued message %s delivered to %s", message.id, rcpt.address)

    async def _deliver_remote(
        self, item: ClaimedMessage, remote: Sequence[QueuedRecipient], data: bytes
    ) -> None:
        if self._relay is None:
            await self._defer(item, remote, NO_RELAY)
            return
        try:
            outcomes = await self._relay.send(
                mail_from=item.message.mail_from, rcpt_tos=[r.address for r in remote], data=data
            )
        except Exception as exc:
            log.exception("the relay raised for queued message %s", item.message.id)
            outcomes = {r.address: (RelayOutcome.DEFERRED, f"relay error: {exc}") for r in remote}
        now = self._clock()
        failed: list[tuple[QueuedRecipient, str]] = []
        for rcpt in remote:
            outcome, text = outcomes.get(
                rcpt.address, (RelayOutcome.DEFERRED, "the relay gave no answer for it")
            )
            if outcome is RelayOutcome.FAILED:
                failed.append((rcpt, text))
            elif outcome is RelayOutcome.DEFERRED:
                await self._defer(item, [rcpt], text)
            else:
                try:
                    async with self._store.begin() as tx:
                        await tx.queue.mark_delivered(
                            item.message.id, rcpt.address, owner=self._owner, at=now
                        )
                except ConflictError as exc:  # relayed after the lease ran out
                    log.warning("skipped %s for %s: %s", item.message.id, rcpt.address, exc)
        if failed:
            await self._finish(item, failed, data, now=now)

    async def _expire(self, item: ClaimedMessage, data: bytes | None, now: datetime) -> None:
        since = f"{item.message.received_at:%Y-%m-%d %H:%M} UTC"
        expired = [
            (r, f"delivery time expired (queued {since}): {r.last_error or 'never attempted'}")
            for r in item.recipients
        ]
        await self._finish(item, expired, data, now=now, expired=True)

    async def _finish(
        self,
        item: ClaimedMessage,
        recipients: Sequence[tuple[QueuedRecipient, str]],
        data: bytes | None,
        *,
        now: datetime,
        expired: bool = False,
    ) -> None:
        """Mark each recipient failed (or expired) and queue one DSN for those that want
        it, all in one transaction. A ConflictError from a guarded mark changed nothing,
        so the others go ahead."""
        message = item.message
        async with self._store.begin() as tx:
            bounced = []
            for rcpt, text in recipients:
                try:
                    if expired:
                        await tx.queue.mark_expired(
                            message.id, rcpt.address, owner=self._owner, at=now
                        )
                    else:
                        await tx.queue.mark_failed(
                            message.id, rcpt.address, owner=self._owner, error=text, at=now
                        )
                except ConflictError as exc:
                    log.warning("skipped %s for %s: %s", message.id, rcpt.address, exc)
                    continue
                log.info("queued message %s %s for %s: %s", message.id,
                         "expired" if expired else "failed", rcpt.address, text)  # fmt: skip
                if wants_failure_notice(rcpt.notify):
                    status = "4.4.7" if expired else _status(text, "5.0.0")  # RFC 3463
                    bounced.append(Bounced(rcpt.address, status, text, rcpt.orcpt, now))
            await self._bounces.enqueue(tx, message, data, bounced, now=now)

    async def _defer(
        self, item: ClaimedMessage, recipients: Sequence[QueuedRecipient], error: str
    ) -> None:
        now = self._clock()
        for rcpt in recipients:
            due = min(now + self.backoff(rcpt.attempts), item.message.expires_at)
            try:
                async with self._store.begin() as tx:
                    await tx.queue.mark_deferred(
                        item.message.id,
                        rcpt.address,
                        owner=self._owner,
                        error=error,
                        next_attempt_at=due,
                    )
            except ConflictError as exc:
                log.warning("skipped %s for %s: %s", item.message.id, rcpt.address, exc)
            else:
                log.info("queued message %s deferred for %s until %s: %s", item.message.id,
                         rcpt.address, due.isoformat(), error)  # fmt: skip

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


def _canonical(address: str) -> str:
    try:
        return str(parse_address(address))
    except AddressError:
        return address.lower()


async def _wait_any(events: Sequence[asyncio.Event], *, seconds: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
