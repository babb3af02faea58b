"""Wiring of the mail path for ``serve``: intake, quarantine, delivery, relay, scanner and
the SMTP listeners. Part of the composition root (:mod:`postseal.runtime`), kept in its own
module so each stays small.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from postseal.adapters.clamav import ClamdScanner
from postseal.adapters.mx_lookup import MxLookup
from postseal.adapters.mx_relay import MxRelay
from postseal.adapters.smtp_relay import SmtpRelay
from postseal.config import Settings
from postseal.custody import MasterKey
from postseal.errors import AuthenticationError, NotFoundError
from postseal.policy import LiveRules
from postseal.protocols.imap.listener import ImapListener
from postseal.protocols.pop3 import Pop3Listener
from postseal.protocols.smtp import Limits, SmtpListener, server_context
from postseal.services.agents_loading import load_agents
from postseal.services.certificates import CertificateService
from postseal.services.clock import Clock
from postseal.services.delivery import DeliveryService
from postseal.services.directory import DirectoryService
from postseal.services.group_commit import GroupCommit
from postseal.services.inbound import decrypt_transform
from postseal.services.intake import IntakeService
from postseal.services.mailboxes import MailboxService
from postseal.services.ports import Relay, Scanner
from postseal.services.quarantine import QuarantineService
from postseal.services.smime import SmimeService
from postseal.services.throttle import AuthThrottle, StoreFailureLog
from postseal.services.trust import TrustService
from postseal.services.zero_access import ZeroAccessService
from postseal.store.ports import CertificateRole, Store, UserRecord

__all__ = [
    "MailServices",
    "build_mail_services",
    "start_mailbox_listeners",
    "start_smtp_listeners",
]

log = logging.getLogger("postseal.mail")
RELAY_CONCURRENCY = 10  # remote transactions a queue runner has open at once (Postfix: 5 to 20)
SMTP_LISTENERS = ("smtp", "submission", "submissions")
IMAP_LISTENERS = ("imap", "imaps")
POP3_LISTENERS = ("pop3", "pop3s")


class CoreServices(Protocol):
    """What the mail path needs of :class:`postseal.runtime.Services`."""

    @property
    def store(self) -> Store: ...
    @property
    def master(self) -> MasterKey: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def meta(self) -> Mapping[str, str]: ...
    @property
    def certificates(self) -> CertificateService: ...
    @property
    def directory(self) -> DirectoryService: ...
    @property
    def smime(self) -> SmimeService: ...
    @property
    def trust(self) -> TrustService: ...


@dataclass(frozen=True, slots=True)
class MailServices:
    rules: LiveRules  # postseal.toml + database, swapped live (ADR 0019)
    local_domains: frozenset[str]
    hostname: str
    quarantine: QuarantineService
    intake: IntakeService
    delivery: DeliveryService
    mailboxes: MailboxService
    commits: GroupCommit  # the intake's and the runner's writes, grouped (ADR 0016)
    throttle: AuthThrottle  # failed logins of every protocol, counted in the store (ADR 0027)


def _scanner(spec: str) -> Scanner | None:
    if not spec:
        return None
    if spec.startswith("unix:"):
        return ClamdScanner(unix_path=spec.removeprefix("unix:"))
    host, _, port = spec.removeprefix("tcp:").rpartition(":")
    return ClamdScanner(host=host, port=int(port))


def build_mail_services(core: CoreServices, settings: Settings) -> MailServices:
    """Everything of the mail path that does not listen on a socket (the CLI's ``queue``,
    ``policy`` and ``quarantine`` commands use it too)."""
    rules = LiveRules.from_toml(settings.policy)
    domain = core.meta.get("domain", "")
    local = frozenset(settings.mail.local_domains or ((domain,) if domain else ()))
    hostname = core.meta.get("hostname", "localhost")
    quarantine = QuarantineService(
        core.store,
        core.master,
        clock=core.clock,
        local_domains=local,
        expire_hours=settings.queue.expire_hours,
    )
    relay: Relay | None = None
    if settings.relay.smart_host:
        host, _, port = settings.relay.smart_host.rpartition(":")
        relay = SmtpRelay(
            host,
            int(port),
            require_tls=settings.relay.require_tls,
            ca_file=settings.relay.ca_file or None,
            helo_name=hostname,
            reuse=RELAY_CONCURRENCY,  # one kept connection per concurrent relay
        )
    elif settings.relay.direct:
        lookup = MxLookup(settings.relay.dns_servers)
        relay = MxRelay(lookup, helo_name=hostname, port=settings.relay.mx_port)
    # One group commit for the intake and the queue runner: their writes share
    # transactions and never wait for each other's SQLite write lock (ADR 0016).
    commits = GroupCommit(core.store)
    throttle = AuthThrottle(log=StoreFailureLog(core.store))
    delivery = DeliveryService(
        core.store,
        core.master,
        commits=commits,
        relay=relay,
        relay_concurrency=RELAY_CONCURRENCY,
        clock=core.clock,
        settings=settings.queue,
        hostname=hostname,
        node=settings.queue.node_id or None,
        transform=decrypt_transform(core.smime, rules, authserv_id=hostname),
        zero_access=ZeroAccessService(core.store, core.trust, clock=core.clock),
        local_domains=tuple(sorted(local)),
    )
    intake = IntakeService(
        core.store,
        core.master,
        directory=core.directory,
        smime=core.smime,
        quarantine=quarantine,
        rules=rules,
        scanner=_scanner(settings.mail.clamd),
        clock=core.clock,
        hostname=hostname,
        local_domains=sorted(local),
        mail=settings.mail,
        queue=settings.queue,
        on_enqueued=delivery.wake,
        agents=load_agents(settings.mail.agents, options=settings.mail.agent_options),
        commits=commits,
        throttle=throttle,
    )
    mailboxes = MailboxService(
        core.store,
        core.master,
        clock=core.clock,
        max_message_size=settings.mail.max_message_bytes,
    )
    return MailServices(
        rules, local, hostname, quarantine, intake, delivery, mailboxes, commits, throttle
    )


async def _tls_context(core: CoreServices) -> ssl.SSLContext:
    cas = await core.certificates.ca_certificates()
    async with core.store.begin() as tx:
        record = await tx.certificates.current_ca(CertificateRole.TLS)
    if record is None:
        raise NotFoundError(
            "no TLS certificate for the mail listeners", hint="run `postseal init` first"
        )
    key = await core.certificates.private_key(record)
    leaf = x509.load_der_x509_certificate(record.der)
    chain = [leaf] + [cas[r] for r in (CertificateRole.SERVICE_ISSUING,) if r in cas]
    pem_chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return server_context(cert_chain=pem_chain, key=pem_key)


async def start_smtp_listeners(
    stack: contextlib.AsyncExitStack,
    core: CoreServices,
    settings: Settings,
    mail: MailServices,
    *,
    inherited: Mapping[str, socket.socket] | None = None,
) -> dict[str, SmtpListener]:
    """Start every configured SMTP listener inside ``stack``; name → listener.

    With ``inherited`` (an SMTP worker process, ADR 0024) exactly those listening sockets
    are served, by name, and nothing is bound. Registered first, so it runs after the
    listeners have stopped (their commits in progress answered) and before the store
    closes: the group commit finishes what it was handed, the queue runner's last
    settlements included."""
    stack.push_async_callback(mail.commits.drain)
    wanted: list[tuple[str, str, int, socket.socket | None]]
    if inherited is None:
        wanted = [
            (a.name, a.host, a.port, None) for a in settings.listen if a.name in SMTP_LISTENERS
        ]
    else:
        wanted = [(name, "", 0, sock) for name, sock in inherited.items()]
    if not wanted:
        return {}
    tls = await _tls_context(core)
    limits = Limits(
        max_message_size=settings.mail.max_message_bytes,
        max_recipients=settings.mail.max_recipients,
    )
    started = {}
    for name, host, port, sock in wanted:
        listener = SmtpListener(
            name,
            mail.intake,
            host=host,
            port=port,
            hostname=mail.hostname,
            tls=tls,
            limits=limits,
            sock=sock,
        )
        await listener.start()
        stack.push_async_callback(listener.stop)
        started[name] = listener
    return started


def _authenticator(
    core: CoreServices, throttle: AuthThrottle
) -> Callable[[str, str, str], Awaitable[UserRecord]]:
    """Password login for IMAP and POP3: throttled per address and account (the same rule
    as SMTP AUTH), one argon2 verification per attempt, one error for every failure."""

    async def authenticate(username: str, password: str, client_address: str) -> UserRecord:
        await throttle.check(address=client_address, account=username)
        user = await core.directory.authenticate(username, password)
        if user is None:
            await throttle.failed(address=client_address, account=username)
            raise AuthenticationError("wrong address or password")
        await throttle.succeeded(account=username)
        return user

    return authenticate


async def start_mailbox_listeners(
    stack: contextlib.AsyncExitStack, core: CoreServices, settings: Settings, mail: MailServices
) -> dict[str, int]:
    """Start every configured IMAP and POP3 listener inside ``stack``; name → bound port."""
    wanted = [a for a in settings.listen if a.name in IMAP_LISTENERS + POP3_LISTENERS]
    if not wanted:
        return {}
    tls = await _tls_context(core)
    authenticate = _authenticator(core, mail.throttle)
    bound = {}
    for address in wanted:
        listener: ImapListener | Pop3Listener
        if address.name in IMAP_LISTENERS:
            listener = ImapListener(
                address.name,
                mailboxes=mail.mailboxes,
                authenticate=authenticate,
                host=address.host,
                port=address.port,
                hostname=mail.hostname,
                tls=tls,
            )
        else:
            listener = Pop3Listener(
                address.name,
                service=mail.mailboxes,
                authenticate=authenticate,
                host=address.host,
                port=address.port,
                hostname=mail.hostname,
                tls=tls,
            )
        await listener.start()
        stack.push_async_callback(listener.stop)
        bound[address.name] = listener.port
    return bound
