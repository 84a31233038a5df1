"""The author's DM about each send (table ``send_notices``), shared by every process: see
:class:`outreach.ports.SendNotices`.

A process *holds* a notice while it writes the DM (``claimed_at`` set; ``claimed_by`` names the process holding
it, or the one that held it last). Taking it is one conditional statement — an ``INSERT … ON CONFLICT DO
NOTHING`` for a notice not made yet, else an ``UPDATE … WHERE`` nobody holds it (or the hold is stale) — so of
two processes only one wins: on PostgreSQL the second statement waits for the first one's transaction and then
finds the row held; SQLite serialises writers. ``written`` stores what was written and lets go in one statement
(only a hold that is still the writer's). ``quiet_since`` spaces the writes of different processes: a process's
own last write is spaced by the process itself (a monotonic clock, not the wall clocks of two machines).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from outreach.models import DraftStatus, SendNotice
from storage.models import DraftRow, SendNoticeRow
from storage.upsert import insert_for

_NOTICES = cast(Table, SendNoticeRow.__table__)
# A send that is over: finished, or (a follow-up step) cancelled while it went.
_CLOSED = (
    DraftStatus.SENT.value,
    DraftStatus.PARTIAL.value,
    DraftStatus.FAILED.value,
    DraftStatus.CANCELLED.value,
)


def _notice(row: Row[Any]) -> SendNotice:
    return SendNotice(
        team_id=row.team_id,
        draft_id=row.draft_id,
        channel=row.channel or "",
        ts=row.ts or "",
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def _free(holder: str, stale_before: datetime) -> ColumnElement[bool]:
    c = _NOTICES.c
    return or_(c.claimed_at.is_(None), c.claimed_at < stale_before, c.claimed_by == holder)


class SqlSendNotices:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _key(self, team_id: str, draft_id: int) -> ColumnElement[bool]:
        return and_(_NOTICES.c.team_id == team_id, _NOTICES.c.draft_id == draft_id)

    def get(self, team_id: str, draft_id: int) -> SendNotice | None:
        row = self._session.execute(select(_NOTICES).where(self._key(team_id, draft_id))).first()
        return _notice(row) if row is not None else None

    def take(
        self,
        team_id: str,
        draft_id: int,
        holder: str,
        now: datetime,
        *,
        stale_before: datetime,
        quiet_since: datetime | None = None,
    ) -> SendNotice | None:
        made = self._session.execute(
            insert_for(self._session, _NOTICES)
            .values(team_id=team_id, draft_id=draft_id, claimed_by=holder, claimed_at=now)
            .on_conflict_do_nothing(index_elements=[_NOTICES.c.team_id, _NOTICES.c.draft_id])
            .returning(*_NOTICES.c)
        ).first()
        if made is not None:
            return _notice(made)
        c = _NOTICES.c
        conditions = [self._key(team_id, draft_id), c.finished_at.is_(None), _free(holder, stale_before)]
        if quiet_since is not None:
            conditions.append(
                or_(c.updated_at.is_(None), c.updated_at <= quiet_since, c.claimed_by == holder)
            )
        taken = self._session.execute(
            update(_NOTICES)
            .where(*conditions)
            .values(claimed_by=holder, claimed_at=now)
            .returning(*_NOTICES.c)
        ).first()
        return _notice(taken) if taken is not None else None

    def reopen(
        self,
        team_id: str,
        draft_id: int,
        holder: str,
        now: datetime,
        *,
        stale_before: datetime,
        finished_before: datetime,
    ) -> SendNotice | None:
        c = _NOTICES.c
        reopened = self._session.execute(
            update(_NOTICES)
            .where(
                self._key(team_id, draft_id),
                c.finished_at.is_not(None),
                c.finished_at < finished_before,
                _free(holder, stale_before),
            )
            .values(
                channel=None, ts=None, updated_at=None, finished_at=None, claimed_by=holder, claimed_at=now
            )
            .returning(*_NOTICES.c)
        ).first()
        return _notice(reopened) if reopened is not None else None

    def written(
        self,
        team_id: str,
        draft_id: int,
        holder: str,
        now: datetime,
        *,
        channel: str = "",
        ts: str = "",
        finished: bool = False,
        keep: bool = False,
    ) -> None:
        c = _NOTICES.c
        values: dict[str, Any] = {"updated_at": now}
        if not keep:  # let go (claimed_by stays: the last writer)
            values["claimed_at"] = case((c.claimed_by == holder, None), else_=c.claimed_at)
        if channel and ts:
            values.update(channel=channel, ts=ts)
        if finished:
            values["finished_at"] = now
        self._session.execute(update(_NOTICES).where(self._key(team_id, draft_id)).values(**values))

    def release(self, team_id: str, draft_id: int, holder: str) -> None:
        self._session.execute(
            update(_NOTICES)
            .where(self._key(team_id, draft_id), _NOTICES.c.claimed_by == holder)
            .values(claimed_at=None)
        )

    def active(self, team_id: str, since: datetime) -> int:
        c = _NOTICES.c
        stmt = (
            select(func.count())
            .select_from(_NOTICES)
            .where(
                c.finished_at.is_(None),
                c.team_id == team_id,
                or_(c.updated_at >= since, c.claimed_at >= since),
            )
        )
        return int(self._session.execute(stmt).scalar_one())

    def unfinished(
        self, since: datetime, written_before: datetime, stale_before: datetime, limit: int = 100
    ) -> list[SendNotice]:
        c = _NOTICES.c
        last = func.coalesce(c.updated_at, c.claimed_at)
        stmt = (
            select(_NOTICES)
            .join(DraftRow, and_(DraftRow.id == c.draft_id, DraftRow.team_id == c.team_id))
            .where(
                c.finished_at.is_(None),
                last >= since,
                last < written_before,
                or_(c.claimed_at.is_(None), c.claimed_at < stale_before),
                DraftRow.status.in_(_CLOSED),
            )
            .order_by(last)
            .limit(limit)
        )
        return [_notice(row) for row in self._session.execute(stmt)]
