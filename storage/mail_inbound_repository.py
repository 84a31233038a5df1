"""Inbound e-mail: the e-mails we sent found by Message-ID or delivery, the bounces already handled
(``handled_mail``), and users' mailboxes read over IMAP (``mailboxes``): see
:class:`outreach.ports.InboundMailRepository` and :class:`outreach.ports.Mailboxes`.

A poller holds a mailbox with one conditional statement — an ``INSERT … ON CONFLICT DO NOTHING`` for a mailbox
never polled, else an ``UPDATE … WHERE`` nobody holds it (or the hold ran out) — so of two processes only one
wins (PostgreSQL makes the second wait for the first's transaction, then finds the row held; SQLite serialises
writers). Every later write is conditional on the hold still being the writer's.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, or_, select, update
from sqlalchemy.orm import Session

from outreach.models import Channel, MailboxState, SentEmail
from storage.models import DeliveryRow, DraftRow, HandledMailRow, MailAccountRow, MailboxRow, PartnerRow
from storage.repositories import to_delivery
from storage.upsert import chunks, insert_for

_HANDLED = cast(Table, HandledMailRow.__table__)
_MAILBOXES = cast(Table, MailboxRow.__table__)


class SqlInboundMail:
    def __init__(self, session: Session) -> None:
        self._session = session

    def sent(self, message_ids: Collection[str], team_id: str | None = None) -> list[SentEmail]:
        wanted = sorted({i for i in message_ids if i})
        found: list[SentEmail] = []
        for chunk in chunks(wanted):
            stmt = _sent().where(DeliveryRow.provider_message_id.in_(chunk))
            if team_id is not None:
                stmt = stmt.where(DeliveryRow.team_id == team_id)
            found += [_to_sent(row) for row in self._session.execute(stmt)]
        found.sort(
            key=lambda s: (s.delivery.sent_at is not None, s.delivery.sent_at, s.delivery.id), reverse=True
        )
        return found

    def sent_delivery(self, delivery_id: int) -> SentEmail | None:
        row = self._session.execute(_sent().where(DeliveryRow.id == delivery_id)).first()
        return None if row is None else _to_sent(row)

    def first_time(self, team_id: str, mail_id: str, at: datetime) -> bool:
        stmt = (
            insert_for(self._session, _HANDLED)
            .values(team_id=team_id, mail_id=mail_id, handled_at=at)
            .on_conflict_do_nothing()
            .returning(_HANDLED.c.mail_id)
        )
        return self._session.execute(stmt).first() is not None


def _sent() -> Any:
    """E-mail deliveries that went (a Message-ID kept), with their author, subject and partner's address."""
    return (
        select(DeliveryRow, DraftRow.author_id, DraftRow.subject, PartnerRow.email)
        .join(DraftRow, and_(DraftRow.id == DeliveryRow.draft_id, DraftRow.team_id == DeliveryRow.team_id))
        .outerjoin(
            PartnerRow, and_(PartnerRow.team_id == DeliveryRow.team_id, PartnerRow.mpid == DeliveryRow.mpid)
        )
        .where(DraftRow.channel == Channel.EMAIL.value, DeliveryRow.provider_message_id != "")
    )


def _to_sent(row: Any) -> SentEmail:
    delivery: DeliveryRow = row[0]
    return SentEmail(
        team_id=delivery.team_id,
        delivery=to_delivery(delivery),
        author_id=row.author_id,
        subject=row.subject,
        email=(row.email or "").strip().lower(),
    )


def _state(row: Any) -> MailboxState:
    return MailboxState(row.team_id, row.user_id, row.uidvalidity, row.last_uid, row.broken_at)


class SqlMailboxes:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _key(self, team_id: str, user_id: str) -> ColumnElement[bool]:
        return and_(_MAILBOXES.c.team_id == team_id, _MAILBOXES.c.user_id == user_id)

    def readable(self) -> list[tuple[str, str]]:
        stmt = (
            select(MailAccountRow.team_id, MailAccountRow.user_id)
            .outerjoin(
                MailboxRow,
                and_(
                    MailboxRow.team_id == MailAccountRow.team_id, MailboxRow.user_id == MailAccountRow.user_id
                ),
            )
            .where(MailAccountRow.imap_host != "", MailboxRow.broken_at.is_(None))
            .order_by(MailAccountRow.team_id, MailAccountRow.user_id)
        )
        return [(row.team_id, row.user_id) for row in self._session.execute(stmt)]

    def take(
        self, team_id: str, user_id: str, holder: str, now: datetime, until: datetime
    ) -> MailboxState | None:
        made = self._session.execute(
            insert_for(self._session, _MAILBOXES)
            .values(team_id=team_id, user_id=user_id, last_uid=0, holder=holder, held_until=until)
            .on_conflict_do_nothing(index_elements=[_MAILBOXES.c.team_id, _MAILBOXES.c.user_id])
            .returning(*_MAILBOXES.c)
        ).first()
        if made is not None:
            return _state(made)
        c = _MAILBOXES.c
        taken = self._session.execute(
            update(_MAILBOXES)
            .where(
                self._key(team_id, user_id),
                c.broken_at.is_(None),
                or_(c.holder.is_(None), c.held_until < now, c.holder == holder),
            )
            .values(holder=holder, held_until=until)
            .returning(*_MAILBOXES.c)
        ).first()
        return _state(taken) if taken is not None else None

    def advance(
        self, team_id: str, user_id: str, holder: str, *, uidvalidity: int, last_uid: int, until: datetime
    ) -> bool:
        done = self._session.execute(
            update(_MAILBOXES)
            .where(self._key(team_id, user_id), _MAILBOXES.c.holder == holder)
            .values(uidvalidity=uidvalidity, last_uid=last_uid, held_until=until)
            .returning(_MAILBOXES.c.user_id)
        ).first()
        return done is not None

    def release(self, team_id: str, user_id: str, holder: str) -> None:
        self._session.execute(
            update(_MAILBOXES)
            .where(self._key(team_id, user_id), _MAILBOXES.c.holder == holder)
            .values(holder=None, held_until=None)
        )

    def refused(self, team_id: str, user_id: str, at: datetime) -> bool:
        self._session.execute(
            insert_for(self._session, _MAILBOXES)
            .values(team_id=team_id, user_id=user_id, last_uid=0)
            .on_conflict_do_nothing(index_elements=[_MAILBOXES.c.team_id, _MAILBOXES.c.user_id])
        )
        first = self._session.execute(
            update(_MAILBOXES)
            .where(self._key(team_id, user_id), _MAILBOXES.c.broken_at.is_(None))
            .values(broken_at=at, holder=None, held_until=None)
            .returning(_MAILBOXES.c.user_id)
        ).first()
        return first is not None

    def reset(self, team_id: str, user_id: str, *, same_mailbox: bool) -> None:
        values: dict[str, Any] = {"broken_at": None}
        if not same_mailbox:
            values.update(uidvalidity=None, last_uid=0)
        self._session.execute(update(_MAILBOXES).where(self._key(team_id, user_id)).values(values))
