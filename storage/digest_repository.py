"""The digest's storage: unsent drafts across workspaces, and one claim per (workspace, user, local day)."""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from outreach.models import Channel, DraftStatus, DraftSummary
from storage.models import DigestClaimRow, DraftRecipientRow, DraftRow
from storage.upsert import insert_for

EXCERPT_CHARS = 200
_CLAIMS = cast(Table, DigestClaimRow.__table__)


class SqlDigestRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def stale_drafts(self, created_before: datetime) -> list[DraftSummary]:
        recipients = (
            select(DraftRecipientRow.draft_id, func.count().label("n"))
            .group_by(DraftRecipientRow.draft_id)
            .subquery()
        )
        stmt = (
            select(
                DraftRow.team_id,
                DraftRow.author_id,
                DraftRow.id,
                DraftRow.channel,
                DraftRow.subject,
                func.substr(DraftRow.content, 1, EXCERPT_CHARS).label("excerpt"),
                func.coalesce(recipients.c.n, 0).label("recipients"),
                DraftRow.created_at,
            )
            .outerjoin(recipients, recipients.c.draft_id == DraftRow.id)
            .where(DraftRow.status == DraftStatus.DRAFT.value, DraftRow.created_at < created_before)
            .order_by(DraftRow.team_id, DraftRow.author_id, DraftRow.created_at, DraftRow.id)
        )
        return [
            DraftSummary(
                team_id=row.team_id,
                author_id=row.author_id,
                draft_id=row.id,
                channel=Channel(row.channel),
                subject=row.subject,
                excerpt=row.excerpt or "",
                recipients=int(row.recipients),
                created_at=row.created_at,
            )
            for row in self._session.execute(stmt)
        ]

    def claim(self, team_id: str, user_id: str, day: date, at: datetime) -> bool:
        stmt = (
            insert_for(self._session, _CLAIMS)
            .values(team_id=team_id, user_id=user_id, day=day, claimed_at=at)
            .on_conflict_do_nothing(index_elements=[_CLAIMS.c.team_id, _CLAIMS.c.user_id, _CLAIMS.c.day])
            .returning(_CLAIMS.c.day)
        )
        return self._session.execute(stmt).first() is not None

    def release(self, team_id: str, user_id: str, day: date) -> None:
        self._session.execute(
            delete(_CLAIMS).where(
                _CLAIMS.c.team_id == team_id, _CLAIMS.c.user_id == user_id, _CLAIMS.c.day == day
            )
        )
