"""``ca show|export``, ``crl publish|export|import``, ``trust add-root|add-intermediate|add-cross|list|remove``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from postseal.cli.context import ACTOR, Context
from postseal.cli.output import write_bytes
from postseal.errors import InputError, NotFoundError
from postseal.pki import trust as pki_trust
from postseal.pki.export import to_pem_bundle
from postseal.store.ports import CertificateRole

__all__ = ["register"]

_MAX_INPUT = 64 << 20
_CRL_CAS = {
    "issuing": CertificateRole.ISSUING,
    "root": CertificateRole.ROOT,
    "service": CertificateRole.SERVICE_ISSUING,
}


def register(groups: Any) -> None:
    ca = groups.add_parser("ca", help="postseal's own certificate authority").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    ca.add_parser("show", help="the CA certificates and their state").set_defaults(handler=_ca_show)
    export = ca.add_parser("export", help="PEM: the root, then the S/MIME issuing CA")
    export.add_argument("--out", type=Path)
    export.set_defaults(handler=_ca_export)

    crl = groups.add_parser("crl", help="certificate revocation lists").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    crl.add_parser("publish", help="issue fresh CRLs for every CA now").set_defaults(
        handler=_crl_publish
    )
    crl_export = crl.add_parser("export", help="the latest CRL of a CA")
    crl_export.add_argument("--format", choices=("pem", "der"), default="pem")
    crl_export.add_argument("--ca", choices=tuple(_CRL_CAS), default="issuing")
    crl_export.add_argument("--out", type=Path)
    crl_export.set_defaults(handler=_crl_export)
    crl_import = crl.add_parser("import", help="import another CA's CRL fetched by hand")
    crl_import.add_argument("file", type=Path)
    crl_import.set_defaults(handler=_crl_import)

    trust = groups.add_parser(
        "trust", help="trusted roots, intermediates, cross-certificates"
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    for kind in ("root", "intermediate", "cross"):
        add = trust.add_parser(f"add-{kind}", help=f"trust a {kind} CA certificate (PEM or DER)")
        add.add_argument("file", type=Path)
        add.set_defaults(handler=_trust_add, kind=kind)
    trust.add_parser("list", help="the trust store").set_defaults(handler=_trust_list)
    remove = trust.add_parser("remove", help="remove by fingerprint (or a unique prefix)")
    remove.add_argument("fingerprint")
    remove.set_defaults(handler=_trust_remove)


def read_input(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > _MAX_INPUT:
            raise InputError(f"{path} is larger than 64 MiB")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None


async def _ca_show(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        cas = await services.certificates.ca_certificates()
        crls = {role: await services.certificates.latest_crl(role) for role in _CRL_CAS.values()}
        meta = services.meta
    rows = []
    for role, cert in cas.items():
        info = pki_trust.describe(cert)
        latest = crls.get(role)
        rows.append(
            {
                "role": role,
                "subject": info["subject"],
                "key": info["key_type"],
                "not_after": info["not_after"],
                "fingerprint": info["fingerprint"],
                "crl": f"#{latest.number} until {latest.next_update:%Y-%m-%d %H:%M}"
                if latest
                else None,
            }
        )
    if ctx.out.as_json:
        ctx.out.record(
            {"organisation": meta.get("org"), "pki_url": meta.get("pki_url"), "certificates": rows}
        )
        return 0
    print(f"organisation  {meta.get('org')}\nPKI URL       {meta.get('pki_url')}\n")
    ctx.out.table(rows, ["role", "subject", "key", "not_after", "crl"])
    return 0


async def _ca_export(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        cas = await services.certificates.ca_certificates()
    chain = [cas[r] for r in (CertificateRole.ROOT, CertificateRole.ISSUING) if r in cas]
    write_bytes(to_pem_bundle(chain), args.out, binary=False)
    return 0


async def _crl_publish(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        published = await services.certificates.publish_crls(actor=ACTOR)
    rows = [
        {
            "issuer": r.issuer_serial,
            "number": r.number,
            "this_update": r.this_update,
            "next_update": r.next_update,
        }
        for r in published
    ]
    ctx.out.table(rows, ["issuer", "number", "this_update", "next_update"])
    return 0


async def _crl_export(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        latest = await services.certificates.latest_crl(_CRL_CAS[args.ca])
    if latest is None:
        raise NotFoundError(f"no CRL of the {args.ca} CA yet", hint="run `postseal crl publish`")
    data = latest.der
    if args.format == "pem":
        data = x509.load_der_x509_crl(data).public_bytes(serialization.Encoding.PEM)
    write_bytes(data, args.out, binary=args.format == "der")
    return 0


async def _crl_import(args: argparse.Namespace, ctx: Context) -> int:
    data = read_input(args.file)
    async with ctx.services() as services:
        record = await services.trust.import_crl(data, actor=ACTOR)
    ctx.out.message(
        f"imported the CRL of {record.issuer} (number {record.number}, next update "
        f"{record.next_update:%Y-%m-%d %H:%M} UTC)"
        if record.next_update
        else f"imported the CRL of {record.issuer} (number {record.number})",
        issuer=record.issuer,
        number=record.number,
    )
    return 0


async def _trust_add(args: argparse.Namespace, ctx: Context) -> int:
    data = read_input(args.file)
    async with ctx.services() as services:
        added = await services.trust.add(data, kind=args.kind, actor=ACTOR)
    ctx.out.table(
        [{"kind": r.kind, "subject": r.subject, "fingerprint": r.fingerprint} for r in added],
        ["kind", "subject", "fingerprint"],
    )
    return 0


async def _trust_list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        records = await services.trust.entries()
    rows = [
        {"kind": r.kind, "subject": r.subject, "fingerprint": r.fingerprint, "added": r.added_at}
        for r in records
    ]
    ctx.out.table(rows, ["kind", "subject", "fingerprint", "added"])
    return 0


async def _trust_remove(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        removed = await services.trust.remove(args.fingerprint, actor=ACTOR)
    ctx.out.message(f"removed {removed.kind} {removed.subject}", fingerprint=removed.fingerprint)
    return 0
