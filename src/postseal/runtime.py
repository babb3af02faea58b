"""The composition root: the one place that builds concrete adapters and services.

``open_services`` unlocks the data directory (master key first, so a missing or wrong key
refuses before the store is touched), opens the store and wires the services.
``serve`` adds the listeners and the periodic jobs inside one ``AsyncExitStack`` and runs
until SIGINT or SIGTERM. The mail policy in force is postseal.toml's with the database's
merged over it; ``serve`` reads the database's before it listens and then polls the policy
version every :data:`POLICY_POLL_SECONDS`, so ``postseal policy set`` needs no restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from postseal.config import ENV_MASTER_KEY, Settings
from postseal.custody import MasterKey
from postseal.errors import ConflictError, StoreError
from postseal.mailserver import (
    build_mail_services,
    start_mailbox_listeners,
    start_smtp_listeners,
)
from postseal.pki.export import to_pem_bundle
from postseal.protocols.http.pki import Publication, pki_app
from postseal.protocols.http.server import HttpListener
from postseal.services.certificates import CertificateService
from postseal.services.clock import Clock, system_clock
from postseal.services.contacts import ContactService
from postseal.services.custody import (
    MASTER_KEY_FILE,
    create_master_key,
    load_master_key,
    verify_master_key,
)
from postseal.services.directory import DirectoryService
from postseal.services.enrollment import EnrollmentService
from postseal.services.passwords import PasswordService
from postseal.services.policy_rules import PolicyRuleService
from postseal.services.setup import InitRequest, InitResult, SetupService, check_request
from postseal.services.smime import SmimeService
from postseal.services.templates import TemplateService
from postseal.services.trust import TrustService
from postseal.smtp_workers import SmtpWorkers, watch_parent
from postseal.store.ports import CertificateRole, Store
from postseal.store.sql import check, open_store, upgrade

__all__ = ["POLICY_POLL_SECONDS", "Services", "initialise", "open_services", "serve"]

log = logging.getLogger("postseal")

#: How often a running server checks the database's policy version: one indexed read of
#: ``meta``, so a change is in force within seconds (ADR 0019).
POLICY_POLL_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Services:
    store: Store
    master: MasterKey
    clock: Clock
    certificates: CertificateService
    trust: TrustService
    directory: DirectoryService
    enrollment: EnrollmentService
    passwords: PasswordService
    templates: TemplateService
    contacts: ContactService
    smime: SmimeService
    policy: PolicyRuleService
    meta: Mapping[str, str]


def _wire(
    store: Store, master: MasterKey, settings: Settings, clock: Clock, meta: Mapping[str, str]
) -> Services:
    passwords = PasswordService()
    certificates = CertificateService(
        store, master, clock=clock, crl_validity_days=settings.pki.crl_validity_days
    )
    trust = TrustService(store, clock=clock, fail_open=settings.pki.revocation_fail_open)
    directory = DirectoryService(
        store, certificates=certificates, trust=trust, passwords=passwords, clock=clock
    )
    enrollment = EnrollmentService(store, certificates=certificates, clock=clock)
    contacts = ContactService(store, trust=trust, clock=clock)
    smime = SmimeService(
        store,
        certificates=certificates,
        trust=trust,
        directory=directory,
        contacts=contacts,
        clock=clock,
    )
    return Services(
        store=store,
        master=master,
        clock=clock,
        certificates=certificates,
        trust=trust,
        directory=directory,
        enrollment=enrollment,
        passwords=passwords,
        templates=TemplateService(store),
        contacts=contacts,
        smime=smime,
        policy=PolicyRuleService(store, local_domains=_local_domains(settings, meta), clock=clock),
        meta=meta,
    )


def _local_domains(settings: Settings, meta: Mapping[str, str]) -> tuple[str, ...]:
    domain = meta.get("domain", "")
    return settings.mail.local_domains or ((domain,) if domain else ())


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    migrate: bool = False,
    clock: Clock = system_clock,
) -> AsyncIterator[Services]:
    """Unlock and open an initialised data directory."""
    if ENV_MASTER_KEY not in environ and not (settings.data_dir / MASTER_KEY_FILE).exists():
        status = None
        with contextlib.suppress(StoreError):
            status = await check(settings.store.database_url)
        if status is None or status.current is None:
            raise StoreError(
                f"{settings.data_dir} is not initialised",
                hint="run `postseal init --org NAME --domain DOMAIN` (or pass --data-dir)",
            )
    master = load_master_key(settings.data_dir, environ)
    store = await open_store(settings.store.database_url, migrate=migrate)
    try:
        async with store.begin() as tx:
            meta = dict(await tx.meta.all())
        if "org" not in meta:
            raise StoreError(
                f"the store of {settings.data_dir} is not initialised",
                hint="run `postseal init --org NAME --domain DOMAIN`",
            )
        verify_master_key(master, meta.get("master_key_check"))
        yield _wire(store, master, settings, clock, meta)
    finally:
        await store.close()


async def initialise(
    settings: Settings,
    environ: Mapping[str, str],
    request: InitRequest,
    *,
    clock: Clock = system_clock,
) -> InitResult:
    """``postseal init``: refuses, changing nothing, when the data dir is in use."""
    data_dir = settings.data_dir
    check_request(request)
    if (data_dir / MASTER_KEY_FILE).exists():
        raise ConflictError(
            f"{data_dir} is already initialised (it holds {MASTER_KEY_FILE}); nothing was changed",
            hint="use another --data-dir for a new organisation",
        )
    status = None
    with contextlib.suppress(StoreError):
        status = await check(settings.store.database_url)
    if status is not None and status.current is not None:
        probe = await open_store(settings.store.database_url, migrate=False)
        try:
            async with probe.begin() as tx:
                org = await tx.meta.get("org")
        finally:
            await probe.close()
        if org is not None:
            raise ConflictError(
                f"the store of {data_dir} already holds the organisation {org!r}; nothing was changed"
            )
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    master, written = create_master_key(data_dir, environ)
    try:
        await upgrade(settings.store.database_url)
        store = await open_store(settings.store.database_url)
        try:
            setup = SetupService(store, master, clock=clock, passwords=PasswordService())
            return await setup.initialise(request)
        finally:
            await store.close()
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise


def publication_source(services: Services) -> Callable[[str], Awaitable[Publication | None]]:
    roles = {
        "root": CertificateRole.ROOT,
        "issuing": CertificateRole.ISSUING,
        "service": CertificateRole.SERVICE_ISSUING,
    }

    async def source(name: str) -> Publication | None:
        stem, _, kind = name.partition(".")
        if name == "ca.pem":
            cas = await services.certificates.ca_certificates()
            chain = [cas[r] for r in (CertificateRole.ROOT, CertificateRole.ISSUING) if r in cas]
            return (
                Publication(to_pem_bundle(chain), chain[0].not_valid_before_utc) if chain else None
            )
        role = roles.get(stem)
        if role is None:
            return None
        if kind == "crl":
            crl = await services.certificates.latest_crl(role)
            return None if crl is None else Publication(crl.der, crl.this_update, crl.next_update)
        async with services.store.begin() as tx:
            record = await tx.certificates.current_ca(role)
        return None if record is None else Publication(record.der, record.not_before)

    return source


async def _every(interval: timedelta, job: Callable[[], Awaitable[object]], name: str) -> None:
    while True:
        try:
            await job()
        except Exception:  # a periodic job must survive a bad run; the next one retries
            log.exception("%s failed; retrying in %s", name, interval)
        await asyncio.sleep(interval.total_seconds())


async def serve(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    ready: Callable[[dict[str, int]], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run every configured listener and the periodic jobs until a signal or ``stop``."""
    stop = stop or asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        services = await stack.enter_async_context(open_services(settings, environ, migrate=True))
        _stop_on_signals(stack, stop)
        bound: dict[str, int] = {}
        mail = build_mail_services(services, settings)
        await services.policy.refresh(mail.rules)  # before the first message is accepted
        smtp = await start_smtp_listeners(stack, services, settings, mail)
        bound.update({name: listener.port for name, listener in smtp.items()})
        if smtp and settings.mail.smtp_processes > 1:
            workers = SmtpWorkers(
                settings,
                environ,
                {name: listener.fileno() for name, listener in smtp.items()},
                count=settings.mail.smtp_processes - 1,
            )
            await workers.start()
            stack.push_async_callback(workers.stop)  # before the listeners stop
        bound.update(await start_mailbox_listeners(stack, services, settings, mail))
        prefix = urlsplit(services.meta.get("pki_url", "")).path or "/pki"
        for address in settings.listen:
            if address.name == "http":
                app = pki_app(publication_source(services), prefix=prefix, clock=services.clock)
                listener = HttpListener(app, host=address.host, port=address.port)
                await listener.start()
                stack.push_async_callback(listener.stop)
                bound["http"] = listener.port
        jobs = [
            asyncio.create_task(
                _every(
                    timedelta(hours=settings.pki.crl_refresh_hours),
                    lambda: services.certificates.publish_crls(actor="serve"),
                    "CRL publication",
                )
            ),
            asyncio.create_task(
                _every(
                    timedelta(minutes=settings.pki.enroll_interval_minutes),
                    lambda: services.enrollment.run(actor="serve"),
                    "auto-enrollment",
                )
            ),
        ]
        jobs.append(asyncio.create_task(mail.delivery.run(stop), name="queue runner"))
        jobs.append(
            asyncio.create_task(
                services.policy.watch(mail.rules, interval=POLICY_POLL_SECONDS),
                name="policy reload",
            )
        )
        for job in jobs:
            stack.callback(job.cancel)
        # The start-up objects (modules, settings, caches) live as long as the process:
        # moved out of the collector's reach, a full collection no longer walks them and
        # stalls every session for tens of milliseconds (measured 25-35 ms, ADR 0017).
        gc.collect()
        gc.freeze()
        log.info("postseal serving %s", ", ".join(f"{k}:{v}" for k, v in bound.items()))
        if ready is not None:
            ready(bound)
        await stop.wait()
    await _reap_stragglers()


