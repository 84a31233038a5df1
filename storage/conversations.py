"""Conversations in Slack threads: where each is shown (``conversation_notices``), the events waiting to be shown
(``conversation_events``) and the replies written in those threads (``conversation_replies``). See the ports
:class:`outreach.ports.ConversationNotices`, :class:`~outreach.ports.ConversationOutbox` and
:class:`~outreach.ports.ConversationReplies`.

Holding a notice is one conditional statement, as for send notices (storage/send_notices.py): an ``INSERT … ON
CONFLICT DO NOTHING`` for a notice not made yet, else an ``UPDATE … WHERE`` nobody holds it (or the hold is
stale); of two processes only one wins (PostgreSQL makes the second statement wait for the first one's
transaction, SQLite serialises writers).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from outreach.models import (
    Attachment,
    Channel,
    ConversationEvent,
    ConversationNotice,
    ConversationReply,
    DeliveryStatus,
    Direction,
    EventKind,
    PendingEvent,
    ThreadEmail,
)
from storage.draft_repository import to_attachment
from storage.models import (
    AttachmentRow,
    ConversationEventRow,
    ConversationNoticeRow,
    ConversationReplyRow,
    DeliveryRow,
    DraftRow,
    ThreadMessageRow,
    ThreadRow,
)
from storage.upsert import insert_for

_NOTICES = cast(Table, ConversationNoticeRow.__table__)
_EVENTS = cast(Table, ConversationEventRow.__table__)
_REPLIES = cast(Table, ConversationReplyRow.__table__)


def _notice(row: Row[Any]) -> ConversationNotice:
    return ConversationNotice(row.team_id, row.thread_id, row.user_id, row.channel or "", row.ts or "")


class SqlConversationNotices:
    def __init__(self, session: Session) -> None:
        self._session = session

    @staticmethod
    def _key(team_id: str, thread_id: int, user_id: str) -> ColumnElement[bool]:
        c = _NOTICES.c
        return and_(c.team_id == team_id, c.thread_id == thread_id, c.user_id == user_id)

    def get(self, team_id: str, thread_id: int, user_id: str) -> ConversationNotice | None:
        row = self._session.execute(select(_NOTICES).where(self._key(team_id, thread_id, user_id))).first()
        return None if row is None else _notice(row)

    def at(self, team_id: str, channel: str, ts: str) -> ConversationNotice | None:
        if not channel or not ts:
            return None
        c = _NOTICES.c
        stmt = select(_NOTICES).where(c.team_id == team_id, c.channel == channel, c.ts == ts).limit(1)
        row = self._session.execute(stmt).first()
        return None if row is None else _notice(row)

    def take(
        self,
        team_id: str,
        thread_id: int,
        user_id: str,
        holder: str,
        now: datetime,
        *,
        stale_before: datetime,
    ) -> ConversationNotice | None:
        made = self._session.execute(
            insert_for(self._session, _NOTICES)
            .values(
                team_id=team_id,
                thread_id=thread_id,
                user_id=user_id,
                claimed_by=holder,
                claimed_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=[_NOTICES.c.team_id, _NOTICES.c.thread_id, _NOTICES.c.user_id]
            )
            .returning(*_NOTICES.c)
        ).first()
        if made is not None:
            return _notice(made)
        c = _NOTICES.c
        taken = self._session.execute(
            update(_NOTICES)
            .where(
                self._key(team_id, thread_id, user_id),
                or_(c.claimed_at.is_(None), c.claimed_at < stale_before, c.claimed_by == holder),
            )
            .values(claimed_by=holder, claimed_at=now)
            .returning(*_NOTICES.c)
        ).first()
        return None if taken is None else _notice(taken)

    def placed(
        self, team_id: str, thread_id: int, user_id: str, holder: str, *, channel: str, ts: str
    ) -> None:
        self._session.execute(
            update(_NOTICES)
            .where(self._key(team_id, thread_id, user_id), _NOTICES.c.claimed_by == holder)
            .values(channel=channel, ts=ts)
        )

    def release(self, team_id: str, thread_id: int, user_id: str, holder: str, now: datetime) -> None:
        self._session.execute(
            update(_NOTICES)
            .where(self._key(team_id, thread_id, user_id), _NOTICES.c.claimed_by == holder)
            .values(claimed_at=None, updated_at=now)
        )


class SqlConversationOutbox:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, event: ConversationEvent, file_ids: Sequence[int], now: datetime) -> int:
        if event.thread_id is None:
            raise ValueError("a conversation event is recorded with its thread")
        row = ConversationEventRow(
            team_id=event.team_id,
            thread_id=event.thread_id,
            user_id=event.author_id,
            mpid=event.mpid,
            kind=event.kind.value,
            channel=event.channel.value,
            at=event.at,
            text=event.text,
            detail=event.detail,
            draft_id=event.draft_id,
            files=list(file_ids),
            held=[[name, why] for name, why in event.held],
            posted_ts="",
            attempts=0,
            due_at=now,
            last_error="",
            created_at=now,
        )
        self._session.add(row)
        self._session.flush()
        return row.id

    def due(self, now: datetime, limit: int = 50) -> list[tuple[str, int, str]]:
        c = _EVENTS.c
        first = func.min(c.id)
        stmt = (
            select(c.team_id, c.thread_id, c.user_id)
            .where(c.done_at.is_(None), c.due_at <= now)
            .group_by(c.team_id, c.thread_id, c.user_id)
            .order_by(first)
            .limit(limit)
        )
        return [(row.team_id, row.thread_id, row.user_id) for row in self._session.execute(stmt)]

    def pending(self, team_id: str, thread_id: int, user_id: str, limit: int = 20) -> list[PendingEvent]:
        c = _EVENTS.c
        stmt = (
            select(ConversationEventRow)
            .where(c.team_id == team_id, c.thread_id == thread_id, c.user_id == user_id, c.done_at.is_(None))
            .order_by(c.id)
            .limit(limit)
        )
        return [self._pending(row) for row in self._session.scalars(stmt)]

    def posted(self, event_id: int, ts: str) -> None:
        self._session.execute(update(_EVENTS).where(_EVENTS.c.id == event_id).values(posted_ts=ts))

    def done(self, event_id: int, now: datetime) -> None:
        self._session.execute(update(_EVENTS).where(_EVENTS.c.id == event_id).values(done_at=now))

    def later(self, event_id: int, due_at: datetime, error: str, *, failed: bool = True) -> int:
        c = _EVENTS.c
        attempts = self._session.execute(
            update(_EVENTS)
            .where(c.id == event_id)
            .values(attempts=c.attempts + int(failed), due_at=due_at, last_error=error[:500])
            .returning(c.attempts)
        ).scalar_one_or_none()
        return int(attempts or 0)

    def give_up(self, event_id: int, now: datetime, error: str) -> None:
        c = _EVENTS.c
        self._session.execute(
            update(_EVENTS)
            .where(c.id == event_id)
            .values(done_at=now, attempts=c.attempts + 1, last_error=error[:500])
        )

    def _pending(self, row: ConversationEventRow) -> PendingEvent:
        files: list[Attachment] = []
        if row.files:
            found = {
                a.id: to_attachment(a)
                for a in self._session.scalars(
                    select(AttachmentRow).where(
                        AttachmentRow.team_id == row.team_id, AttachmentRow.id.in_(list(row.files))
                    )
                )
            }
            files = [found[i] for i in row.files if i in found]
        event = ConversationEvent(
            team_id=row.team_id,
            mpid=row.mpid,
            author_id=row.user_id,
            kind=EventKind(row.kind),
            channel=Channel(row.channel),
            at=row.at,
            text=row.text,
            thread_id=row.thread_id,
            draft_id=row.draft_id,
            files=tuple(files),
            held=tuple((str(name), str(why)) for name, why in row.held),
            detail=row.detail,
        )
        return PendingEvent(row.id, event, row.posted_ts, row.attempts, row.due_at)


class SqlConversationReplies:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, reply: ConversationReply, now: datetime) -> bool:
        c = _REPLIES.c
        stored = self._session.execute(
            insert_for(self._session, _REPLIES)
            .values(
                team_id=reply.team_id,
                draft_id=reply.draft_id,
                thread_id=reply.thread_id,
                user_id=reply.user_id,
                source_channel=reply.source_channel,
                source_ts=reply.source_ts,
                in_reply_to=reply.in_reply_to,
                reference_ids=" ".join(reply.references),
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[c.team_id, c.source_channel, c.source_ts])
            .returning(c.draft_id)
        ).first()
        return stored is not None

    def get(self, team_id: str, draft_id: int) -> ConversationReply | None:
        c = _REPLIES.c
        row = self._session.execute(
            select(_REPLIES).where(c.team_id == team_id, c.draft_id == draft_id)
        ).first()
        return None if row is None else _reply(row)

    def by_source(self, team_id: str, channel: str, ts: str) -> ConversationReply | None:
        c = _REPLIES.c
        stmt = select(_REPLIES).where(c.team_id == team_id, c.source_channel == channel, c.source_ts == ts)
        row = self._session.execute(stmt).first()
        return None if row is None else _reply(row)

    def sent_emails(self, team_id: str, mpid: str, limit: int = 20) -> list[ThreadEmail]:
        stmt = (
            select(
                DeliveryRow.provider_message_id,
                DeliveryRow.sent_at,
                DraftRow.subject,
                DraftRow.sender_name,
                DraftRow.reply_to,
                DraftRow.author_id,
            )
            .join(
                DraftRow, and_(DraftRow.id == DeliveryRow.draft_id, DraftRow.team_id == DeliveryRow.team_id)
            )
            .where(
                DeliveryRow.team_id == team_id,
                DeliveryRow.mpid == mpid,
                DeliveryRow.status == DeliveryStatus.SENT.value,
                DeliveryRow.provider_message_id != "",
                DraftRow.channel == Channel.EMAIL.value,
            )
            .order_by(DeliveryRow.sent_at.desc(), DeliveryRow.id.desc())
            .limit(limit)
        )
        rows = list(self._session.execute(stmt))
        return [
            ThreadEmail(r.provider_message_id, r.subject, r.sender_name, r.reply_to, r.author_id, r.sent_at)
            for r in reversed(rows)
        ]

    def received_emails(self, team_id: str, mpid: str, limit: int = 20) -> list[tuple[str, datetime]]:
        m = ThreadMessageRow
        # Where an inbound e-mail keeps its Message-ID: its provider id, else its idempotency id.
        message_id = case((m.provider_message_id.like("<%@%>"), m.provider_message_id), else_=m.external_id)
        stmt = (
            select(message_id.label("message_id"), m.created_at)
            .join(ThreadRow, and_(ThreadRow.id == m.thread_id, ThreadRow.team_id == m.team_id))
            .where(
                m.team_id == team_id,
                ThreadRow.mpid == mpid,
                ThreadRow.channel == Channel.EMAIL.value,
                m.direction == Direction.IN.value,
                or_(m.provider_message_id.like("<%@%>"), m.external_id.like("<%@%>")),
            )
            .order_by(m.created_at.desc(), m.id.desc())
            .limit(limit)
        )
        rows = list(self._session.execute(stmt))
        return [(r.message_id, r.created_at) for r in reversed(rows)]


def _reply(row: Row[Any]) -> ConversationReply:
    return ConversationReply(
        team_id=row.team_id,
        draft_id=row.draft_id,
        thread_id=row.thread_id,
        user_id=row.user_id,
        source_channel=row.source_channel,
        source_ts=row.source_ts,
        in_reply_to=row.in_reply_to,
        references=tuple(row.reference_ids.split()),
    )
