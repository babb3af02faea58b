"""``mailbox list|show|stats EMAIL``, ``mailbox zero-access EMAIL``, ``mail import EMAIL
FILE.mbox|DIR`` and ``mail export EMAIL DIR``: what an administrator needs to look into a
user's mail store, to put it out of the server's own reach (ADR 0020), and to move users
in and out (Maildir, mbox). Message contents are never printed."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from postseal.cli.cmd_pki import read_input
from postseal.cli.context import ACTOR, Context
from postseal.errors import InputError
from postseal.runtime import Services
from postseal.services.mailboxes import MailboxService
from postseal.services.zero_access import ZeroAccessService
from postseal.store.ports import INBOX, UserRecord

__all__ = ["register"]


def register(groups: Any) -> None:
    mailbox = groups.add_parser("mailbox", help="users' mailboxes").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    listing = mailbox.add_parser("list", help="a user's mailboxes with their counts")
    listing.add_argument("email")
    listing.set_defaults(handler=_list)
    show = mailbox.add_parser("show", help="one mailbox: ids, counters, counts")
    show.add_argument("email")
    show.add_argument("name")
    show.set_defaults(handler=_show)
    stats = mailbox.add_parser("stats", help="a user's totals and quota")
    stats.add_argument("email")
    stats.set_defaults(handler=_stats)
    zero = mailbox.add_parser(
        "zero-access",
        help="store a user's incoming mail encrypted to their own certificate only",
        description="Without an option: show the setting. Mail already stored is not changed.",
    )
    zero.add_argument("email")
    choice = zero.add_mutually_exclusive_group()
    choice.add_argument(
        "--certificate",
        type=Path,
        metavar="FILE",
        help="turn it on with the owner's own certificate (PEM or DER; its key must not be"
        " held by postseal)",
    )
    choice.add_argument("--off", action="store_true", help="turn it off")
    zero.set_defaults(handler=_zero_access)

    mail = groups.add_parser("mail", help="move a user's mail in or out").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    into = mail.add_parser("import", help="append an mbox file or a Maildir")
    into.add_argument("email")
    into.add_argument("source", type=Path, metavar="FILE.mbox|DIR")
    into.add_argument("--mailbox", default=INBOX, metavar="NAME", help="default: INBOX")
    into.set_defaults(handler=_import)
    out = mail.add_parser("export", help="write every mailbox as a Maildir++ tree")
    out.add_argument("email")
    out.add_argument("directory", type=Path, metavar="DIR")
    out.set_defaults(handler=_export)


def _service(services: Services, ctx: Context) -> MailboxService:
    return MailboxService(
        services.store,
        services.master,
        clock=services.clock,
        max_message_size=ctx.settings.mail.max_message_bytes,
    )


async def _user(services: Services, email: str) -> UserRecord:
    return (await services.directory.get(email)).user


async def _list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        mailboxes = _service(services, ctx)
        user = await _user(services, args.email)
        rows = []
        for box in await mailboxes.list_mailboxes(user):
            status = await mailboxes.status(box)
            rows.append(
                {
                    "name": box.name,
                    "special_use": box.special_use,
                    "messages": status.messages,
                    "unseen": status.unseen,
                    "size": status.size,
                }
            )
    ctx.out.table(rows, ["name", "special_use", "messages", "unseen", "size"])
    return 0


async def _show(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        mailboxes = _service(services, ctx)
        user = await _user(services, args.email)
        box = await mailboxes.find(user, args.name)
        status = await mailboxes.status(box)
        subscribed = box.name in await mailboxes.subscriptions(user)
    ctx.out.record(
        {
            "name": box.name,
            "id": box.id,
            "special_use": box.special_use,
            "subscribed": subscribed,
            "created": box.created_at,
            "uidvalidity": status.uidvalidity,
            "uidnext": status.uidnext,
            "highestmodseq": status.highestmodseq,
            "messages": status.messages,
            "unseen": status.unseen,
            "deleted": status.deleted,
            "size": status.size,
        }
    )
    return 0


async def _stats(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        mailboxes = _service(services, ctx)
        user = await _user(services, args.email)
        size, count, quota = await mailboxes.usage(user)
        own = [b for b in await mailboxes.list_mailboxes(user) if b.user_id == user.id]
    ctx.out.record(
        {
            "user": user.address,
            "mailboxes": len(own),
            "messages": count,
            "size": size,
            "quota": quota,
            "used_percent": None if not quota else round(100 * size / quota, 1),
        }
    )
    return 0


async def _zero_access(args: argparse.Namespace, ctx: Context) -> int:
    certificate = (
        await asyncio.to_thread(read_input, args.certificate) if args.certificate else None
    )
    async with ctx.services() as services:
        zero = ZeroAccessService(services.store, services.trust, clock=services.clock)
        if args.off:
            was_on = await zero.disable(args.email, actor=ACTOR)
            state = "off" if was_on else "already off"
            ctx.out.message(f"zero-access mode for {args.email}: {state}", changed=was_on)
            return 0
        if certificate is not None:
            status = await zero.enable(args.email, certificate, actor=ACTOR)
        else:
            status = await zero.status(args.email)
    ctx.out.record(status.as_dict())
    return 0


async def _import(args: argparse.Namespace, ctx: Context) -> int:
    source: Path = args.source
    exists, is_dir = await asyncio.to_thread(lambda: (source.exists(), source.is_dir()))
    if not exists:
        raise InputError(f"{source} does not exist", hint="give an mbox file or a Maildir")
    async with ctx.services() as services:
        mailboxes = _service(services, ctx)
        user = await _user(services, args.email)
        await mailboxes.ensure_defaults(user)
        if is_dir:
            count = await mailboxes.import_maildir(user, source, args.mailbox)
        else:
            count = await mailboxes.import_mbox(user, source, args.mailbox)
        async with services.store.begin() as tx:
            await tx.audit.append(
                actor=ACTOR, action="mail.import", target=user.address, detail=f"{count} messages"
            )
    ctx.out.message(f"imported {count} message(s) for {user.address}", imported=count)
    return 0


async def _export(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        mailboxes = _service(services, ctx)
        user = await _user(services, args.email)
        count = await mailboxes.export_maildir(user, args.directory)
        async with services.store.begin() as tx:
            await tx.audit.append(
                actor=ACTOR, action="mail.export", target=user.address, detail=f"{count} messages"
            )
    ctx.out.message(
        f"exported {count} message(s) of {user.address} to {args.directory}",
        exported=count,
        directory=args.directory,
    )
    return 0
