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

Every write goes through the process's :class:`~postseal.services.group_commit.GroupCommit`
(ADR 0016): the claim, the INBOX look-ups and each settlement are units, and the local
deliveries (sealed for the mailbox beforehand, outside the transaction) are items of
:data:`~postseal.services.local_delivery.LOCAL_DELIVERIES`, written a batch at a time.
The messages of a pass are settled concurrently so that their writes share
transactions. Exactly-once still rests on one thing: a recipient's mark and its append
commit together or not at all; a recipient whose mark is refused gets no append, and a
failed batch is run again delivery by delivery, so none takes another's with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from postseal.config.settings import QueueSettings
from postseal.custody import MasterKey, sealing
from postseal.errors import AddressError, ConflictError, PostsealError, TemporaryError
from postseal.mail.address import parse_address
from postseal.services.bounces import QUEUE_CONTAINER, BounceWriter
from postseal.services.clock import Clock
from postseal.services.group_commit import GroupCommit
from postseal.services.local_delivery import LOCAL_DELIVERIES, LocalDelivery
from postseal.services.mailbox_writer import MailboxWriter
from postseal.services.ports import Relay, RelayOutcome
from postseal.services.settlement import Settlement
from postseal.services.zero_access import ZeroAccessService
from postseal.store.ports import (
    ClaimedMessage,
    Mailbox,
    QueuedRecipient,
    RecipientKind,
    Store,
    Transaction,
    ZeroAccessRecord,
)

__all__ = ["NO_RELAY", "DeliveryService", "KeepsConnections", "Transform"]

log = logging.getLogger(__name__)
Transform = Callable[[str, bytes], Awaitable[bytes]]
NO_RELAY = "no way out for remote mail: set relay.smart_host, or relay.direct = true"


