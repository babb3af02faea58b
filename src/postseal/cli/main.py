"""``postseal``: argument parsing, dispatch, and the mapping of errors to exit statuses.

Exit statuses: 0 success; 1 the command failed (one line on stderr says why and what to
do); 2 the command line itself is wrong; 3 ``directory check`` found problems it did not
fix; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from postseal import __version__, allocator
from postseal.cli import (
    cmd_admin,
    cmd_certs,
    cmd_directory,
    cmd_mail,
    cmd_mailbox,
    cmd_pki,
    cmd_policy,
    cmd_smime,
    cmd_users,
)
from postseal.cli.context import Context
from postseal.cli.output import Output
from postseal.config import ENV_DATA_DIR, load_settings
from postseal.errors import PostsealError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, like every other postseal error
        self.exit(2, f"postseal: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="postseal",
        description="Self-hosted confidential mail built around S/MIME.",
    )
    parser.add_argument("--version", action="version", version=f"postseal {__version__}")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=f"the data directory (env {ENV_DATA_DIR}; default ./var)",
    )
    parser.add_argument("--database-url", help="override store.database_url")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    groups.required = True
    for module in (
        cmd_admin,
        cmd_users,
        cmd_certs,
        cmd_pki,
        cmd_directory,
        cmd_smime,
        cmd_mail,
        cmd_policy,
        cmd_mailbox,
    ):
        module.register(groups)
    _accept_global_options_everywhere(parser)
    return parser


def _accept_global_options_everywhere(parser: argparse.ArgumentParser) -> None:
    """Let ``--json``, ``--data-dir`` and ``--database-url`` follow the command too
    (``postseal user list --json``). SUPPRESS keeps a value given before the command."""
    for action in parser._actions:  # argparse has no public walk over sub-commands
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for sub in action.choices.values():
            if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                _accept_global_options_everywhere(sub)
                continue
            sub.add_argument(
                "--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
            )
            sub.add_argument(
                "--data-dir", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS
            )
            sub.add_argument("--database-url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _settings_from(args: argparse.Namespace) -> Any:
    environ = dict(os.environ)
    data_dir = args.data_dir or Path(environ.get(ENV_DATA_DIR, "var"))
    overrides: dict[str, tuple[Any, str]] = {}
    if args.database_url:
        overrides["store.database_url"] = (args.database_url, "--database-url")
    if getattr(args, "listen", None):
        overrides["listen"] = (",".join(args.listen), "--listen")
    return load_settings(data_dir, environ=environ, overrides=overrides), environ


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    allocator.tune()  # every command, serve and its workers included (ADR 0025)
    logging.basicConfig(level=logging.WARNING, format="postseal: %(levelname)s: %(message)s")
    try:
        settings, environ = _settings_from(args)
        logging.getLogger("postseal").setLevel(settings.log.level)
        context = Context(settings=settings, environ=environ, out=Output(as_json=args.json))
        status: int = asyncio.run(args.handler(args, context))
        return status
    except PostsealError as exc:
        print(f"postseal: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("postseal: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
