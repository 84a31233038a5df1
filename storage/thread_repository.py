"""Conversations with partners: threads (one per partner and channel), their messages, and the files of
inbound messages (kept or quarantined, linked to rows of ``attachments``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from outreach.errors import AlreadyExists, NotFound
from outreach.models import Channel, Direction, ReceivedFile, Thread, ThreadMessage
from outreach.ports import Clock
from storage.draft_repository import to_attachment
from storage.models import AttachmentRow, ThreadMessageFileRow, ThreadMessageRow, ThreadRow
from storage.upsert import chunks, insert_for

_MESSAGES = cast(Table, ThreadMessageRow.__table__)
_EXTERNAL_SET = text("external_id <> ''")  # the partial unique index uq_thread_messages_external


def _to_thread(row: ThreadRow, messages: Sequence[ThreadMessage] = ()) -> Thread:
    return Thread(
        team_id=row.team_id,
        mpid=row.mpid,
        channel=Channel(row.channel),
        subject=row.subject,
        messages=tuple(messages),
        id=row.id,
        created_at=row.created_at,
    )


class SqlThreadRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def _find(self, team_id: str, mpid: str, channel: Channel) -> ThreadRow | None:
        stmt = select(ThreadRow).where(
            ThreadRow.team_id == team_id, ThreadRow.mpid == mpid, ThreadRow.channel == channel.value
        )
        return self._session.scalars(stmt).first()

    def _thread_row(self, team_id: str, thread_id: int) -> ThreadRow | None:
        stmt = select(ThreadRow).where(ThreadRow.team_id == team_id, ThreadRow.id == thread_id)
        return self._session.scalars(stmt).first()

    def open(self, team_id: str, mpid: str, channel: Channel, subject: str = "") -> Thread:
        row = self._find(team_id, mpid, channel)
        if row is None:
            table = cast(Table, ThreadRow.__table__)
            values = {"team_id": team_id, "mpid": mpid, "channel": channel.value, "subject": subject}
            stmt = insert_for(self._session, table).values(created_at=self._clock.now(), **values)
            self._session.execute(stmt.on_conflict_do_nothing())
            row = self._find(team_id, mpid, channel)
            assert row is not None
        return _to_thread(row)

    def add_message(self, team_id: str, thread_id: int, message: ThreadMessage) -> ThreadMessage:
        thread = self._thread_row(team_id, thread_id)
        if thread is None:
            raise NotFound("thread", str(thread_id))
        at = message.at or self._clock.now()
        values: dict[str, Any] = {
            "team_id": team_id,
            "thread_id": thread_id,
            "direction": message.direction.value,
            "author_id": message.author_id,
            "body": message.body,
            "provider_message_id": message.provider_message_id,
            "delivery_id": message.delivery_id,
            "created_at": at,
            "external_id": message.external_id,
        }
        stmt = insert_for(self._session, _MESSAGES).values(values)
        if message.external_id:
            stmt = stmt.on_conflict_do_nothing(
                index_elements=[_MESSAGES.c.team_id, _MESSAGES.c.external_id], index_where=_EXTERNAL_SET
            )
        new_id = self._session.execute(stmt.returning(_MESSAGES.c.id)).scalar_one_or_none()
        if new_id is None:
            raise AlreadyExists(f"a message with external id {message.external_id!r} is already stored")
        for position, received in enumerate(message.files):
            if received.attachment.id is None:
                raise ValueError(f"file {received.attachment.filename!r} must be stored before it is linked")
            self._session.add(
                ThreadMessageFileRow(
                    message_id=new_id,
                    attachment_id=received.attachment.id,
                    team_id=team_id,
                    position=position,
                    quarantine=received.quarantine,
                    reason=received.reason[:500],
                )
            )
        thread.last_message_at = at
        self._session.flush()
        row = self._session.get_one(ThreadMessageRow, new_id)
        return self._to_message(row)

    def get(self, team_id: str, thread_id: int) -> Thread | None:
        row = self._thread_row(team_id, thread_id)
        if row is None:
            return None
        messages = self._session.scalars(
            select(ThreadMessageRow)
            .where(ThreadMessageRow.team_id == team_id, ThreadMessageRow.thread_id == thread_id)
            .order_by(ThreadMessageRow.created_at, ThreadMessageRow.id)
        )
        return _to_thread(row, [self._to_message(m) for m in messages])

    def for_partner(self, team_id: str, mpid: str) -> list[Thread]:
        rows = self._session.scalars(
            select(ThreadRow)
            .where(ThreadRow.team_id == team_id, ThreadRow.mpid == mpid)
            .order_by(ThreadRow.id)
        )
        return [_to_thread(row) for row in rows]

    def by_external_id(self, team_id: str, external_id: str) -> tuple[Thread, ThreadMessage] | None:
        if not external_id:
            return None
        stmt = select(ThreadMessageRow).where(
            ThreadMessageRow.team_id == team_id, ThreadMessageRow.external_id == external_id
        )
        return self._with_thread(self._session.scalars(stmt).first())

    def find_out_message(
        self,
        team_id: str,
        mpid: str,
        *,
        provider_message_id: str = "",
        delivery_id: int | None = None,
    ) -> tuple[Thread, ThreadMessage] | None:
        if not provider_message_id and delivery_id is None:
            return None
        stmt = self._out_to(team_id, mpid)
        if provider_message_id:
            stmt = stmt.where(ThreadMessageRow.provider_message_id == provider_message_id)
        if delivery_id is not None:
            stmt = stmt.where(ThreadMessageRow.delivery_id == delivery_id)
        return self._with_thread(self._session.scalars(stmt.limit(1)).first())

    def last_out_message(self, team_id: str, mpid: str) -> ThreadMessage | None:
        row = self._session.scalars(self._out_to(team_id, mpid).limit(1)).first()
        return None if row is None else self._to_message(row)

    def last_replies(self, team_id: str, mpids: Collection[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for chunk in chunks(sorted(set(mpids))):
            stmt = (
                select(ThreadRow.mpid, func.max(ThreadMessageRow.created_at))
                .join(ThreadRow, ThreadRow.id == ThreadMessageRow.thread_id)
                .where(
                    ThreadMessageRow.team_id == team_id,
                    ThreadMessageRow.direction == Direction.IN.value,
                    ThreadRow.team_id == team_id,
                    ThreadRow.mpid.in_(chunk),
                )
                .group_by(ThreadRow.mpid)
            )
            found.update((mpid, at) for mpid, at in self._session.execute(stmt) if at is not None)
        return found

    # -- helpers -------------------------------------------------------------------------------------------
    @staticmethod
    def _out_to(team_id: str, mpid: str) -> Any:
        return (
            select(ThreadMessageRow)
            .join(ThreadRow, ThreadRow.id == ThreadMessageRow.thread_id)
            .where(
                ThreadMessageRow.team_id == team_id,
                ThreadMessageRow.direction == Direction.OUT.value,
                ThreadRow.team_id == team_id,
                ThreadRow.mpid == mpid,
            )
            .order_by(ThreadMessageRow.created_at.desc(), ThreadMessageRow.id.desc())
        )

    def _with_thread(self, row: ThreadMessageRow | None) -> tuple[Thread, ThreadMessage] | None:
        if row is None:
            return None
        thread = self._thread_row(row.team_id, row.thread_id)
        assert thread is not None
        return _to_thread(thread), self._to_message(row)

    def _to_message(self, row: ThreadMessageRow) -> ThreadMessage:
        links = self._session.execute(
            select(ThreadMessageFileRow, AttachmentRow)
            .join(AttachmentRow, AttachmentRow.id == ThreadMessageFileRow.attachment_id)
            .where(ThreadMessageFileRow.message_id == row.id, AttachmentRow.team_id == row.team_id)
            .order_by(ThreadMessageFileRow.position)
        ).all()
        return ThreadMessage(
            direction=Direction(row.direction),
            body=row.body,
            author_id=row.author_id,
            provider_message_id=row.provider_message_id,
            delivery_id=row.delivery_id,
            at=row.created_at,
            id=row.id,
            external_id=row.external_id,
            files=tuple(
                ReceivedFile(to_attachment(attachment), link.quarantine, link.reason)
                for link, attachment in links
            ),
        )
