"""In-memory drafts (with their recipients and attachment links) and attachments, as storage/draft_repository.py
behaves: workspace-scoped reads, recipients fixed at creation in their order, conditional status moves."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Generator, Sequence
from datetime import datetime

from outreach.errors import NotFound
from outreach.models import Attachment, Draft, DraftStatus, Recipient
from tests.fakes.tables import DraftRow, Transaction


class FakeAttachmentRepository:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, team_id: str, attachment: Attachment) -> Attachment:
        stored = dataclasses.replace(attachment, id=self._tx.next_id())
        assert stored.id is not None
        self._tx.tables.attachments[stored.id] = (team_id, stored)
        return stored

    def get(self, team_id: str, attachment_id: int) -> Attachment | None:
        team, attachment = self._tx.tables.attachments.get(attachment_id, ("", None))
        return attachment if team == team_id else None


class FakeDraftRepository:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, draft: Draft, recipients: Sequence[str]) -> Draft:
        now = self._tx.clock.now()
        new = dataclasses.replace(
            draft, id=self._tx.next_id(), created_at=draft.created_at or now, updated_at=now
        )
        assert new.id is not None
        row = DraftRow(_bare(new), tuple(dict.fromkeys(recipients)), _linked(draft))
        self._tx.tables.drafts[new.id] = row
        return self._read(row)

    def get(self, team_id: str, draft_id: int, *, for_update: bool = False) -> Draft | None:
        row = self._row(team_id, draft_id)
        return None if row is None else self._read(row)

    def save(self, draft: Draft) -> Draft:
        row = self._row(draft.team_id, draft.id) if draft.id is not None else None
        if row is None:
            raise NotFound("draft", str(draft.id))
        old = row.draft
        new = dataclasses.replace(
            old,
            channel=draft.channel,
            sender_name=draft.sender_name,
            reply_to=draft.reply_to,
            subject=draft.subject,
            content=draft.content,
            status=draft.status,
            updated_at=self._tx.clock.now(),
            followups=draft.followups,
            send_at=draft.send_at,
            local_zone=draft.local_zone,
            parent_id=draft.parent_id,
            step=draft.step,
            delay_days=draft.delay_days,
        )
        row = dataclasses.replace(row, draft=new, attachment_ids=_linked(draft))
        self._tx.tables.drafts[_id(new)] = row
        return self._read(row)

    def set_status(
        self,
        team_id: str,
        draft_id: int,
        status: DraftStatus,
        *,
        only_from: DraftStatus | Collection[DraftStatus] | None = None,
    ) -> bool:
        row = self._row(team_id, draft_id)
        if row is None:
            raise NotFound("draft", str(draft_id))
        allowed = {only_from} if isinstance(only_from, DraftStatus) else only_from
        if allowed is not None and row.draft.status not in allowed:
            return False
        new = dataclasses.replace(row.draft, status=status, updated_at=self._tx.clock.now())
        self._tx.tables.drafts[draft_id] = dataclasses.replace(row, draft=new)
        return True

    def schedule(self, team_id: str, draft_id: int, start_at: datetime) -> bool:
        if not self.set_status(team_id, draft_id, DraftStatus.SCHEDULED, only_from=DraftStatus.DRAFT):
            return False
        row = self._tx.tables.drafts[draft_id]
        self._tx.tables.drafts[draft_id] = dataclasses.replace(row, start_at=start_at)
        return True

    def steps(self, team_id: str, draft_id: int) -> list[Draft]:
        rows = [
            row
            for row in self._tx.tables.drafts.values()
            if row.draft.team_id == team_id and row.draft.parent_id == draft_id
        ]
        return [self._read(row) for row in sorted(rows, key=lambda r: (r.draft.step, r.draft.id or 0))]

    def audience(
        self, team_id: str, draft_id: int, *, contacted_since: datetime | None = None, author_id: str = ""
    ) -> Generator[Recipient, None, None]:
        row = self._row(team_id, draft_id)
        partners = self._tx.tables.partners
        for mpid in row.recipients if row is not None else ():
            found = partners.get((team_id, mpid))
            if found is None:
                continue  # no longer a partner of the workspace
            at, by = found.last_contacted_at, found.last_contacted_by
            teammate = contacted_since is not None and at is not None and at >= contacted_since
            teammate = teammate and by not in ("", author_id)
            yield dataclasses.replace(
                Recipient.of(found.partner),
                last_contacted_at=at if teammate else None,
                last_contacted_by=by if teammate else "",
            )

    def has_recipient(self, team_id: str, draft_id: int, mpid: str) -> bool:
        row = self._row(team_id, draft_id)
        return row is not None and mpid in row.recipients

    def delete(self, team_id: str, draft_id: int) -> None:
        if self._row(team_id, draft_id) is None:
            raise NotFound("draft", str(draft_id))
        del self._tx.tables.drafts[draft_id]  # its attachments stay

    def for_author(
        self, team_id: str, author_id: str, statuses: Collection[DraftStatus] = (), *, files: bool = True
    ) -> list[Draft]:
        drafts = [
            self._read(row) if files else dataclasses.replace(self._read(row), attachments=())
            for row in self._tx.tables.drafts.values()
            if row.draft.team_id == team_id
            and row.draft.author_id == author_id
            and (not statuses or row.draft.status in statuses)
        ]
        return sorted(drafts, key=lambda d: (d.updated_at, d.id), reverse=True)

    def _row(self, team_id: str, draft_id: int) -> DraftRow | None:
        row = self._tx.tables.drafts.get(draft_id)
        return row if row is not None and row.draft.team_id == team_id else None

    def _read(self, row: DraftRow) -> Draft:
        files = self._tx.tables.attachments
        team = row.draft.team_id
        attachments = tuple(files[i][1] for i in row.attachment_ids if i in files and files[i][0] == team)
        return dataclasses.replace(row.draft, attachments=attachments, recipient_count=len(row.recipients))


def _bare(draft: Draft) -> Draft:
    return dataclasses.replace(draft, attachments=(), recipient_count=0)


def _linked(draft: Draft) -> tuple[int, ...]:
    for attachment in draft.attachments:
        if attachment.id is None:
            raise ValueError(f"attachment {attachment.filename!r} must be stored before it is linked")
    return tuple(a.id for a in draft.attachments if a.id is not None)


def _id(draft: Draft) -> int:
    assert draft.id is not None
    return draft.id