async def serve_smtp_worker(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    number: int,
    inherited: Mapping[str, int],
    parent: int | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve the inherited SMTP listening sockets (name → descriptor) as worker
    ``number`` of ``postseal serve`` (ADR 0024, :mod:`postseal.smtp_workers`): the mail
    path and a queue runner of its own, nothing else. Stops on SIGTERM, or when serve
    (``parent``, its pid) is gone."""
    stop = stop or asyncio.Event()
    parent = parent or os.getppid()
    if os.getppid() != parent:
        log.warning("serve (pid %d) is gone before this SMTP worker started", parent)
        return
    node = settings.queue.node_id or socket.gethostname()
    queue = dataclasses.replace(settings.queue, node_id=f"{node}.smtp{number}")
    settings = dataclasses.replace(settings, queue=queue)
    async with contextlib.AsyncExitStack() as stack:
        services = await stack.enter_async_context(open_services(settings, environ))
        _stop_on_signals(stack, stop)
        mail = build_mail_services(services, settings)
        await services.policy.refresh(mail.rules)
        sockets = {name: socket.socket(fileno=fd) for name, fd in inherited.items()}
        await start_smtp_listeners(stack, services, settings, mail, inherited=sockets)
        jobs = [
            asyncio.create_task(mail.delivery.run(stop), name="queue runner"),
            asyncio.create_task(
                services.policy.watch(mail.rules, interval=POLICY_POLL_SECONDS),
                name="policy reload",
            ),
            asyncio.create_task(watch_parent(parent, stop), name="parent watch"),
        ]
        for job in jobs:
            stack.callback(job.cancel)
        gc.collect()
        gc.freeze()
        log.info("SMTP worker %d (pid %d) serving %s", number, os.getpid(), ", ".join(sockets))
        await stop.wait()
    await _reap_stragglers()


def _stop_on_signals(stack: contextlib.AsyncExitStack, stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` while ``stack`` is open."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            stack.callback(loop.remove_signal_handler, sig)


async def _reap_stragglers(grace: float = 5.0) -> None:
    """Cancel what is left (connection handlers, orphaned accepts) and name whatever does
    not stop in time, so a slow shutdown is diagnosable instead of silent."""
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    if not pending:
        return
    _, stuck = await asyncio.wait(pending, timeout=grace)
    for task in stuck:
        frames = "; ".join(f"{f.f_code.co_filename}:{f.f_lineno}" for f in task.get_stack(limit=8))
        log.error("task %s did not stop within %s s: %s", task.get_name(), grace, frames)
