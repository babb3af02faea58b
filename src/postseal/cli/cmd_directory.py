"""``directory check|publish`` and ``enroll run``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from postseal.cli.cmd_pki import read_input
from postseal.cli.context import ACTOR, Context
from postseal.errors import InputError
from postseal.pki import trust as pki_trust
from postseal.store.ports import DirectoryAttribute

__all__ = ["register"]

EXIT_FINDINGS = 3


def register(groups: Any) -> None:
    directory = groups.add_parser("directory", help="the certificate attributes").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    check = directory.add_parser(
        "check", help="find users whose two attributes disagree or are stale"
    )
    check.add_argument("--fix", action="store_true", help="repair what is found")
    check.set_defaults(handler=_check)
    publish = directory.add_parser(
        "publish",
        help="write a certificate file into a user's attributes (both unless --attribute)",
    )
    publish.add_argument("email")
    publish.add_argument("file", type=Path)
    publish.add_argument("--attribute", choices=[a.value for a in DirectoryAttribute])
    publish.set_defaults(handler=_publish)

    enroll = groups.add_parser("enroll", help="auto-enrollment").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    enroll.add_parser(
        "run", help="issue, renew, re-issue and withdraw as templates require"
    ).set_defaults(handler=_enroll)


async def _check(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        findings = await services.directory.check(fix=args.fix, actor=ACTOR)
    rows = [
        {"address": f.address, "problem": f.problem, "detail": f.detail, "fixed": f.fixed}
        for f in findings
    ]
    if not findings and not ctx.out.as_json:
        print("every user's userCertificate and userSMIMECertificate agree and are valid")
        return 0
    ctx.out.table(rows, ["address", "problem", "detail", "fixed"])
    return EXIT_FINDINGS if findings and not args.fix else 0


async def _publish(args: argparse.Namespace, ctx: Context) -> int:
    certs = pki_trust.load_certificates(read_input(args.file))
    if len(certs) != 1:
        raise InputError(f"{args.file} holds {len(certs)} certificates; give exactly one")
    der = certs[0].public_bytes(serialization.Encoding.DER)
    attribute = DirectoryAttribute(args.attribute) if args.attribute else None
    async with ctx.services() as services:
        await services.directory.publish_attribute(
            args.email, der, attribute=attribute, actor=ACTOR
        )
    ctx.out.message(f"published into {attribute or 'both attributes'} of {args.email}")
    return 0


async def _enroll(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        actions = await services.enrollment.run(actor=ACTOR)
    if not actions and not ctx.out.as_json:
        print("nothing to do: every user holds a current certificate")
        return 0
    ctx.out.table(
        [{"address": a.address, "action": a.action, "detail": a.detail} for a in actions],
        ["address", "action", "detail"],
    )
    return 1 if any(a.action == "failed" for a in actions) else 0
