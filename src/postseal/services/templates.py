"""Managing certificate templates: list, add, supersede."""

from __future__ import annotations

from collections.abc import Sequence

from postseal.errors import ConflictError, NotFoundError
from postseal.pki.keys import parse_key_type
from postseal.pki.templates import TemplateProfile
from postseal.store.ports import Store, TemplateRecord

__all__ = ["TemplateService"]


class TemplateService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def list(self) -> Sequence[TemplateRecord]:
        async with self._store.begin() as tx:
            return await tx.templates.list()

    async def add(self, profile: TemplateProfile, *, actor: str) -> TemplateRecord:
        """Add a new template; the profile's own checks (EKUs, validity) already ran."""
        parse_key_type(profile.key_type)
        record = TemplateRecord(
            profile.name,
            profile.description,
            profile.ekus,
            profile.key_type,
            profile.validity_days,
            profile.renewal_days,
        )
        async with self._store.begin() as tx:
            clash = [
                t.name for t in await tx.templates.list() if t.name.lower() == profile.name.lower()
            ]
            if clash:
                raise ConflictError(f"a template named {clash[0]!r} already exists")
            await tx.templates.put(record)
            await tx.audit.append(actor=actor, action="template.add", target=profile.name)
        return record

    async def supersede(self, old: str, *, by: str, actor: str) -> TemplateRecord:
        """Mark ``old`` superseded by ``by``; the next enrollment moves its holders."""
        async with self._store.begin() as tx:
            current = await tx.templates.get(old)
            successor = await tx.templates.get(by)
            if current is None:
                raise NotFoundError(f"unknown template {old!r}")
            if successor is None:
                raise NotFoundError(f"unknown template {by!r}")
            if old == by or successor.superseded_by is not None:
                raise ConflictError(
                    f"template {by!r} cannot supersede {old!r}: it is the same or itself superseded"
                )
            updated = TemplateRecord(
                current.name,
                current.description,
                current.ekus,
                current.key_type,
                current.validity_days,
                current.renewal_days,
                superseded_by=by,
            )
            await tx.templates.put(updated)
            await tx.audit.append(
                actor=actor, action="template.supersede", target=old, detail=f"by {by}"
            )
        return updated
