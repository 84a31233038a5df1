"""Drafts (with recipients and attachment links) and attachments (bytes, hash, sniffed type, verdict)."""

from __future__ import annotations

import sys
from collections.abc import Collection, Generator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, case, delete, false, func, insert, literal, null, select, update
from sqlalchemy.orm import Session

from outreach.errors import NotFound
from outreach.models import (
    Attachment,
    Channel,
    Draft,
    DraftStatus,
    FollowUp,
    Recipient,
    ScanStatus,
    ScanVerdict,
)
from outreach.ports import Clock
from storage.models import AttachmentRow, DraftAttachmentRow, DraftRecipientRow, DraftRow, PartnerRow

LINK_BATCH = 5000
STREAM_BATCH = 2000
_RECIPIENTS = cast(Table, DraftRecipientRow.__table__)
_PARTNERS = cast(Table, PartnerRow.__table__)


def _verdict(row: AttachmentRow) -> ScanVerdict | None:
    if not row.scan_status:
        return None
    return ScanVerdict(ScanStatus(row.scan_status), signature=row.scan_signature, detail=row.scan_detail)


def to_attachment(row: AttachmentRow) -> Attachment:
    return Attachment(
        filename=row.filename,
        mime_type=row.mime_type,
        sha256=row.sha256,
        data=row.data,
        verdict=_verdict(row),
        id=row.id,
    )


def _followup(stored: dict[str, object]) -> FollowUp:
    days = stored.get("days", 0)
    return FollowUp(
        days if isinstance(days, int) else 0, str(stored.get("content", "")), str(stored.get("subject", ""))
    )


class SqlAttachmentRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def add(self, team_id: str, attachment: Attachment) -> Attachment:
        verdict = attachment.verdict
        row = AttachmentRow(
            team_id=team_id,
            filename=attachment.filename,
            mime_type=attachment.mime_type,
            size=attachment.size,
            sha256=attachment.sha256,
            data=attachment.data,
            scan_status=verdict.status.value if verdict else "",
            scan_signature=verdict.signature if verdict else "",
            scan_detail=verdict.detail if verdict else "",
            created_at=self._clock.now(),
        )
        self._session.add(row)
        self._session.flush()
        return to_attachment(row)

    def get(self, team_id: str, attachment_id: int) -> Attachment | None:
        row = self._session.scalars(
            select(AttachmentRow).where(AttachmentRow.team_id == team_id, AttachmentRow.id == attachment_id)
        ).first()
        return None if row is None else to_attachment(row)


class SqlDraftRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def add(self, draft: Draft, recipients: Sequence[str]) -> Draft:
        now = self._clock.now()
        row = DraftRow(team_id=draft.team_id, author_id=draft.author_id, created_at=draft.created_at or now)
        self._fill(row, draft, now)
        self._session.add(row)
        self._session.flush()
        self._link_recipients(row.id, draft.team_id, recipients)
        self._link_attachments(row.id, draft)
        return self._to_draft(row)

    def get(self, team_id: str, draft_id: int, *, for_update: bool = False) -> Draft | None:
        row = self._row(team_id, draft_id, for_update=for_update)
        return None if row is None else self._to_draft(row)

    def save(self, draft: Draft) -> Draft:
        row = self._row(draft.team_id, draft.id) if draft.id is not None else None
        if row is None:
            raise NotFound("draft", str(draft.id))
        self._fill(row, draft, self._clock.now())
        self._session.execute(delete(DraftAttachmentRow).where(DraftAttachmentRow.draft_id == row.id))
        self._link_attachments(row.id, draft)
        self._session.flush()
        return self._to_draft(row)

    def set_status(
        self,
        team_id: str,
        draft_id: int,
        status: DraftStatus,
        *,
        only_from: DraftStatus | Collection[DraftStatus] | None = None,
    ) -> bool:
        return self._move(team_id, draft_id, only_from, status=status.value, updated_at=self._clock.now())

    def schedule(self, team_id: str, draft_id: int, start_at: datetime) -> bool:
        return self._move(
            team_id,
            draft_id,
            DraftStatus.DRAFT,
            status=DraftStatus.SCHEDULED.value,
            start_at=start_at,
            updated_at=self._clock.now(),
        )

    def _move(
        self,
        team_id: str,
        draft_id: int,
        only_from: DraftStatus | Collection[DraftStatus] | None,
        **values: Any,
    ) -> bool:
        self._session.flush()
        stmt = update(DraftRow).where(DraftRow.team_id == team_id, DraftRow.id == draft_id)
        if isinstance(only_from, DraftStatus):
            stmt = stmt.where(DraftRow.status == only_from.value)
        elif only_from is not None:
            stmt = stmt.where(DraftRow.status.in_(sorted(s.value for s in only_from)))
        result = self._session.execute(stmt.values(**values).execution_options(synchronize_session="fetch"))
        if getattr(result, "rowcount", 0):
            return True
        if self._row(team_id, draft_id) is None:
            raise NotFound("draft", str(draft_id))
        return False

    def steps(self, team_id: str, draft_id: int) -> list[Draft]:
        stmt = (
            select(DraftRow)
            .where(DraftRow.team_id == team_id, DraftRow.parent_id == draft_id)
            .order_by(DraftRow.step, DraftRow.id)
            .execution_options(populate_existing=True)
        )
        return [self._to_draft(row) for row in self._session.scalars(stmt)]

    def audience(
        self, team_id: str, draft_id: int, *, contacted_since: datetime | None = None, author_id: str = ""
    ) -> Generator[Recipient, None, None]:
        p, r = _PARTNERS.c, _RECIPIENTS.c
        # Only a teammate's recent contact is read (the database decides which: no date parsed for the rest).
        teammate = (
            and_(
                p.last_contacted_at >= contacted_since,
                p.last_contacted_by != "",
                p.last_contacted_by != author_id,
            )
            if contacted_since is not None
            else false()
        )
        stmt = (
            select(
                p.mpid,
                p.name,
                p.first_name,
                p.last_name,
                p.email,
                p.messaging_enabled,
                p.timezone,
                case((teammate, p.last_contacted_at), else_=null()).label("contacted_at"),
                case((teammate, p.last_contacted_by), else_=literal("")).label("contacted_by"),
            )
            .select_from(_RECIPIENTS.join(_PARTNERS, (p.team_id == r.team_id) & (p.mpid == r.mpid)))
            .where(r.draft_id == draft_id, r.team_id == team_id)
            .order_by(r.position)
            .execution_options(yield_per=STREAM_BATCH)
        )
        intern = sys.intern
        result = self._session.execute(stmt)
        try:
            for rows in result.partitions():
                for mpid, name, first, last, email, messaging, zone, contacted_at, contacted_by in rows:
                    yield Recipient(
                        mpid,
                        name,
                        intern(first),
                        intern(last),
                        email,
                        bool(messaging),
                        contacted_at,
                        intern(contacted_by),
                        intern(zone),
                    )
        finally:  # also when the reader stops early: PostgreSQL's server-side cursor is closed at once
            result.close()

    def has_recipient(self, team_id: str, draft_id: int, mpid: str) -> bool:
        stmt = select(_RECIPIENTS.c.mpid).where(
            _RECIPIENTS.c.draft_id == draft_id, _RECIPIENTS.c.team_id == team_id, _RECIPIENTS.c.mpid == mpid
        )
        return self._session.execute(stmt).first() is not None

    def delete(self, team_id: str, draft_id: int) -> None:
        row = self._row(team_id, draft_id)
        if row is None:
            raise NotFound("draft", str(draft_id))
        self._session.execute(delete(DraftRecipientRow).where(DraftRecipientRow.draft_id == row.id))
        self._session.execute(delete(DraftAttachmentRow).where(DraftAttachmentRow.draft_id == row.id))
        self._session.delete(row)
        self._session.flush()

    def for_author(
        self, team_id: str, author_id: str, statuses: Collection[DraftStatus] = (), *, files: bool = True
    ) -> list[Draft]:
        stmt = select(DraftRow).where(DraftRow.team_id == team_id, DraftRow.author_id == author_id)
        if statuses:
            stmt = stmt.where(DraftRow.status.in_([s.value for s in statuses]))
        rows = self._session.scalars(stmt.order_by(DraftRow.updated_at.desc(), DraftRow.id.desc()))
        return [self._to_draft(row, files=files) for row in rows]

    def count_for_author(self, team_id: str, author_id: str, statuses: Collection[DraftStatus] = ()) -> int:
        stmt = select(func.count()).where(DraftRow.team_id == team_id, DraftRow.author_id == author_id)
        if statuses:
            stmt = stmt.where(DraftRow.status.in_([s.value for s in statuses]))
        return int(self._session.scalar(stmt) or 0)

    def _row(self, team_id: str, draft_id: int, *, for_update: bool = False) -> DraftRow | None:
        # Always as the database has it now (another transaction may have changed it since this session
        # last read it), locked on PostgreSQL when asked (SQLite's transactions are serialised anyway).
        stmt = select(DraftRow).where(DraftRow.team_id == team_id, DraftRow.id == draft_id)
        stmt = stmt.execution_options(populate_existing=True)
        if for_update:
            stmt = stmt.with_for_update()
        return self._session.scalars(stmt).first()

    @staticmethod
    def _fill(row: DraftRow, draft: Draft, now: object) -> None:
        row.channel = draft.channel.value
        row.sender_name = draft.sender_name
        row.reply_to = draft.reply_to
        row.subject = draft.subject
        row.content = draft.content
        row.status = draft.status.value
        row.updated_at = now  # type: ignore[assignment]
        row.followups = [
            {"days": f.days, "subject": f.subject, "content": f.content} for f in draft.followups
        ]
        row.send_at = draft.send_at
        row.local_zone = draft.local_zone
        row.parent_id = draft.parent_id
        row.step = draft.step
        row.delay_days = draft.delay_days

    def _link_recipients(self, draft_id: int, team_id: str, recipients: Sequence[str]) -> None:
        # Plain rows, a few thousand at a time: a draft may have 100,000 recipients, and an ORM object (or
        # even a dict) for each at once would cost far more memory than the draft itself.
        seen: set[str] = set()
        rows: list[dict[str, Any]] = []
        for position, mpid in enumerate(recipients):
            if mpid not in seen:
                seen.add(mpid)
                rows.append({"draft_id": draft_id, "mpid": mpid, "team_id": team_id, "position": position})
                if len(rows) == LINK_BATCH:
                    self._session.execute(insert(_RECIPIENTS), rows)
                    rows = []
        if rows:
            self._session.execute(insert(_RECIPIENTS), rows)

    def _link_attachments(self, draft_id: int, draft: Draft) -> None:
        for position, attachment in enumerate(draft.attachments):
            if attachment.id is None:
                raise ValueError(f"attachment {attachment.filename!r} must be stored before it is linked")
            self._session.add(
                DraftAttachmentRow(
                    draft_id=draft_id, attachment_id=attachment.id, team_id=draft.team_id, position=position
                )
            )
        self._session.flush()

    def _to_draft(self, row: DraftRow, *, files: bool = True) -> Draft:
        recipients = self._session.execute(
            select(func.count()).where(_RECIPIENTS.c.draft_id == row.id)
        ).scalar_one()
        attachments: Sequence[AttachmentRow] = ()
        if files:
            attachments = self._session.scalars(
                select(AttachmentRow)
                .join(DraftAttachmentRow, DraftAttachmentRow.attachment_id == AttachmentRow.id)
                .where(DraftAttachmentRow.draft_id == row.id, AttachmentRow.team_id == row.team_id)
                .order_by(DraftAttachmentRow.position)
            ).all()
        return Draft(
            team_id=row.team_id,
            author_id=row.author_id,
            channel=Channel(row.channel),
            recipient_count=int(recipients),
            sender_name=row.sender_name,
            reply_to=row.reply_to,
            subject=row.subject,
            content=row.content,
            attachments=tuple(to_attachment(a) for a in attachments),
            status=DraftStatus(row.status),
            id=row.id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            followups=tuple(_followup(f) for f in row.followups or () if isinstance(f, dict)),
            send_at=row.send_at,
            local_zone=row.local_zone,
            parent_id=row.parent_id,
            step=row.step,
            delay_days=row.delay_days,
        )
