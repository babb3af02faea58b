"""Which mailbox a user means by a name, and whether the user may do what they ask.

Names are seen through three namespaces (RFC 2342 §5; the prefixes IMAP's NAMESPACE
announces):

- personal: the user's own mailboxes, by their stored names (``INBOX``, ``Sent``,
  ``Projects/2026``);
- other users: ``Other Users/<address>/<name>`` — another user's mailbox on which this
  user holds rights (RFC 4314);
- shared: ``Shared/<name>`` — the public folders, owned by nobody.

A mailbox the user may neither list nor read is reported as missing, never as
forbidden, so names cannot be probed (RFC 4314 §4). The :class:`Mailbox` values handed
out carry the name as this user sees it; their ids are the store's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from postseal.custody import MasterKey
from postseal.errors import InputError, NotFoundError, PolicyError
from postseal.mail.address import parse_address
from postseal.services import mailbox_sealing as sealed
from postseal.services.clock import Clock
from postseal.store.ports import ALL_RIGHTS, Mailbox, Store, Transaction, UserRecord

__all__ = [
    "OTHER_USERS",
    "SEPARATOR",
    "SHARED",
    "MailboxCore",
    "OverQuotaError",
    "input_errors",
    "no_mailbox",
]

SEPARATOR = "/"
OTHER_USERS = "Other Users"
SHARED = "Shared"
_RESERVED = (OTHER_USERS.lower(), SHARED.lower())
_KEY_CACHE = 1024


class OverQuotaError(PolicyError):
    """An append or copy would take the owner over their quota (RFC 9208 §5: IMAP
    answers ``NO [OVERQUOTA]``, POP3 never appends)."""


def no_mailbox(name: str, *, hint: str | None = None) -> NotFoundError:
    return NotFoundError(f"no mailbox {name}", hint=hint)


def _canonical(address: str) -> str:
    try:
        return str(parse_address(address))
    except InputError:
        return address.lower()


@contextmanager
def input_errors() -> Iterator[None]:
    """The store refuses malformed names and flags with ValueError; to the user that is
    an InputError (IMAP ``BAD``/``NO``, POP3 ``-ERR``)."""
    try:
        yield
    except ValueError as exc:
        raise InputError(str(exc)) from None


class MailboxCore:
    """What every part of :class:`postseal.services.mailboxes.MailboxService` shares."""

    def __init__(
        self,
        store: Store,
        master: MasterKey,
        *,
        clock: Clock,
        max_message_size: int | None = None,
    ) -> None:
        self._store = store
        self._master = master
        self._clock = clock
        self._max_message_size = max_message_size
        self._keys: dict[tuple[str, bytes], bytes] = {}

    def _mailbox_key(self, mailbox: Mailbox) -> bytes:
        """The mailbox's container key, unwrapped once and kept in memory (never on disk)
        for the next read; keyed by id and wrapped key, so a re-keyed record is unwrapped
        again. At most :data:`_KEY_CACHE` keys are kept."""
        wanted = (mailbox.id, bytes(mailbox.wrapped_key))
        key = self._keys.get(wanted)
        if key is None:
            key = sealed.mailbox_key(self._master, mailbox)
            if len(self._keys) >= _KEY_CACHE:
                self._keys.pop(next(iter(self._keys)))
            self._keys[wanted] = key
        return key

    # -- names ---------------------------------------------------------------------------

    @staticmethod
    def _personal(name: str) -> str:
        """A name for a new personal mailbox: a trailing separator is dropped (RFC 3501
        §6.3.3) and the other namespaces' prefixes are refused."""
        name = name.removesuffix(SEPARATOR)
        if MailboxCore._foreign(name):
            raise InputError(
                f"{name!r} lies in the {name.split(SEPARATOR, 1)[0]} namespace",
                hint="choose a name that does not start with "
                f"{SHARED}{SEPARATOR} or {OTHER_USERS}{SEPARATOR}",
            )
        return name

    async def _view(
        self, tx: Transaction, user: UserRecord, box: Mailbox, owners: dict[int, str] | None = None
    ) -> Mailbox:
        """``box`` renamed to how ``user`` sees it."""
        if box.user_id == user.id:
            return box
        if box.user_id is None:
            return dataclasses.replace(box, name=f"{SHARED}{SEPARATOR}{box.name}")
        owners = {} if owners is None else owners
        if box.user_id not in owners:
            owner = await tx.users.get_by_id(box.user_id)
            owners[box.user_id] = owner.address if owner else str(box.user_id)
        prefix = f"{OTHER_USERS}{SEPARATOR}{owners[box.user_id]}{SEPARATOR}"
        return dataclasses.replace(box, name=prefix + box.name)

    @staticmethod
    def _foreign(name: str) -> bool:
        """Whether ``name`` may lie in the shared or other users' namespace."""
        return name.split(SEPARATOR, 1)[0].lower() in _RESERVED

    async def _locate(self, tx: Transaction, user: UserRecord, name: str) -> Mailbox | None:
        """The mailbox ``name`` means to ``user`` (any namespace), renamed to that view,
        without checking rights."""
        first, _, rest = name.partition(SEPARATOR)
        found: Mailbox | None
        with input_errors():
            if first.lower() == SHARED.lower() and rest:
                found = await tx.mailboxes.find(None, rest)
            elif first.lower() == OTHER_USERS.lower() and rest:
                address, _, inner = rest.partition(SEPARATOR)
                owner = await tx.users.get(_canonical(address))
                if owner is None or not inner:
                    return None
                found = await tx.mailboxes.find(owner.id, inner)
            else:
                found = await tx.mailboxes.find(user.id, name)
        return None if found is None else await self._view(tx, user, found)

    async def _rights(self, tx: Transaction, user: UserRecord, box: Mailbox) -> str:
        if box.user_id == user.id:
            return ALL_RIGHTS
        return await tx.mailboxes.rights_of(box.id, user.id)

    async def _resolve(
        self, tx: Transaction, user: UserRecord, name: str, *, need: str, missing_hint: str = ""
    ) -> Mailbox:
        """The mailbox, or NotFoundError "no mailbox NAME" when it does not exist or the
        user may not see it; PolicyError when they see it but lack a right in ``need``."""
        box = await self._locate(tx, user, name)
        rights = "" if box is None else await self._rights(tx, user, box)
        if box is None or not ({"l", "r"} & set(rights)):
            raise no_mailbox(name, hint=missing_hint or None)
        self._require(box, rights, need)
        return box

    async def _check_quota(
        self, tx: Transaction, box: Mailbox, *, size: int, messages: int = 1
    ) -> None:
        """OverQuotaError when adding ``messages`` of ``size`` bytes to ``box`` exceeds
        its owner's limits; shared mailboxes count for nobody. Checked in the appending
        transaction, so on PostgreSQL two concurrent appends may both pass by one message
        — a quota is a bound on growth, not an exact ledger."""
        if box.user_id is None:
            return
        quota = await tx.mailboxes.quota(box.user_id)
        if quota.storage is None and quota.messages is None:
            return
        used = await tx.mailboxes.usage(box.user_id)
        if quota.storage is not None and used.size + size > quota.storage:
            raise OverQuotaError(
                f"the mailbox quota is exceeded: {used.size + size} bytes would be stored, "
                f"{quota.storage} are allowed",
                hint="delete or expunge messages, or ask the administrator for more space",
            )
        if quota.messages is not None and used.messages + messages > quota.messages:
            raise OverQuotaError(
                f"the mailbox quota is exceeded: {used.messages + messages} messages would "
                f"be stored, {quota.messages} are allowed",
                hint="delete or expunge messages, or ask the administrator for more space",
            )

    @staticmethod
    def _require(box: Mailbox, rights: str, need: str) -> None:
        lacking = "".join(letter for letter in need if letter not in rights)
        if lacking:
            raise PolicyError(
                f"you may not do that in mailbox {box.name}: it needs the right(s) "
                f"{lacking!r} (RFC 4314), and you hold {rights or 'none'!r}",
                hint="ask the mailbox's owner or the administrator for the right",
            )

    async def _check_rights(
        self, user: UserRecord | None, box: Mailbox, need: Callable[[], str]
    ) -> None:
        """Rights of ``user`` on an already found mailbox (None: the caller checked)."""
        if user is None or box.user_id == user.id:
            return
        async with self._store.peek() as tx:
            rights = await tx.mailboxes.rights_of(box.id, user.id)
        self._require(box, rights, need())
