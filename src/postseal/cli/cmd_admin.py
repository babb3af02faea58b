"""``init``, ``serve``, ``config show``, ``db upgrade``, ``db check``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from postseal.cli.context import Context
from postseal.config.loader import describe
from postseal.errors import ConfigError, StoreError
from postseal.pki.keys import KEY_TYPES, parse_key_type
from postseal.runtime import initialise, serve, serve_smtp_worker
from postseal.services.setup import InitRequest
from postseal.store.sql import check, upgrade

__all__ = ["register"]


def register(groups: Any) -> None:
    init = groups.add_parser("init", help="create a new organisation in the data directory")
    init.add_argument("--org", required=True, help="organisation name (certificate subjects)")
    init.add_argument("--domain", required=True, help="the mail domain, e.g. example.org")
    init.add_argument("--hostname", help="this server's host name (default mail.DOMAIN)")
    init.add_argument("--key-type", default="rsa-3072", choices=KEY_TYPES)
    init.add_argument(
        "--pki-url",
        help="base URL of the CRL/CA endpoint baked into certificates (default http://HOSTNAME/pki)",
    )
    init.add_argument("--admin", default="admin", help="local part of the first administrator")
    init.set_defaults(handler=_init)

    run = groups.add_parser("serve", help="run the listeners and the periodic PKI jobs")
    run.add_argument(
        "--listen", action="append", metavar="NAME=HOST:PORT", help="e.g. http=127.0.0.1:8080"
    )
    # serve starts its SMTP workers with these (mail.smtp_processes, ADR 0024)
    run.add_argument("--smtp-worker", type=int, help=argparse.SUPPRESS)
    run.add_argument("--inherit", action="append", default=[], help=argparse.SUPPRESS)
    run.add_argument("--serve-pid", type=int, help=argparse.SUPPRESS)
    run.set_defaults(handler=_serve)

    config = groups.add_parser("config", help="effective configuration").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    config.add_parser("show", help="every setting, its value and where it came from").set_defaults(
        handler=_config_show
    )

    db = groups.add_parser("db", help="the store's schema").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    db.add_parser("upgrade", help="migrate the store to this version's schema").set_defaults(
        handler=_db_upgrade
    )
    db.add_parser("check", help="is the store at this version's schema?").set_defaults(
        handler=_db_check
    )


async def _init(args: argparse.Namespace, ctx: Context) -> int:
    domain = args.domain.strip().lower()
    hostname = args.hostname or f"mail.{domain}"
    request = InitRequest(
        org=args.org,
        domain=domain,
        hostname=hostname,
        pki_url=args.pki_url or f"http://{hostname}/pki",
        key_type=parse_key_type(args.key_type),
        admin_local_part=args.admin,
    )
    result = await initialise(ctx.settings, ctx.environ, request)
    ctx.out.record(
        {
            "organisation": args.org,
            "data directory": ctx.settings.data_dir,
            "administrator": result.admin_address,
            "password": result.admin_password,
            "root fingerprint": result.root_fingerprint,
            "PKI URL": result.pki_url,
        }
    )
    if not ctx.out.as_json:
        print(
            "\nThe administrator's password is shown only this once: store it now.", file=sys.stderr
        )
    return 0


async def _serve(args: argparse.Namespace, ctx: Context) -> int:
    if args.smtp_worker is not None:
        inherited = {}
        for item in args.inherit:
            name, _, fd = item.partition("=")
            if not fd.isdigit():
                raise ConfigError(f"--inherit {item!r}: expected NAME=DESCRIPTOR")
            inherited[name] = int(fd)
        await serve_smtp_worker(
            ctx.settings,
            ctx.environ,
            number=args.smtp_worker,
            inherited=inherited,
            parent=args.serve_pid,
        )
        return 0

    def ready(bound: dict[str, int]) -> None:
        where = ", ".join(
            f"{a.name} on {a.host}:{bound.get(a.name, a.port)}" for a in ctx.settings.listen
        )
        print(f"postseal serving {where} — Ctrl-C stops", flush=True)

    await serve(ctx.settings, ctx.environ, ready=ready)
    return 0


async def _config_show(args: argparse.Namespace, ctx: Context) -> int:
    rows = [{"key": k, "value": v, "source": s} for k, v, s in describe(ctx.settings)]
    ctx.out.table(rows, ["key", "value", "source"])
    return 0


async def _db_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    revision = await upgrade(ctx.settings.store.database_url)
    ctx.out.message(f"the store is at revision {revision}", revision=revision)
    return 0


async def _db_check(args: argparse.Namespace, ctx: Context) -> int:
    status = await check(ctx.settings.store.database_url)
    current = status.current or "(empty)"
    if status.current != status.head:
        raise StoreError(
            f"the store is at revision {current}; this postseal needs {status.head}",
            hint="run `postseal db upgrade`",
        )
    ctx.out.message(f"the store is at revision {current}, which is current", revision=current)
    return 0
