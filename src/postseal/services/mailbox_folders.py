"""Mailboxes as folders: the defaults, listing, creating, deleting, renaming, status,
subscriptions and usage (RFC 3501 §6.3, RFC 6154, RFC 9208)."""

from __future__ import annotations

from postseal.errors import ConflictError, PolicyError
from postseal.services import mailbox_sealing as sealed
from postseal.services.mailbox_access import MailboxCore, input_errors, no_mailbox
from postseal.services.mailbox_changes import CHANGES
from postseal.store.ports import (
    INBOX,
    MAX_UID,
    Mailbox,
    MailboxStatus,
    SpecialUse,
    UserRecord,
)

__all__ = ["DEFAULT_MAILBOXES", "FolderOps"]

DEFAULT_MAILBOXES: tuple[tuple[str, SpecialUse | None], ...] = (
    (INBOX, None),
    ("Sent", SpecialUse.SENT),
    ("Drafts", SpecialUse.DRAFTS),
    ("Trash", SpecialUse.TRASH),
    ("Junk", SpecialUse.JUNK),
)
"""Every user's mailboxes (RFC 6154 §2 special uses), created and subscribed at first
login; a user who renamed one keeps the renamed one (its special use goes with it)."""


class FolderOps(MailboxCore):
    async def ensure_defaults(self, user: UserRecord) -> None:
        """Create whichever of :data:`DEFAULT_MAILBOXES` the user lacks (by name, or for
        a special use by any mailbox that has it) and subscribe the new ones. Safe when
        two sessions log in at once."""
        now = self._clock()
        async with self._store.begin() as tx:
            existing = await tx.mailboxes.list(user.id)
            uses = {box.special_use for box in existing}
            names = {box.name for box in existing}
            for name, use in DEFAULT_MAILBOXES:
                if name in names or (use is not None and use in uses):
                    continue
                fresh = sealed.new_mailbox(self._master, user.id, name, now=now, special_use=use)
                await tx.mailboxes.ensure(fresh)
                await tx.mailboxes.subscribe(user.id, name)

    async def list_mailboxes(self, user: UserRecord) -> list[Mailbox]:
        """The user's own mailboxes by name, then the shared and other users' mailboxes
        the user may list (``l``, RFC 4314 §4), each with the name this user sees."""
        async with self._store.begin(readonly=True) as tx:
            visible = await tx.mailboxes.list_visible(user.id)
            owners: dict[int, str] = {}
            return [await self._view(tx, user, box, owners) for box in visible]

    async def find(self, user: UserRecord, name: str) -> Mailbox:
        """The mailbox ``name`` in any namespace, if the user may read it (``r``, or
        ``l`` to learn its status); NotFoundError "no mailbox NAME" otherwise."""
        if not self._foreign(name):
            # One of the user's own (every right is theirs): one read, no transaction.
            own = await self._store.reads.find(user.id, name)
            if own is not None:
                return own
        async with self._store.begin(readonly=True) as tx:
            return await self._resolve(tx, user, name, need="")

    async def rights(self, user: UserRecord, mailbox: Mailbox) -> str:
        """The user's RFC 4314 rights on ``mailbox`` (all of them for its owner): what
        decides READ-ONLY (RFC 3501 §6.3.1) and which flags STORE may change."""
        async with self._store.begin(readonly=True) as tx:
            return await self._rights(tx, user, mailbox)

    async def status(self, mailbox: Mailbox) -> MailboxStatus:
        """Counts of one mailbox from one query (RFC 3501 §6.3.10)."""
        async with self._store.begin(readonly=True) as tx:
            found = await tx.mailboxes.status(mailbox.id)
        if found is None:
            raise no_mailbox(mailbox.name)
        return found

    async def create(
        self, user: UserRecord, name: str, *, special_use: SpecialUse | None = None
    ) -> Mailbox:
        """A new personal mailbox (RFC 3501 §6.3.3; RFC 6154 §5 CREATE-SPECIAL-USE).
        ConflictError when the name exists; InputError for a malformed name or one in
        the shared or other users' namespace."""
        name = self._personal(name)
        fresh = sealed.new_mailbox(
            self._master, user.id, name, now=self._clock(), special_use=special_use
        )
        async with self._store.begin() as tx:
            with input_errors():
                return await tx.mailboxes.create(fresh)

    async def create_shared(self, name: str, *, special_use: SpecialUse | None = None) -> Mailbox:
        """A public folder (``Shared/<name>``), owned by nobody; who may use it is set
        with the store's ``set_rights``. For administrators."""
        fresh = sealed.new_mailbox(
            self._master, None, name, now=self._clock(), special_use=special_use
        )
        async with self._store.begin() as tx:
            with input_errors():
                return await tx.mailboxes.create(fresh)

    async def delete(self, user: UserRecord, name: str) -> None:
        """Delete a mailbox with its messages (RFC 3501 §6.3.4). Mailboxes below it stay;
        INBOX cannot be deleted. Another's mailbox needs the ``x`` right."""
        async with self._store.begin() as tx:
            box = await self._resolve(tx, user, name, need="x")
            if box.user_id == user.id and box.name == INBOX:
                raise ConflictError(
                    "INBOX cannot be deleted (RFC 3501 §6.3.4)",
                    hint="expunge its messages instead",
                )
            await tx.mailboxes.delete(box.id)
        CHANGES.touch(box.id)

    async def rename(self, user: UserRecord, old: str, new: str) -> None:
        """Rename a personal mailbox and those below it (RFC 3501 §6.3.5), keeping
        UIDVALIDITY and UIDs. Renaming INBOX moves all its messages into a new mailbox
        ``new`` and leaves INBOX empty, as the RFC specifies."""
        new = self._personal(new)
        async with self._store.begin() as tx:
            box = await self._resolve(tx, user, old, need="")
            if box.user_id != user.id:
                raise PolicyError(
                    f"mailbox {box.name} is not yours to rename",
                    hint="ask its owner or the administrator",
                )
            if box.name != INBOX:
                with input_errors():
                    await tx.mailboxes.rename(box.id, new)
            else:
                fresh = sealed.new_mailbox(self._master, user.id, new, now=self._clock())
                with input_errors():
                    target = await tx.mailboxes.create(fresh)
                everything = [(1, MAX_UID)]
                keys = await tx.mailboxes.message_keys(box.id, everything)
                bodies, summaries = sealed.rewrap_keys(self._master, box, target, keys)
                await tx.mailboxes.move(box.id, everything, target.id, bodies, summaries=summaries)
        CHANGES.touch(box.id)

    async def subscribe(self, user: UserRecord, name: str) -> None:
        """RFC 3501 §6.3.6: the name need not exist."""
        async with self._store.begin() as tx:
            with input_errors():
                await tx.mailboxes.subscribe(user.id, name)

    async def unsubscribe(self, user: UserRecord, name: str) -> bool:
        """RFC 3501 §6.3.7; whether the name was subscribed."""
        async with self._store.begin() as tx:
            with input_errors():
                return await tx.mailboxes.unsubscribe(user.id, name)

    async def subscriptions(self, user: UserRecord) -> list[str]:
        """The subscribed names, sorted (LSUB, LIST (SUBSCRIBED))."""
        async with self._store.begin(readonly=True) as tx:
            return list(await tx.mailboxes.subscriptions(user.id))

    async def usage(self, user: UserRecord) -> tuple[int, int, int | None]:
        """Bytes and messages in the user's own mailboxes, and the storage quota in
        bytes (None: unlimited) — RFC 9208 STORAGE."""
        async with self._store.begin(readonly=True) as tx:
            used = await tx.mailboxes.usage(user.id)
            quota = await tx.mailboxes.quota(user.id)
        return used.size, used.messages, quota.storage
