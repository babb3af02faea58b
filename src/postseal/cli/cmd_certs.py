"""``cert issue|list|show|revoke|renew|export`` and ``template list|add|supersede``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from postseal.cli.context import ACTOR, Context
from postseal.cli.output import read_secret_stdin, write_bytes
from postseal.pki import trust as pki_trust
from postseal.pki.crl import SUBSCRIBER_REASONS
from postseal.pki.keys import KEY_TYPES
from postseal.pki.templates import TemplateProfile, eku_name
from postseal.services.export import ExportService

__all__ = ["register"]

_EKU_ALIASES = {
    "email": "1.3.6.1.5.5.7.3.4",
    "client-auth": "1.3.6.1.5.5.7.3.2",
    "efs": "1.3.6.1.4.1.311.10.3.4",
    "smartcard-logon": "1.3.6.1.4.1.311.20.2.2",
    "trust-list-signing": "1.3.6.1.4.1.311.10.3.1",
}


def register(groups: Any) -> None:
    certs = groups.add_parser("cert", help="certificates").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    issue = certs.add_parser("issue", help="issue and publish a certificate for a user")
    issue.add_argument("email")
    issue.add_argument("--template")
    issue.set_defaults(handler=_issue)
    listing = certs.add_parser("list", help="certificates, newest first")
    listing.add_argument("--user", metavar="EMAIL")
    listing.set_defaults(handler=_list)
    show = certs.add_parser("show", help="one certificate")
    show.add_argument("serial")
    show.add_argument("--pem", action="store_true", help="print the certificate as PEM")
    show.set_defaults(handler=_show)
    revoke = certs.add_parser(
        "revoke", help="revoke, withdraw from the directory, re-issue the CRL"
    )
    revoke.add_argument("serial")
    revoke.add_argument("--reason", required=True, choices=SUBSCRIBER_REASONS)
    revoke.add_argument(
        "--force", action="store_true", help="allow revoking one of postseal's own CAs"
    )
    revoke.set_defaults(handler=_revoke)
    renew = certs.add_parser("renew", help="a new certificate and key for the same user")
    renew.add_argument("serial")
    renew.set_defaults(handler=_renew)
    export = certs.add_parser("export", help="a user's current certificate (and key)")
    export.add_argument("email")
    export.add_argument("--format", required=True, choices=("pem", "der", "p12"))
    export.add_argument(
        "--with-key", action="store_true", help="include the private key (p12 only)"
    )
    export.add_argument("--password-stdin", action="store_true", help="PKCS#12 password on stdin")
    export.add_argument(
        "--legacy-p12", action="store_true", help="3DES/SHA-1 PKCS#12 for gpgsm and old clients"
    )
    export.add_argument("--out", type=Path, help="write here instead of standard output")
    export.set_defaults(handler=_export)

    templates = groups.add_parser("template", help="certificate templates").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    templates.add_parser("list", help="all templates").set_defaults(handler=_template_list)
    add = templates.add_parser("add", help="a new template")
    add.add_argument("name")
    add.add_argument(
        "--eku", action="append", required=True, help=f"one of {', '.join(_EKU_ALIASES)} or an OID"
    )
    add.add_argument("--key-type", required=True, choices=KEY_TYPES)
    add.add_argument("--validity-days", type=int, default=365)
    add.add_argument("--renewal-days", type=int, default=42)
    add.add_argument("--description", default="")
    add.set_defaults(handler=_template_add)
    supersede = templates.add_parser("supersede", help="replace a template by another")
    supersede.add_argument("name")
    supersede.add_argument("--by", required=True)
    supersede.set_defaults(handler=_template_supersede)


def _cert_row(record: Any) -> dict[str, Any]:
    status = "revoked" if record.revoked_at else ("superseded" if record.superseded_by else "valid")
    return {
        "serial": record.serial,
        "role": record.role,
        "subject": record.subject,
        "template": record.template,
        "not_after": record.not_after,
        "status": status,
        "revoked_at": record.revoked_at,
        "reason": record.revocation_reason,
    }


async def _issue(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        issued = await services.certificates.issue(args.email, template=args.template, actor=ACTOR)
    ctx.out.record(_cert_row(issued.record))
    return 0


async def _list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        records = await services.certificates.list_certificates(address=args.user)
    ctx.out.table(
        [_cert_row(r) for r in records],
        ["serial", "role", "subject", "template", "not_after", "status"],
    )
    return 0


async def _show(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        record = await services.certificates.get(args.serial)
    cert = x509.load_der_x509_certificate(record.der)
    if args.pem:
        print(cert.public_bytes(serialization.Encoding.PEM).decode(), end="")
        return 0
    data = {**_cert_row(record), **pki_trust.describe(cert), "superseded_by": record.superseded_by}
    try:
        ekus = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        data["purposes"] = [eku_name(oid.dotted_string) for oid in ekus]
    except x509.ExtensionNotFound:
        pass
    ctx.out.record(data)
    return 0


async def _revoke(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        record = await services.certificates.revoke(
            args.serial, reason=args.reason, actor=ACTOR, allow_ca=args.force
        )
    ctx.out.message(
        f"revoked {record.serial} ({record.revocation_reason}); the CRL was re-issued",
        serial=record.serial,
        reason=record.revocation_reason,
    )
    return 0


async def _renew(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        issued = await services.certificates.renew(args.serial, actor=ACTOR)
    ctx.out.record(_cert_row(issued.record))
    return 0


async def _export(args: argparse.Namespace, ctx: Context) -> int:
    password = read_secret_stdin("PKCS#12 password") if args.password_stdin else None
    async with ctx.services() as services:
        exporter = ExportService(
            services.store, certificates=services.certificates, clock=services.clock
        )
        exported = await exporter.export(
            args.email,
            fmt=args.format,
            with_key=args.with_key,
            password=password,
            legacy=args.legacy_p12,
            actor=ACTOR,
        )
    if args.out is not None and exported.secret:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(exported.data)
        return 0
    write_bytes(exported.data, args.out, binary=exported.binary)
    return 0


async def _template_list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        records = await services.templates.list()
    rows = [
        {
            "name": t.name,
            "key_type": t.key_type,
            "validity_days": t.validity_days,
            "renewal_days": t.renewal_days,
            "purposes": [eku_name(oid) for oid in t.ekus],
            "superseded_by": t.superseded_by,
        }
        for t in records
    ]
    ctx.out.table(
        rows, ["name", "key_type", "validity_days", "renewal_days", "purposes", "superseded_by"]
    )
    return 0


async def _template_add(args: argparse.Namespace, ctx: Context) -> int:
    ekus = tuple(_EKU_ALIASES.get(e, e) for e in args.eku)
    profile = TemplateProfile(
        args.name, args.description, ekus, args.key_type, args.validity_days, args.renewal_days
    )
    async with ctx.services() as services:
        await services.templates.add(profile, actor=ACTOR)
    ctx.out.message(f"template {args.name!r} added", name=args.name)
    return 0


async def _template_supersede(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        await services.templates.supersede(args.name, by=args.by, actor=ACTOR)
    ctx.out.message(
        f"template {args.name!r} is superseded by {args.by!r}; `postseal enroll run` moves its holders"
    )
    return 0
