"""The intake: what postseal does with a message between DATA and ``250`` (issue 4).

Implements :class:`postseal.services.ports.MailIntake` for the SMTP edge.

Outbound (submission, 587/465; an authenticated local sender):
policy decides → refusals are 5.7.x replies naming the reason → the plaintext is scanned →
the subject tag and request header are removed → transport agents (ADR 0015; a disclaimer
added here is covered by the signature) → signed and/or encrypted with the keys the server
holds (the sender always gets a copy) → a ``Received:`` field → sealed and queued.

Inbound (MX, 25; local recipients only): scanned (encrypted mail follows the
``on_unscannable_encrypted`` rule) → S/MIME signatures verified and the outcome recorded in
``Authentication-Results:`` (RFC 8601, method ``smime``) prepended outside the signed
content, signer certificates harvested → transport agents (after verification, so they
cannot affect what was verified) → ``Received:`` → sealed and queued. Decryption for
mailboxes whose keys the server holds happens at delivery.

Either way the message is committed to the queue (sealed, one transaction) before
:meth:`IntakeService.accept` returns, so the edge's ``250`` is never premature. The
transaction is shared with whatever other sessions are committing at the same moment
(:mod:`postseal.services.group_commit`, ADR 0016): one fsync for a burst, and each
session still answers only after the commit that holds its message. The facts the policy
decides on — does the recipient exist, which groups, which recipients hold a certificate
for encryption, can the server sign for the sender — come from the caches of
:mod:`postseal.services.user_facts`, seconds old at most; signing and encryption
themselves look keys and certificates up afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from postseal.config.settings import MailSettings, QueueSettings
from postseal.custody import MasterKey, sealing
from postseal.errors import (
    AddressError,
    AuthenticationError,
    ContentRefusedError,
    MessageFormatError,
    NotFoundError,
    PolicyError,
    RelayDeniedError,
    SenderDeniedError,
    TemporaryError,
    TooLargeError,
)
from postseal.mail import trace
from postseal.mail.address import parse_address
from postseal.mail.fields import field_value, remove_fields, replace_field, split_message
from postseal.policy import (
    MessageFacts,
    PolicyDecision,
    RuleSource,
    decide,
    decide_antivirus,
    smime_layers,
)
from postseal.policy.antivirus import AntivirusAction
from postseal.policy.facts import Direction
from postseal.services.agents import AgentPipeline, TransportAgent
from postseal.services.agents_loading import load_agents
from postseal.services.clock import Clock
from postseal.services.directory import DirectoryService
from postseal.services.group_commit import GroupCommit
from postseal.services.ports import Envelope, Listener, Scanner, ScanResult, ScanVerdict
from postseal.services.quarantine import QuarantineService
from postseal.services.queueing import QUEUE_WRITER, seal_for_queue
from postseal.services.smime import SmimeService
from postseal.services.throttle import AuthThrottle
from postseal.services.user_facts import SmimeFactsCache, UserFactsCache
from postseal.store.ports import Store

__all__ = ["IntakeService"]

log = logging.getLogger("postseal.intake")
_SUBMISSION = (Listener.SUBMISSION, Listener.SUBMISSIONS)


class IntakeService:
    def __init__(
        self,
        store: Store,
        master: MasterKey,
        *,
        directory: DirectoryService,
        smime: SmimeService,
        quarantine: QuarantineService,
        rules: RuleSource,
        scanner: Scanner | None,
        clock: Clock,
        hostname: str,
        local_domains: Sequence[str],
        mail: MailSettings,
        queue: QueueSettings,
        throttle: AuthThrottle | None = None,
        on_enqueued: Callable[[], None] = lambda: None,
        agents: Sequence[TransportAgent] | None = None,
        commits: GroupCommit | None = None,
        user_facts: UserFactsCache | None = None,
    ) -> None:
        self._store = store
        self._commits = commits or GroupCommit(store)
        self._users = user_facts or UserFactsCache(store)
        self._smime_facts = SmimeFactsCache(smime)
        self._master = master
        self._directory = directory
        self._smime = smime
        self._quarantine = quarantine
        self._rules = rules
        self._scanner = scanner
        self._clock = clock
        self._hostname = hostname
        self._local = frozenset(d.lower() for d in local_domains)
        self._mail = mail
        self._queue = queue
        self._throttle = throttle or AuthThrottle()
        self._on_enqueued = on_enqueued
        # Transport agents (ADR 0015); None: the built-ins with their defaults.
        self._agents = AgentPipeline(
            load_agents() if agents is None else agents, local_domains=self._local
        )

    # -- MailIntake ---------------------------------------------------------------------

    async def authenticate(self, username: str, password: str, *, client_address: str) -> str:
        await self._throttle.check(address=client_address, account=username)
        user = await self._directory.authenticate(username, password)
        if user is None:
            await self._throttle.failed(address=client_address, account=username)
            raise AuthenticationError("authentication failed")
        await self._throttle.succeeded(account=username)
        return user.address

    async def check_sender(
        self, *, listener: Listener, auth_user: str | None, mail_from: str
    ) -> None:
        if listener in _SUBMISSION:
            if auth_user is None:
                raise SenderDeniedError("authenticate before sending")
            if not mail_from or str(parse_address(mail_from)) != auth_user:
                raise SenderDeniedError(f"{auth_user} may not send as <{mail_from}>")
        elif mail_from:
            parse_address(mail_from)

    async def check_recipient(
        self, *, listener: Listener, auth_user: str | None, rcpt_to: str
    ) -> None:
        address = self._resolve(rcpt_to)
        if address.split("@", 1)[1] in self._local:
            await self._require_local_user(address)
            return
        if listener not in _SUBMISSION or auth_user is None:
            raise RelayDeniedError(f"relaying to <{rcpt_to}> is not allowed")
        if len(address) > 254:
            raise AddressError(f"<{rcpt_to}> is too long")

    async def accept(self, envelope: Envelope) -> str:
        data = envelope.data
        if len(data) > self._mail.max_message_bytes:
            raise TooLargeError(f"the message is larger than {self._mail.max_message_bytes} bytes")
        if b"\x00" in data:
            raise MessageFormatError("the message contains NUL bytes")
        recipients = [self._resolve(r) for r in envelope.rcpt_tos]
        if not recipients:
            raise MessageFormatError("no valid recipients")
        outbound = envelope.listener in _SUBMISSION
        if outbound:
            data, held = await self._outbound(envelope, data, recipients)
            protocol = "ESMTPSA"
        else:
            data, held = await self._inbound(envelope, data, recipients)
            protocol = "ESMTPS" if envelope.tls else "ESMTP"
        if held is not None:
            return held
        now = self._clock()
        message_id = sealing.new_id(now)
        received = trace.received_field(
            from_helo=envelope.helo or "unknown",
            client_address=envelope.client_address,
            by_host=self._hostname,
            protocol=protocol,
            queue_id=message_id,
            for_address=recipients[0] if len(recipients) == 1 else None,
            at=now,
            tls=None,
        )
        data = trace.prepend_fields(data, [received])
        await self._enqueue(envelope, message_id, data, recipients)
        self._on_enqueued()
        return message_id

    async def explain(
        self, data: bytes, *, sender: str, recipients: Sequence[str]
    ) -> PolicyDecision:
        """Dry-run: the decision the intake would make for this message, changing nothing.
        A sender in a local domain makes it outbound (submission), otherwise inbound (MX)."""
        canonical = [self._resolve(r) for r in recipients]
        sender = str(parse_address(sender)) if sender else ""
        if sender and sender.split("@", 1)[1] in self._local:
            found, _ = await self._smime.lookup(canonical)
            facts = await self._facts(
                Direction.OUTBOUND, sender, canonical, data, certified=found.keys()
            )
        else:
            facts = await self._facts(Direction.INBOUND, sender, canonical, data, certified=())
        return decide(facts, self._rules)

    # -- the two directions ---------------------------------------------------------------

    async def _outbound(
        self, envelope: Envelope, data: bytes, recipients: list[str]
    ) -> tuple[bytes, str | None]:
        sender = envelope.auth_user or ""
        certified = await self._smime_facts.certified(recipients)
        facts = await self._facts(Direction.OUTBOUND, sender, recipients, data, certified=certified)
        decision = decide(facts, self._rules)
        if decision.refuse:
            raise PolicyError(decision.refuse)
        held = await self._scan(data, facts)
        if held is not None:
            return data, held
        if decision.strip_subject_tag and decision.subject is not None:
            data = replace_field(data, "Subject", decision.subject)
        if decision.remove_headers:
            data = remove_fields(data, list(decision.remove_headers))
        data = await self._agents.run(data, facts, decision)  # before signing: it covers them
        if decision.encrypt:
            result = await self._smime.encrypt(
                data, to=recipients, sender=sender, sign=decision.sign
            )
            log.info("encrypted for %d recipient(s): %s", len(recipients), result.reason)
            return result.message, None
        if decision.sign:
            return await self._smime.sign_message(data, as_address=sender), None
        return data, None

    async def _inbound(
        self, envelope: Envelope, data: bytes, recipients: list[str]
    ) -> tuple[bytes, str | None]:
        facts = await self._facts(
            Direction.INBOUND, envelope.mail_from, recipients, data, certified=()
        )
        decision = decide(facts, self._rules)
        held = await self._scan(data, facts, envelope=envelope)
        if held is not None:
            return data, held
        fields: list[bytes] = []
        if decision.verify and facts.signed and not facts.encrypted:
            fields.append(await self._verify_field(data, harvest=decision.harvest_certificates))
        data = trace.prepend_fields(data, fields) if fields else data
        return await self._agents.run(data, facts, decision), None  # after verification

    async def _verify_field(self, data: bytes, *, harvest: bool) -> bytes:
        sender = field_value(data, "From") or ""
        try:
            result = await self._smime.verify(data, harvest=harvest)
        except PolicyError as exc:
            outcome, reason = "permerror", exc.message
        except (ValueError, MessageFormatError) as exc:
            outcome, reason = "permerror", str(exc)
        except Exception as exc:  # a hostile message must not stop delivery
            log.warning("S/MIME verification failed unexpectedly: %s", type(exc).__name__)
            outcome, reason = "temperror", "verification failed"
        else:
            outcome = "pass" if result.ok else "fail"
            reason = "; ".join(result.summary())[:300]
        properties = {"header.from": sender[:200]} if sender else {}
        return trace.authentication_results(
            authserv_id=self._hostname, results=[("smime", outcome, reason, properties)]
        )

    # -- helpers -------------------------------------------------------------------------

    async def _facts(
        self,
        direction: Direction,
        sender: str,
        recipients: list[str],
        data: bytes,
        *,
        certified: Iterable[str],
    ) -> MessageFacts:
        content_type = field_value(data, "Content-Type") or "text/plain"
        signed, encrypted = smime_layers(content_type)
        local = frozenset(r for r in recipients if r.split("@", 1)[1] in self._local)
        members = [sender] if direction is Direction.OUTBOUND else sorted(local)
        known = await self._users.many(a for a in members if a)
        groups = {address: facts.groups for address, facts in known.items()}
        return MessageFacts(
            direction=direction,
            sender=sender,
            recipients=tuple(recipients),
            groups=groups,
            local_recipients=local,
            certified_recipients=frozenset(certified),
            sender_can_sign=await self._smime_facts.can_sign(sender)
            if direction is Direction.OUTBOUND
            else False,
            server_held_keys=local,
            subject=field_value(data, "Subject") or "",
            headers=_top_fields(data),
            signed=signed,
            encrypted=encrypted,
            size=len(data),
        )

    async def _scan(
        self, data: bytes, facts: MessageFacts, *, envelope: Envelope | None = None
    ) -> str | None:
        """Apply the antivirus policy; the quarantine id when the message is held."""
        if self._scanner is None:
            return None
        result = (
            ScanResult(ScanVerdict.CLEAN) if facts.encrypted else await self._scanner.scan(data)
        )
        decision = decide_antivirus(
            result.verdict.value,
            encrypted=facts.encrypted,
            rules=self._rules,
            facts=facts,
            signature=result.signature,
        )
        if decision.action is AntivirusAction.REFUSE:
            raise ContentRefusedError(decision.message)
        if decision.action is AntivirusAction.TEMPFAIL:
            raise TemporaryError(decision.message)
        if decision.action is AntivirusAction.QUARANTINE:
            return await self._quarantine.hold(
                data,
                mail_from=facts.sender,
                recipients=facts.recipients,
                reason=decision.message,
                signature=result.signature,
            )
        return None

    def _resolve(self, rcpt: str) -> str:
        """Canonical recipient; the bare ``postmaster`` (RFC 5321 §4.5.1) is the first
        local domain's postmaster."""
        if rcpt.lower() == "postmaster" and self._local:
            rcpt = f"postmaster@{sorted(self._local)[0]}"
        return str(parse_address(rcpt))

    async def _require_local_user(self, address: str) -> None:
        facts = await self._users.get(address)
        if facts is None:
            raise NotFoundError(f"no mailbox here by the name <{address}>")
        if not facts.enabled:
            raise NotFoundError(f"the mailbox <{address}> is disabled")

    async def _enqueue(
        self, envelope: Envelope, message_id: str, data: bytes, recipients: list[str]
    ) -> None:
        sealed = seal_for_queue(
            self._master,
            message_id=message_id,
            data=data,
            mail_from=envelope.mail_from,
            recipients=recipients,
            local_domains=self._local,
            now=self._clock(),
            expire_hours=self._queue.expire_hours,
            listener=envelope.listener.value,
            client_address=envelope.client_address,
            auth_user=envelope.auth_user,
        )
        await self._commits.write(QUEUE_WRITER, sealed)


def _top_fields(data: bytes) -> tuple[tuple[str, str], ...]:
    """The top-level header fields as (name, unfolded value); at most 500."""
    fields, _ = split_message(data)
    result = []
    for raw in fields[:500]:
        name, sep, value = raw.partition(b":")
        if sep:
            unfolded = value.replace(b"\r\n", b"").strip()
            result.append(
                (name.strip().decode("ascii", "replace"), unfolded.decode("utf-8", "replace"))
            )
    return tuple(result)
