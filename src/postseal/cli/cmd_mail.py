"""``queue list|show|retry|delete``, ``quarantine list|release|delete``."""

from __future__ import annotations

import argparse
from typing import Any

from postseal.cli.context import ACTOR, Context
from postseal.errors import NotFoundError
from postseal.mailserver import build_mail_services

__all__ = ["register"]


def register(groups: Any) -> None:
    queue = groups.add_parser("queue", help="the mail queue").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    listing = queue.add_parser("list", help="queued messages, oldest first")
    listing.add_argument("--status", choices=("pending", "delivered", "failed", "expired"))
    listing.set_defaults(handler=_queue_list)
    for name, handler, text in (
        ("show", _queue_show, "one message's envelope and recipients"),
        ("retry", _queue_retry, "make its pending recipients due now"),
        ("delete", _queue_delete, "remove it from the queue"),
    ):
        sub = queue.add_parser(name, help=text)
        sub.add_argument("id")
        sub.set_defaults(handler=handler)

    quarantine = groups.add_parser("quarantine", help="held messages").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    held = quarantine.add_parser("list", help="held messages")
    held.add_argument("--all", action="store_true", help="released ones too")
    held.set_defaults(handler=_quarantine_list)
    for name, handler, text in (
        ("release", _quarantine_release, "deliver a held message after all"),
        ("delete", _quarantine_delete, "delete a held message for good"),
    ):
        sub = quarantine.add_parser(name, help=text)
        sub.add_argument("id")
        sub.set_defaults(handler=handler)


def _entry_row(entry: Any) -> dict[str, Any]:
    statuses = sorted({r.status.value for r in entry.recipients})
    return {
        "id": entry.message.id,
        "from": entry.message.mail_from or "<>",
        "received": entry.message.received_at,
        "size": entry.message.size,
        "recipients": [f"{r.address} ({r.status.value})" for r in entry.recipients],
        "status": "/".join(statuses),
    }


async def _queue_list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services, services.store.begin() as tx:
        entries = await tx.queue.list(status=args.status, limit=1000)
    ctx.out.table(
        [_entry_row(e) for e in entries], ["id", "from", "received", "size", "status", "recipients"]
    )
    return 0


async def _queue_show(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services, services.store.begin() as tx:
        entry = await tx.queue.get(args.id)
    if entry is None:
        raise NotFoundError(f"no queued message {args.id}", hint="see `postseal queue list`")
    data = _entry_row(entry)
    data["expires"] = entry.message.expires_at
    data["listener"] = entry.message.listener
    data["client"] = entry.message.client_address
    data["recipients"] = [
        f"{r.address}: {r.status.value}, {r.attempts} attempt(s)"
        + (f", next {r.next_attempt_at:%Y-%m-%d %H:%M:%S}" if r.next_attempt_at else "")
        + (f", last error: {r.last_error}" if r.last_error else "")
        for r in entry.recipients
    ]
    ctx.out.record(data)
    return 0


async def _queue_retry(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services, services.store.begin() as tx:
        count = await tx.queue.retry(args.id, now=services.clock())
        await tx.audit.append(actor=ACTOR, action="queue.retry", target=args.id)
    ctx.out.message(f"{count} recipient(s) of {args.id} are due now", due=count)
    return 0


async def _queue_delete(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services, services.store.begin() as tx:
        await tx.queue.delete(args.id)
        await tx.audit.append(actor=ACTOR, action="queue.delete", target=args.id)
    ctx.out.message(f"deleted {args.id} from the queue")
    return 0


async def _quarantine_list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        mail = build_mail_services(services, ctx.settings)
        entries = await mail.quarantine.list_entries(released=None if args.all else False)
    rows = [
        {
            "id": e.id,
            "from": e.mail_from or "<>",
            "recipients": list(e.recipients),
            "reason": e.reason,
            "held": e.created_at,
            "released": e.released_at,
        }
        for e in entries
    ]
    ctx.out.table(rows, ["id", "from", "recipients", "reason", "held", "released"])
    return 0


async def _quarantine_release(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        mail = build_mail_services(services, ctx.settings)
        queue_id = await mail.quarantine.release(args.id, actor=ACTOR)
    ctx.out.message(f"released {args.id}; queued as {queue_id}", queue_id=queue_id)
    return 0


async def _quarantine_delete(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        mail = build_mail_services(services, ctx.settings)
        await mail.quarantine.delete(args.id, actor=ACTOR)
    ctx.out.message(f"deleted {args.id} from the quarantine")
    return 0
