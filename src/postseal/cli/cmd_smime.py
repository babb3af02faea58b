"""``smime sign|verify|encrypt|decrypt`` and ``contact list|import|remove``.

Every ``smime`` command reads ``--in F`` (default: standard input) and writes ``--out F``
(default: standard output). An output file is written only on success, atomically: a
refused command leaves no file behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from postseal.cli.cmd_pki import read_input
from postseal.cli.context import Context
from postseal.errors import InputError
from postseal.smime.ciphers import CIPHERS

__all__ = ["register"]

_MAX_MESSAGE = 64 << 20


def register(groups: Any) -> None:
    smime = groups.add_parser("smime", help="sign, verify, encrypt, decrypt").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )

    def io(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--in", dest="infile", type=Path, help="input (default: stdin)")
        parser.add_argument("--out", type=Path, help="output (default: stdout)")
        return parser

    sign = io(smime.add_parser("sign", help="sign a MIME message as a user"))
    sign.add_argument("--as", dest="as_address", required=True, metavar="EMAIL")
    sign.add_argument(
        "--opaque", action="store_true", help="application/pkcs7-mime instead of multipart/signed"
    )
    sign.set_defaults(handler=_sign)

    verify = io(
        smime.add_parser("verify", help="verify a signed message; exit 0 only if all holds")
    )
    verify.add_argument(
        "--from", dest="from_address", metavar="EMAIL", help="compare the signer with this sender"
    )
    verify.add_argument("--at", help="validate at this ISO time instead of now")
    verify.add_argument(
        "--no-harvest", action="store_true", help="do not record the signer as a contact"
    )
    verify.set_defaults(handler=_verify)

    encrypt = io(smime.add_parser("encrypt", help="encrypt a message to users and contacts"))
    encrypt.add_argument("--to", action="append", required=True, metavar="EMAIL")
    encrypt.add_argument(
        "--from", dest="from_address", metavar="EMAIL", help="the sender (gets a copy)"
    )
    encrypt.add_argument("--sign", action="store_true", help="sign as --from first")
    encrypt.add_argument("--cipher", choices=sorted(CIPHERS), help="override the automatic choice")
    encrypt.set_defaults(handler=_encrypt)

    decrypt = io(
        smime.add_parser("decrypt", help="decrypt a message for a user (and verify it if signed)")
    )
    decrypt.add_argument("--as", dest="as_address", required=True, metavar="EMAIL")
    decrypt.set_defaults(handler=_decrypt)

    contact = groups.add_parser(
        "contact", help="outside correspondents' certificates"
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = contact.add_parser("list", help="contacts and their capabilities")
    listing.add_argument("--address", metavar="EMAIL")
    listing.set_defaults(handler=_contact_list)
    imported = contact.add_parser("import", help="import certificates (PEM or DER) as contacts")
    imported.add_argument("file", type=Path)
    imported.add_argument("--capabilities", help="comma list, e.g. aes256-gcm,rsaes-oaep")
    imported.set_defaults(handler=_contact_import)
    removed = contact.add_parser("remove", help="forget a contact's certificates")
    removed.add_argument("email")
    removed.set_defaults(handler=_contact_remove)


def _read(args: argparse.Namespace) -> bytes:
    if args.infile is not None:
        return read_input(args.infile)
    data = sys.stdin.buffer.read(_MAX_MESSAGE + 1)
    if len(data) > _MAX_MESSAGE:
        raise InputError("the message on standard input is larger than 64 MiB")
    if not data:
        raise InputError("no message on standard input", hint="pipe one in or use --in FILE")
    return data


def _write(args: argparse.Namespace, data: bytes) -> None:
    if args.out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = args.out
    fd, temp = tempfile.mkstemp(
        dir=target.parent if str(target.parent) else ".", prefix=".postseal-"
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


async def _sign(args: argparse.Namespace, ctx: Context) -> int:
    message = _read(args)
    async with ctx.services() as services:
        signed = await services.smime.sign(message, as_address=args.as_address, opaque=args.opaque)
    _write(args, signed)
    return 0


async def _verify(args: argparse.Namespace, ctx: Context) -> int:
    message = _read(args)
    at = None
    if args.at:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            raise InputError(f"--at {args.at!r} is not an ISO date-time") from None
        if at.tzinfo is None:
            raise InputError("--at needs a time zone, e.g. 2026-01-01T00:00:00+00:00")
    async with ctx.services() as services:
        result = await services.smime.verify(
            message, from_address=args.from_address, at=at, harvest=not args.no_harvest
        )
    if ctx.out.as_json:
        ctx.out.record(result.to_json())
    else:
        # With --out the content goes to the file and the verdict to standard output;
        # without it the verdict is the whole output.
        for line in result.summary():
            print(line)
    if args.out is not None:
        _write(args, result.content)
    return 0 if result.ok else 1


async def _encrypt(args: argparse.Namespace, ctx: Context) -> int:
    message = _read(args)
    async with ctx.services() as services:
        result = await services.smime.encrypt(
            message, to=args.to, sender=args.from_address, sign=args.sign, cipher=args.cipher
        )
    _write(args, result.message)
    print(f"postseal: {result.reason}", file=sys.stderr)
    return 0


async def _decrypt(args: argparse.Namespace, ctx: Context) -> int:
    message = _read(args)
    async with ctx.services() as services:
        outcome = await services.smime.decrypt(message, as_address=args.as_address)
    _write(args, outcome.result.restored_message)
    print(
        f"postseal: decrypted ({outcome.result.cipher}, {outcome.result.key_management})",
        file=sys.stderr,
    )
    if outcome.inner is not None:
        for line in outcome.inner.summary():
            print(f"postseal: {line}", file=sys.stderr)
        return 0 if outcome.inner.ok else 1
    return 0


async def _contact_list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        records = await services.contacts.list_contacts(address=args.address)
    rows = [
        {
            "address": r.address,
            "fingerprint": r.fingerprint[:16],
            "not_after": r.not_after,
            "capabilities": list(r.capabilities) if r.capabilities is not None else "unknown",
            "source": r.source,
        }
        for r in records
    ]
    ctx.out.table(rows, ["address", "fingerprint", "not_after", "capabilities", "source"])
    return 0


async def _contact_import(args: argparse.Namespace, ctx: Context) -> int:
    data = read_input(args.file)
    capabilities = (
        [c for c in args.capabilities.split(",") if c.strip()] if args.capabilities else None
    )
    async with ctx.services() as services:
        records = await services.contacts.import_certificates(data, capabilities=capabilities)
    ctx.out.table(
        [
            {"address": r.address, "fingerprint": r.fingerprint[:16], "source": r.source}
            for r in records
        ],
        ["address", "fingerprint", "source"],
    )
    return 0


async def _contact_remove(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        count = await services.contacts.remove(args.email)
    ctx.out.message(
        f"removed {count} certificate(s) of {args.email.strip().lower()}", removed=count
    )
    return 0
