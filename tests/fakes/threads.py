"""In-memory conversation threads and audit log, as storage/thread_repository.py and storage/repositories.py
behave (the inbound look-ups are not faked: compose and delivery only open threads and add messages)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime

from outreach.errors import AlreadyExists, NotFound
from outreach.models import (
    AuditEvent,
    Channel,
    ConversationReply,
    DeliveryStatus,
    Direction,
    Thread,
    ThreadEmail,
    ThreadMessage,
)
from tests.fakes.tables import MessageRow, Transaction


class FakeThreadRepository:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def open(self, team_id: str, mpid: str, channel: Channel, subject: str = "") -> Thread:
        threads = self._tx.tables.threads
        for thread in threads.values():
            if (thread.team_id, thread.mpid, thread.channel) == (team_id, mpid, channel):
                return thread
        thread = Thread(
            team_id, mpid, channel, subject, id=self._tx.next_id(), created_at=self._tx.clock.now()
        )
        assert thread.id is not None
        threads[thread.id] = thread
        return thread

    def add_message(self, team_id: str, thread_id: int, message: ThreadMessage) -> ThreadMessage:
        tables = self._tx.tables
        if self.get(team_id, thread_id) is None:
            raise NotFound("thread", str(thread_id))
        if message.external_id and any(
            row.team_id == team_id and row.message.external_id == message.external_id
            for row in tables.messages.values()
        ):
            raise AlreadyExists(f"a message with external id {message.external_id!r} is already stored")
        for received in message.files:
            if received.attachment.id is None:
                raise ValueError(f"file {received.attachment.filename!r} must be stored before it is linked")
        stored = dataclasses.replace(message, id=self._tx.next_id(), at=message.at or self._tx.clock.now())
        assert stored.id is not None
        tables.messages[stored.id] = MessageRow(team_id, thread_id, stored)
        return stored

    def get(self, team_id: str, thread_id: int) -> Thread | None:
        tables = self._tx.tables
        thread = tables.threads.get(thread_id)
        if thread is None or thread.team_id != team_id:
            return None
        messages = sorted(
            (row.message for row in tables.messages.values() if row.thread_id == thread_id),
            key=lambda m: (m.at, m.id),
        )
        return dataclasses.replace(thread, messages=tuple(messages))

    def for_partner(self, team_id: str, mpid: str) -> list[Thread]:
        threads = self._tx.tables.threads
        return [t for _, t in sorted(threads.items()) if (t.team_id, t.mpid) == (team_id, mpid)]

    def last_replies(self, team_id: str, mpids: Collection[str]) -> dict[str, datetime]:
        tables, wanted, found = self._tx.tables, set(mpids), {}
        for row in tables.messages.values():
            thread = tables.threads.get(row.thread_id)
            at = row.message.at
            if (
                thread is None
                or thread.team_id != team_id
                or row.team_id != team_id
                or thread.mpid not in wanted
                or row.message.direction is not Direction.IN
                or at is None
            ):
                continue
            if thread.mpid not in found or at > found[thread.mpid]:
                found[thread.mpid] = at
        return found


class FakeAuditLog:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def record(self, event: AuditEvent) -> AuditEvent:
        stored = dataclasses.replace(event, id=self._tx.next_id())
        assert stored.id is not None
        self._tx.tables.audit[stored.id] = stored
        return stored

    def recent(
        self, team_id: str, *, limit: int = 100, draft_id: int | None = None, mpid: str = ""
    ) -> list[AuditEvent]:
        events = [
            e
            for e in self._tx.tables.audit.values()
            if e.team_id == team_id
            and (draft_id is None or e.draft_id == draft_id)
            and (not mpid or e.mpid == mpid)
        ]
        return sorted(events, key=lambda e: (e.at, e.id), reverse=True)[:limit]


class FakeConversationReplies:
    """Replies written in Slack threads, as storage/conversations.py keeps them, and the e-mails sent to a partner
    (the inbound e-mails are not faked: the reply use case is tested on SQL; delivery only reads a draft's reply)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, reply: ConversationReply, now: datetime) -> bool:
        replies = self._tx.tables.replies
        if self.by_source(reply.team_id, reply.source_channel, reply.source_ts) is not None:
            return False
        replies[(reply.team_id, reply.draft_id)] = reply
        return True

    def get(self, team_id: str, draft_id: int) -> ConversationReply | None:
        return self._tx.tables.replies.get((team_id, draft_id))

    def by_source(self, team_id: str, channel: str, ts: str) -> ConversationReply | None:
        for reply in self._tx.tables.replies.values():
            if (reply.team_id, reply.source_channel, reply.source_ts) == (team_id, channel, ts):
                return reply
        return None

    def sent_emails(self, team_id: str, mpid: str, limit: int = 20) -> list[ThreadEmail]:
        tables = self._tx.tables
        sent = []
        for row in tables.deliveries.values():
            d = row.delivery
            draft = tables.drafts[d.draft_id].draft if d.draft_id in tables.drafts else None
            if (
                row.team_id == team_id
                and d.mpid == mpid
                and d.status is DeliveryStatus.SENT
                and d.provider_message_id
                and draft is not None
                and draft.channel is Channel.EMAIL
            ):
                sent.append(
                    (
                        d,
                        ThreadEmail(
                            d.provider_message_id,
                            draft.subject,
                            draft.sender_name,
                            draft.reply_to,
                            draft.author_id,
                            d.sent_at,
                        ),
                    )
                )
        sent.sort(key=lambda pair: (pair[0].sent_at is not None, pair[0].sent_at, pair[0].id))
        return [email for _, email in sent[-limit:]]
