"""Reads by a caller that knows the messages' EMAILIDs (IMAP sessions): one query, the
same bytes as the plain reads."""

from __future__ import annotations

import pytest

from postseal.errors import NotFoundError
from postseal.services.mailboxes import MailboxService
from postseal.store.ports import UserRecord

from .conftest import message


async def test_body_and_summaries_by_known_email_id(
    service: MailboxService, bob: UserRecord
) -> None:
    for n in range(3):
        await service.append(bob, "INBOX", message(f"known {n}"))
    inbox = await service.find(bob, "INBOX")
    stored = await service.messages(inbox)
    email_ids = {m.uid: m.email_id for m in stored}
    for uid, email_id in email_ids.items():
        assert await service.body(inbox, uid, email_id=email_id) == await service.body(inbox, uid)
    uids = list(email_ids)
    assert await service.summaries(inbox, uids, email_ids=email_ids) == await service.summaries(
        inbox, uids
    )
    # an id the caller does not know falls back to the metadata read
    partial = await service.summaries(inbox, uids, email_ids={uids[0]: email_ids[uids[0]]})
    assert partial == await service.summaries(inbox, uids)
    with pytest.raises(NotFoundError):
        await service.body(inbox, 99, email_id=email_ids[uids[0]])
