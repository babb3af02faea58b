"""``policy show|explain|list|set|unset``: the mail policy of postseal.toml and of the
database, merged (docs/policy.md, ADR 0009, ADR 0019)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from postseal.cli.cmd_pki import read_input
from postseal.cli.context import ACTOR, Context
from postseal.mailserver import MailServices, build_mail_services
from postseal.policy import explain, load_rules
from postseal.policy.assignments import plain
from postseal.policy.live import TOML
from postseal.policy.rules import KEYS
from postseal.runtime import POLICY_POLL_SECONDS, Services
from postseal.services.policy_rules import RuleChange
from postseal.store.ports import PolicyScope

__all__ = ["register"]


def register(groups: Any) -> None:
    policy = groups.add_parser("policy", help="the mail policy").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    show = policy.add_parser("show", help="effective settings and the rule behind each")
    show.add_argument("--user", metavar="EMAIL", help="as they apply to this user")
    show.set_defaults(handler=_show)
    dry = policy.add_parser("explain", help="dry-run a message through the policy")
    dry.add_argument("message", type=Path)
    dry.add_argument("--from", dest="sender", required=True, metavar="EMAIL")
    dry.add_argument("--to", action="append", required=True, metavar="EMAIL")
    dry.set_defaults(handler=_explain)
    listing = policy.add_parser("list", help="every rule of postseal.toml and the database")
    listing.set_defaults(handler=_list)
    setter = policy.add_parser(
        "set", help="store rules in the database (a running server applies them in seconds)"
    )
    _scope_options(setter)
    setter.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    setter.set_defaults(handler=_set)
    unsetter = policy.add_parser(
        "unset", help="remove rules from the database (postseal.toml's apply again)"
    )
    _scope_options(unsetter)
    unsetter.add_argument("keys", nargs="+", metavar="KEY")
    unsetter.set_defaults(handler=_unset)


def _scope_options(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("--organisation", action="store_true", help="the whole organisation")
    scope.add_argument("--domain", metavar="DOMAIN", help="users of one domain")
    scope.add_argument("--group", metavar="GROUP", help="members of one directory group")
    scope.add_argument("--user", metavar="EMAIL", help="one user")


def _scope(args: argparse.Namespace) -> tuple[PolicyScope, str]:
    for scope in (PolicyScope.DOMAIN, PolicyScope.GROUP, PolicyScope.USER):
        name = getattr(args, scope.value)
        if name is not None:
            return scope, name
    return PolicyScope.ORGANISATION, ""


async def _mail(services: Services, ctx: Context) -> MailServices:
    """The mail path with the policy in force: postseal.toml's and the database's rules."""
    mail = build_mail_services(services, ctx.settings)
    await services.policy.refresh(mail.rules)
    return mail


async def _show(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        mail = await _mail(services, ctx)
        groups: tuple[str, ...] = ()
        address = ""
        if args.user:
            details = await services.directory.get(args.user)
            address, groups = details.user.address, details.user.groups
    effective = mail.rules.resolve(address, groups)
    rows = [
        {"key": key, "value": plain(getattr(effective, key)), "rule": effective.source(key)}
        for key in KEYS
    ]
    ctx.out.table(rows, ["key", "value", "rule"])
    return 0


async def _explain(args: argparse.Namespace, ctx: Context) -> int:
    data = read_input(args.message)
    async with ctx.services() as services:
        mail = await _mail(services, ctx)
        decision = await mail.intake.explain(data, sender=args.sender, recipients=args.to)
    if ctx.out.as_json:
        ctx.out.record(
            {
                "refuse": decision.refuse,
                "sign": decision.sign,
                "encrypt": decision.encrypt,
                "explanations": [str(e) for e in decision.explanations],
            }
        )
    else:
        for line in explain(decision):
            print(line)
    return 1 if decision.refuse else 0


async def _list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        rules = await services.policy.list_rules(load_rules(ctx.settings.policy, origin=TOML))
    shadowed = {rule.path for rule in rules if rule.overridden}
    rows = []
    for rule in rules:
        note = ""
        if rule.overridden:
            note = "overridden by the database"
        elif rule.path in shadowed:
            note = "overrides postseal.toml"
        rows.append(
            {
                "rule": rule.path,
                "value": rule.value if ctx.out.as_json else _shown(rule.value),
                "source": rule.origin,
                "changed": rule.changed_at,
                "by": rule.changed_by,
                "note": note,
            }
        )
    ctx.out.table(rows, ["rule", "value", "source", "changed", "by", "note"])
    return 0


async def _set(args: argparse.Namespace, ctx: Context) -> int:
    scope, name = _scope(args)
    async with ctx.services() as services:
        version, changes = await services.policy.set_rules(
            scope, name, args.assignments, actor=ACTOR
        )
    _report(ctx, "set", version, changes)
    return 0


async def _unset(args: argparse.Namespace, ctx: Context) -> int:
    scope, name = _scope(args)
    async with ctx.services() as services:
        version, changes = await services.policy.unset_rules(scope, name, args.keys, actor=ACTOR)
    _report(ctx, "unset", version, changes)
    return 0


def _report(ctx: Context, verb: str, version: int, changes: list[RuleChange]) -> None:
    lines = []
    for change in changes:
        was = "not set" if change.previous is None else _shown(change.previous)
        now = "" if change.value is None else f" = {_shown(change.value)}"
        lines.append(f"{verb} {change.path}{now} (was {was}) in the database")
    lines.append(
        f"policy version {version}: a running server applies it within {POLICY_POLL_SECONDS:g} s"
    )
    ctx.out.message(
        "\n".join(lines),
        version=version,
        changes=[{"rule": c.path, "value": c.value, "previous": c.previous} for c in changes],
    )


def _shown(value: Any) -> str:
    """A value as postseal.toml would spell it, on one line."""
    return json.dumps(value, ensure_ascii=False)
