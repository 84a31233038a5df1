"""Claiming deliveries for workers, across workspaces.

A claim is a conditional update (``status = 'pending'`` → ``'in_flight'``) per row, so two workers can never
both own a delivery, on SQLite (one writer at a time) as on PostgreSQL, where ``FOR UPDATE SKIP LOCKED`` also
keeps workers from queueing behind each other's candidate rows.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from outreach.models import Claimed, DeliveryStatus, DraftStatus, SendRecord
from outreach.ports import Clock
from storage.models import (
    AttachmentRow,
    DeliveryRow,
    DraftAttachmentRow,
    DraftRow,
    PartnerRow,
)
from storage.repositories import to_delivery

PENDING = DeliveryStatus.PENDING.value
CLAIMED = DeliveryStatus.CLAIMED.value
IN_FLIGHT = DeliveryStatus.IN_FLIGHT.value
WORKING = (CLAIMED, IN_FLIGHT)


# Built once: marking a message as going out happens once per message.
_DELIVERIES = cast(Table, DeliveryRow.__table__)
# Built once, on the table (not the ORM class: no ORM bulk-update machinery for a statement run per message).
_SENDING_MANY = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.team_id == bindparam("w_team_id"),
        _DELIVERIES.c.id.in_(bindparam("w_ids", expanding=True)),
        _DELIVERIES.c.status == CLAIMED,
        _DELIVERIES.c.claimed_by == bindparam("w_worker"),
    )
    .values(status=IN_FLIGHT, claimed_at=bindparam("w_now"), updated_at=bindparam("w_now"))
    .returning(_DELIVERIES.c.id)
)


class SqlDeliveryQueue:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def claim(self, worker_id: str, now: datetime, limit: int, draft_id: int | None = None) -> list[Claimed]:
        due = or_(DeliveryRow.next_attempt_at.is_(None), DeliveryRow.next_attempt_at <= now)
        stmt = select(DeliveryRow.id).where(DeliveryRow.status == PENDING, due)
        if draft_id is not None:
            stmt = stmt.where(DeliveryRow.draft_id == draft_id)
        stmt = stmt.order_by(DeliveryRow.id).limit(limit)
        if self._session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        candidates = list(self._session.scalars(stmt))
        if not candidates:
            return []
        self._session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(candidates), DeliveryRow.status == PENDING)
            .values(
                status=CLAIMED,
                claimed_by=worker_id,
                claimed_at=now,
                attempts=DeliveryRow.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        rows = self._session.execute(
            select(DeliveryRow.__table__)
            .where(
                DeliveryRow.id.in_(candidates),
                DeliveryRow.status == CLAIMED,
                DeliveryRow.claimed_by == worker_id,
                DeliveryRow.claimed_at == now,
            )
            .order_by(DeliveryRow.id)
        )
        return [Claimed(row.team_id, to_delivery(row)) for row in rows]

    def retry_later(self, team_id: str, delivery_id: int, error: str, at: datetime) -> None:
        self._session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.team_id == team_id, DeliveryRow.id == delivery_id, DeliveryRow.status.in_(WORKING)
            )
            .values(
                status=PENDING,
                last_error=error,
                next_attempt_at=at,
                claimed_by="",
                claimed_at=None,
                updated_at=self._clock.now(),
            )
            .execution_options(synchronize_session=False)
        )

    def sending_many(
        self, team_id: str, delivery_ids: Collection[int], worker_id: str, now: datetime
    ) -> set[int]:
        params = {
            "w_team_id": team_id,
            "w_ids": sorted(set(delivery_ids)),
            "w_worker": worker_id,
            "w_now": now,
        }
        return {int(i) for i in self._session.execute(_SENDING_MANY, params).scalars()}

    def abandon_stale(self, claimed_before: datetime, reason: str) -> list[tuple[str, int]]:
        stale = and_(DeliveryRow.status.in_(WORKING), DeliveryRow.claimed_at < claimed_before)
        touched = {
            (r.team_id, r.draft_id)
            for r in self._session.execute(
                select(DeliveryRow.team_id, DeliveryRow.draft_id).where(stale).distinct()
            )
        }
        if touched:
            now = self._clock.now()
            # Only the message that was going out may have left: that one fails; the others go back to the queue.
            self._session.execute(
                update(DeliveryRow)
                .where(stale, DeliveryRow.status == IN_FLIGHT)
                .values(status=DeliveryStatus.FAILED.value, last_error=reason, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            self._session.execute(
                update(DeliveryRow)
                .where(stale, DeliveryRow.status == CLAIMED)
                .values(status=PENDING, claimed_by="", claimed_at=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return sorted(touched)

    def counts(self, team_id: str, draft_id: int) -> dict[DeliveryStatus, int]:
        stmt = (
            select(DeliveryRow.status, func.count())
            .where(DeliveryRow.team_id == team_id, DeliveryRow.draft_id == draft_id)
            .group_by(DeliveryRow.status)
        )
        found = {DeliveryStatus(status): int(n) for status, n in self._session.execute(stmt)}
        return {s: found.get(s, 0) for s in DeliveryStatus}

    def has_open(self, team_id: str, draft_id: int) -> bool:
        stmt = select(DeliveryRow.id).where(
            DeliveryRow.draft_id == draft_id,
            DeliveryRow.status.in_([PENDING, *WORKING]),
            DeliveryRow.team_id == team_id,
        )
        return self._session.execute(stmt.limit(1)).first() is not None

    def requeue_failed(self, team_id: str, draft_id: int) -> int:
        result = self._session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.team_id == team_id,
                DeliveryRow.draft_id == draft_id,
                DeliveryRow.status == DeliveryStatus.FAILED.value,
            )
            .values(
                status=PENDING,
                attempts=0,
                next_attempt_at=None,
                claimed_by="",
                claimed_at=None,
                updated_at=self._clock.now(),
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def cancel_pending(self, team_id: str, draft_id: int, reason: str) -> int:
        result = self._session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.team_id == team_id,
                DeliveryRow.draft_id == draft_id,
                DeliveryRow.status.in_([PENDING, CLAIMED]),
            )
            .values(
                status=DeliveryStatus.SKIPPED.value,
                last_error=reason,
                claimed_by="",
                claimed_at=None,
                updated_at=self._clock.now(),
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def scheduled_due(self, now: datetime, limit: int = 20) -> list[tuple[str, int]]:
        stmt = (
            select(DraftRow.team_id, DraftRow.id)
            .where(DraftRow.status == DraftStatus.SCHEDULED.value, DraftRow.start_at <= now)
            .order_by(DraftRow.start_at, DraftRow.id)
            .limit(limit)
        )
        return [(r.team_id, r.id) for r in self._session.execute(stmt)]

    def last_sender(self, team_id: str, mpid: str) -> str | None:
        stmt = (
            select(DraftRow.author_id)
            .select_from(DeliveryRow)
            .join(DraftRow, DraftRow.id == DeliveryRow.draft_id)
            .where(
                DeliveryRow.team_id == team_id,
                DeliveryRow.mpid == mpid,
                DeliveryRow.status == DeliveryStatus.SENT.value,
            )
            .order_by(DeliveryRow.sent_at.desc(), DeliveryRow.id.desc())
            .limit(1)
        )
        return self._session.execute(stmt).scalar_one_or_none()

    def send_log(self, team_id: str, since: datetime | None = None) -> list[SendRecord]:
        done = [DeliveryStatus.SENT.value, DeliveryStatus.FAILED.value, DeliveryStatus.SKIPPED.value]
        stmt = (
            select(
                DeliveryRow.updated_at,
                DeliveryRow.sent_at,
                DeliveryRow.status,
                DeliveryRow.mpid,
                DeliveryRow.last_error,
                DeliveryRow.provider_message_id,
                DraftRow.id,
                DraftRow.author_id,
                DraftRow.channel,
                DraftRow.subject,
                PartnerRow.email,
            )
            .join(DraftRow, DraftRow.id == DeliveryRow.draft_id)
            .outerjoin(
                PartnerRow,
                and_(PartnerRow.team_id == DeliveryRow.team_id, PartnerRow.mpid == DeliveryRow.mpid),
            )
            .where(DeliveryRow.team_id == team_id, DeliveryRow.status.in_(done))
            .order_by(DeliveryRow.updated_at, DeliveryRow.id)
        )
        if since is not None:
            stmt = stmt.where(DeliveryRow.updated_at >= since)
        files: dict[int, tuple[tuple[str, str], ...]] = {}
        records = []
        for row in self._session.execute(stmt):
            if row.id not in files:
                linked = self._session.execute(
                    select(AttachmentRow.filename, AttachmentRow.sha256)
                    .join(DraftAttachmentRow, DraftAttachmentRow.attachment_id == AttachmentRow.id)
                    .where(DraftAttachmentRow.draft_id == row.id)
                    .order_by(DraftAttachmentRow.position)
                )
                files[row.id] = tuple((f.filename, f.sha256) for f in linked)
            sent = row.status == DeliveryStatus.SENT.value
            records.append(
                SendRecord(
                    at=row.sent_at or row.updated_at,
                    author_id=row.author_id,
                    channel=row.channel,
                    draft_id=row.id,
                    mpid=row.mpid,
                    email=row.email or "",
                    subject=row.subject,
                    attachments=files[row.id],
                    result=row.status,
                    detail=_sent_detail(row.provider_message_id, row.last_error) if sent else row.last_error,
                )
            )
        return records

    def finished_sending(self) -> list[tuple[str, int]]:
        open_rows = (
            select(DeliveryRow.id)
            .where(
                DeliveryRow.draft_id == DraftRow.id,
                DeliveryRow.team_id == DraftRow.team_id,
                DeliveryRow.status.in_([PENDING, *WORKING]),
            )
            .exists()
        )
        stmt = select(DraftRow.team_id, DraftRow.id).where(
            DraftRow.status == DraftStatus.SENDING.value, ~open_rows
        )
        return sorted((r.team_id, r.id) for r in self._session.execute(stmt))

    def end_open(self, team_id: str, reason: str, at: datetime) -> int:
        # Conditional on the status: a CLAIMED row its worker puts in flight meanwhile is not touched (the worker's
        # move to IN_FLIGHT is itself conditional on CLAIMED, so one of the two wins, never both).
        result = self._session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.team_id == team_id, DeliveryRow.status.in_([PENDING, CLAIMED]))
            .values(
                status=DeliveryStatus.FAILED.value,
                last_error=reason,
                next_attempt_at=None,
                claimed_by="",
                claimed_at=None,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def sending_drafts(self) -> list[tuple[str, int]]:
        stmt = (
            select(DeliveryRow.team_id, DeliveryRow.draft_id)
            .where(DeliveryRow.status.in_([PENDING, *WORKING]))
            .distinct()
        )
        return sorted((r.team_id, r.draft_id) for r in self._session.execute(stmt))


def _sent_detail(message_id: str, note: str) -> str:
    """A sent delivery's detail: its message id, and what came after it (a delayed bounce's note)."""
    return f"{message_id} ({note})" if note else message_id
