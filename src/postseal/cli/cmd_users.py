"""``user add|list|show|locks|enable|disable|unlock|passwd|remove``."""

from __future__ import annotations

import argparse
from typing import Any

from postseal.cli.context import ACTOR, Context
from postseal.cli.output import read_secret_stdin
from postseal.mail.address import parse_address
from postseal.services.passwords import generate_password
from postseal.services.throttle import PER_ACCOUNT

__all__ = ["register"]


def register(groups: Any) -> None:
    users = groups.add_parser("user", help="directory users").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    add = users.add_parser("add", help="add a user (and issue a certificate)")
    add.add_argument("email")
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--template", default="User")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--no-cert", action="store_true", help="do not issue a certificate now")
    add.add_argument("--extension", help="mailbox extension number for voice access (digits)")
    add.add_argument("--group", action="append", default=[], help="add to a group (repeatable)")
    add.set_defaults(handler=_add)

    users.add_parser("list", help="all users").set_defaults(handler=_list)
    users.add_parser(
        "locks", help="users with failed logins in the last 15 minutes, and who is locked out"
    ).set_defaults(handler=_locks)
    for name, handler, text in (
        ("show", _show, "one user with attributes and certificates"),
        ("enable", _enable, "allow the user to log in and enroll"),
        ("disable", _disable, "stop the user logging in and enrolling"),
        ("remove", _remove, "remove the user and revoke their certificates"),
        ("unlock", _unlock, "forget the user's failed logins, so they may log in at once"),
    ):
        sub = users.add_parser(name, help=text)
        sub.add_argument("email")
        sub.set_defaults(handler=handler)
    passwd = users.add_parser("passwd", help="set a user's password (read from stdin)")
    passwd.add_argument("email")
    passwd.add_argument("--password-stdin", action="store_true", required=True)
    passwd.set_defaults(handler=_passwd)


async def _add(args: argparse.Namespace, ctx: Context) -> int:
    generated = None
    if args.password_stdin:
        password = read_secret_stdin("password")
    else:
        password = generated = generate_password()
    async with ctx.services() as services:
        user, issued = await services.directory.add_user(
            args.email,
            display_name=args.name,
            template=args.template,
            password=password,
            extension=args.extension,
            groups=args.group,
            issue_certificate=not args.no_cert,
            actor=ACTOR,
        )
    data: dict[str, Any] = {"address": user.address, "template": user.template}
    if issued is not None:
        data["certificate"] = issued.record.serial
        data["expires"] = issued.record.not_after
    if generated is not None:
        data["password"] = generated
    ctx.out.record(data)
    return 0


async def _list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        users = await services.directory.list_users()
    rows = [
        {
            "address": u.address,
            "name": u.display_name,
            "enabled": u.enabled,
            "template": u.template,
            "extension": u.extension,
            "groups": list(u.groups),
        }
        for u in users
    ]
    ctx.out.table(rows, ["address", "name", "enabled", "template", "extension", "groups"])
    return 0


async def _show(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        details = await services.directory.get(args.email)
        failed = await services.directory.failed_logins(args.email)
    by_der = {c.der: c.serial for c in details.certificates}
    attrs = details.attributes

    def attr(der: bytes | None) -> str | None:
        return None if der is None else by_der.get(der, "foreign certificate")

    user = details.user
    ctx.out.record(
        {
            "address": user.address,
            "name": user.display_name,
            "enabled": user.enabled,
            "template": user.template,
            "extension": user.extension,
            "groups": list(user.groups),
            "password set": user.password_hash is not None,
            "userCertificate": attr(attrs.user_certificate),
            "userSMIMECertificate": attr(attrs.user_smime_certificate),
            "certificates": [
                f"{c.serial} ({'revoked' if c.revoked_at else 'until ' + c.not_after.date().isoformat()})"
                for c in details.certificates
            ],
            "created": user.created_at,
            # every protocol's failures of the last 15 minutes; `user unlock` forgets them
            "failed logins": failed,
            "locked": failed >= PER_ACCOUNT,
        }
    )
    return 0


async def _enable(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        user = await services.directory.set_enabled(args.email, enabled=True, actor=ACTOR)
    ctx.out.message(f"{user.address} is enabled", address=user.address)
    return 0


async def _disable(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        user = await services.directory.set_enabled(args.email, enabled=False, actor=ACTOR)
    ctx.out.message(f"{user.address} is disabled", address=user.address)
    return 0


async def _remove(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        revoked = await services.directory.remove(args.email, actor=ACTOR)
    ctx.out.message(
        f"removed {args.email.strip().lower()}; revoked {len(revoked)} certificate(s)",
        revoked=revoked,
    )
    return 0


async def _locks(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        found = await services.directory.failed_logins_by_user()
    rows = [
        {"address": user.address, "failed logins": count, "locked": count >= PER_ACCOUNT}
        for user, count in found
    ]
    ctx.out.table(rows, ["address", "failed logins", "locked"])
    return 0


async def _unlock(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        cleared = await services.directory.unlock(args.email, actor=ACTOR)
    address = str(parse_address(args.email))
    ctx.out.message(
        f"{address}: {cleared} failed login(s) forgotten", address=address, cleared=cleared
    )
    return 0


async def _passwd(args: argparse.Namespace, ctx: Context) -> int:
    password = read_secret_stdin("password")
    async with ctx.services() as services:
        await services.directory.set_password(args.email, password, actor=ACTOR)
    ctx.out.message("password changed")
    return 0