@runtime_checkable
class KeepsConnections(Protocol):
    """A relay that keeps connections between sends (``SmtpRelay(reuse=…)``): told when
    the runner goes idle, so that none outlives the burst it served."""

    async def close_idle(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Inbox:
    """Where a local address delivers during one pass: its user's INBOX."""

    user_id: int
    mailbox: Mailbox
    zero_access: ZeroAccessRecord | None = None  # ADR 0020: encrypt to the owner alone


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
        zero_access: ZeroAccessService | None = None,
        local_domains: Collection[str] = (),
        batch: int = 100,
        relay_concurrency: int = 4,
        rng: random.Random | None = None,
        commits: GroupCommit | None = None,
    ) -> None:
        self._store = store
        self._commits = commits or GroupCommit(store)
        self._queue_key = sealing.queue_key(master)
        self._relay = relay
        self._clock = clock
        self._settings = settings
        # Leases are named "<node>/<pid>/<random>": a restarted node frees what its dead
        # predecessor held (run() below) instead of waiting out lease_seconds.
        self._node = node or socket.gethostname()
        self._owner = owner or f"{self._node}/{os.getpid()}/{secrets.token_hex(4)}"
        self._transform = transform
        self._zero_access = zero_access
        self._batch = batch
        self._relay_concurrency = relay_concurrency
        self._mailboxes = MailboxWriter(master)
        bounces = BounceWriter(
            master,
            hostname=hostname,
            expire_hours=settings.expire_hours,
            local_domains=local_domains,
        )
        self._settle = Settlement(
            self._commits,
            bounces,
            owner=self._owner,
            clock=clock,
            settings=settings,
            rng=rng or random.SystemRandom(),
        )
        self._wake = asyncio.Event()

    @property
    def owner(self) -> str:
        return self._owner

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th try (see :meth:`Settlement.backoff`)."""
        return self._settle.backoff(attempts)

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
                # Woken during the pass (the intake enqueued): go on at once, no need to
                # ask the store when the next recipient is due.
                busy = handled >= self._batch or self._wake.is_set()
                delay = 0.0 if busy else await self._idle_seconds(handled)
            except Exception:
                log.exception("queue run failed; retrying in %s s", self._settings.poll_seconds)
                delay = self._settings.poll_seconds
            if delay > 0:
                # Connections are kept from pass to pass while mail keeps coming, and
                # closed when the runner has nothing to do for now.
                await self._close_idle_connections()
                await _wait_any((stop, self._wake), seconds=delay)
        await self._close_idle_connections()

    async def run_once(self) -> int:
        """One pass: lease the due recipients and settle them; how many were handled.

        Expiries and local deliveries go first, the messages concurrently (their writes
        share group commits); then the remote transactions run, ``relay_concurrency`` at
        a time, so a slow smart host never holds up local mail."""
        now = self._clock()
        owner, lease, limit = self._owner, self._settings.lease_seconds, self._batch

        async def claim(tx: Transaction) -> Sequence[ClaimedMessage]:
            return await tx.queue.claim_due(now, owner=owner, lease_seconds=lease, limit=limit)

        claimed = await self._commits.run(claim)
        if not claimed:
            return 0
        try:
            inboxes = await self._inboxes(claimed, now)
        except Exception as exc:
            log.exception("could not look up the INBOXes of %d queued message(s)", len(claimed))
            reason = f"internal error: {exc}"
            await asyncio.gather(*(self._settle.defer(i, i.recipients, reason) for i in claimed))
            return sum(len(item.recipients) for item in claimed)
        handled = await asyncio.gather(
            *(self._handle_safely(item, inboxes, now) for item in claimed)
        )
        outward = [item for item, remote in zip(claimed, handled, strict=True) if remote]
        if outward:
            slots = asyncio.Semaphore(self._relay_concurrency)
            await asyncio.gather(*(self._relay_one(item, slots) for item in outward))
        return sum(len(item.recipients) for item in claimed)

    async def _close_idle_connections(self) -> None:
        """Close the relay's kept connections: the burst they served is over."""
        if isinstance(self._relay, KeepsConnections):
            try:
                await self._relay.close_idle()
            except Exception:
                log.exception("could not close the relay's idle connections")

    async def _inboxes(
        self, claimed: Sequence[ClaimedMessage], now: datetime
    ) -> dict[str, _Inbox | None]:
        """The INBOX of every local recipient of the pass (created when missing), or None
        for an address that is no user any more; one unit, committed before any append
        relies on it."""
        addresses = sorted(
            {
                r.address
                for item in claimed
                if item.message.expires_at > now
                for r in item.recipients
                if r.kind is RecipientKind.LOCAL
            }
        )
        if not addresses:
            return {}

        async def look_up(tx: Transaction) -> dict[str, _Inbox | None]:
            found: dict[str, _Inbox | None] = {}
            for address in addresses:
                user = await tx.users.get(_canonical(address))
                if user is None:
                    found[address] = None
                    continue
                inbox = await self._mailboxes.ensure_inbox(tx, user.id, now=now)
                found[address] = _Inbox(user.id, inbox, await tx.zero_access.get(user.id))
            return found

        return await self._commits.run(look_up)

    async def _idle_seconds(self, handled: int) -> float:
        async with self._store.peek() as tx:
            due = await tx.queue.next_due()
        poll = self._settings.poll_seconds
        if due is None:
            return poll
        wait = (due - self._clock()).total_seconds()
        floor = 0.0 if handled else min(poll, 0.05)  # nothing claimable yet: never spin
        return min(max(wait, floor), poll)

    async def _handle_safely(
        self, item: ClaimedMessage, inboxes: dict[str, _Inbox | None], now: datetime
    ) -> bool:
        try:
            return await self._handle(item, inboxes, now)
        except Exception as exc:
            log.exception("delivery of queued message %s failed", item.message.id)
            await self._settle.defer(item, item.recipients, f"internal error: {exc}")
            return False

    async def _handle(
        self, item: ClaimedMessage, inboxes: dict[str, _Inbox | None], now: datetime
    ) -> bool:
        """Expire the message or deliver its local recipients; True if remote ones wait.
        ``now`` is the pass's: the deliveries of a pass share one time, and so one
        guarded ``UPDATE`` in the group commit."""
        message = item.message
        if message.expires_at <= now:
            try:
                data: bytes | None = self._open(item)
            except Exception:
                data = None  # the sender still hears of the expiry, without the content
            await self._settle.expire(item, data, now)
            return False
        data = self._open(item)
        local = [r for r in item.recipients if r.kind is RecipientKind.LOCAL]
        await asyncio.gather(
            *(self._deliver_local_safely(item, r, data, inboxes.get(r.address), now) for r in local)
        )
        return len(local) < len(item.recipients)

    async def _deliver_local_safely(
        self,
        item: ClaimedMessage,
        recipient: QueuedRecipient,
        data: bytes,
        inbox: _Inbox | None,
        now: datetime,
    ) -> None:
        message = item.message
        try:
            await self._deliver_local(item, recipient, data, inbox, now)
        except ConflictError as exc:
            log.warning("skipped %s for %s: %s", message.id, recipient.address, exc)
        except PostsealError as exc:  # a reason, not a bug (e.g. a zero-access
            # mailbox whose certificate lapsed): no traceback, the message waits
            log.warning("local delivery of %s to %s deferred: %s", message.id,
                        recipient.address, exc.message)  # fmt: skip
            await self._settle.defer(item, [recipient], f"local delivery failed: {exc.message}")
        except Exception as exc:
            log.exception("local delivery of %s failed", message.id)
            await self._settle.defer(item, [recipient], f"local delivery failed: {exc}")

    async def _relay_one(self, item: ClaimedMessage, slots: asyncio.Semaphore) -> None:
        remote = [r for r in item.recipients if r.kind is RecipientKind.REMOTE]
        async with slots:
            try:
                await self._deliver_remote(item, remote, self._open(item))
            except Exception as exc:
                log.exception("remote delivery of queued message %s failed", item.message.id)
                await self._settle.defer(item, remote, f"internal error: {exc}")

    def _open(self, item: ClaimedMessage) -> bytes:
        blob = sealing.SealedBlob(item.body.wrapped_key, item.body.ciphertext)
        return sealing.open_sealed(
            self._queue_key, blob, container=QUEUE_CONTAINER, label=item.message.id
        )

    async def _deliver_local(
        self,
        item: ClaimedMessage,
        rcpt: QueuedRecipient,
        data: bytes,
        inbox: _Inbox | None,
        now: datetime,
    ) -> None:
        message = item.message
        if inbox is None:
            reason = f"550 5.1.1 <{rcpt.address}>: the mailbox no longer exists"
            await self._settle.finish(item, [(rcpt, reason)], data, now=now)
            return
        if inbox.zero_access is not None:
            # read in the pass's own lookup above: no extra transaction per message
            if self._zero_access is None:
                raise TemporaryError(
                    f"{rcpt.address} has a zero-access mailbox and this queue runner"
                    " cannot encrypt for it"
                )
            content = await self._zero_access.protect(rcpt.address, data, inbox.zero_access)
        elif self._transform:
            content = await self._transform(rcpt.address, data)
        else:
            content = data
        sealed = await self._mailboxes.seal(
            inbox.mailbox, content, email_id=message.id, internal_date=now
        )
        # marked and appended in one transaction; a lost lease refuses it (ConflictError)
        delivery = LocalDelivery(
            message.id, rcpt.address, self._owner, now, inbox.mailbox.id, sealed
        )
        await self._commits.write(LOCAL_DELIVERIES, delivery)
        log.info("queued message %s delivered to %s", message.id, rcpt.address)

    async def _deliver_remote(
        self, item: ClaimedMessage, remote: Sequence[QueuedRecipient], data: bytes
    ) -> None:
        if self._relay is None:
            await self._settle.defer(item, remote, NO_RELAY)
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
        deferred: dict[str, list[QueuedRecipient]] = {}
        relayed: list[QueuedRecipient] = []
        for rcpt in remote:
            outcome, text = outcomes.get(
                rcpt.address, (RelayOutcome.DEFERRED, "the relay gave no answer for it")
            )
            if outcome is RelayOutcome.FAILED:
                failed.append((rcpt, text))
            elif outcome is RelayOutcome.DEFERRED:
                deferred.setdefault(text, []).append(rcpt)
            else:
                relayed.append(rcpt)
        settled = [self._settle.defer(item, rcpts, text) for text, rcpts in deferred.items()]
        if relayed:
            settled.append(self._settle.relayed(item, relayed, now))
        if failed:
            settled.append(self._settle.finish(item, failed, data, now=now))
        await asyncio.gather(*settled)


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
