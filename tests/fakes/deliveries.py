"""In-memory deliveries and the delivery queue, as storage/repositories.py and storage/delivery_queue.py behave:
one delivery per (draft, recipient), a plan in the draft's order, claims oldest first that count an attempt, and
every move conditional on the state the row is in (a row another worker took back is not ours any more)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from outreach.models import Claimed, Delivery, DeliveryStatus, DraftStatus
from tests.fakes.tables import DeliveryRow, Tables, Transaction

PENDING, CLAIMED, IN_FLIGHT = DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.IN_FLIGHT
OPEN = (PENDING, CLAIMED, IN_FLIGHT)


def _rows(tables: Tables, team_id: str, draft_id: int) -> list[DeliveryRow]:
    """The draft's deliveries in id order (the order they are sent in)."""
    return [
        row
        for _, row in sorted(tables.deliveries.items())
        if row.team_id == team_id and row.delivery.draft_id == draft_id
    ]


_ROW_FIELDS = frozenset(("next_attempt_at", "claimed_by", "claimed_at"))  # the rest are the Delivery's


def _set(tables: Tables, row: DeliveryRow, **changes: Any) -> DeliveryRow:
    """``row`` with these fields (of the row or of its delivery) changed, written back."""
    delivery = dataclasses.replace(row.delivery, **{k: v for k, v in changes.items() if k not in _ROW_FIELDS})
    new = dataclasses.replace(
        row, delivery=delivery, **{k: v for k, v in changes.items() if k in _ROW_FIELDS}
    )
    assert delivery.id is not None
    tables.deliveries[delivery.id] = new
    return new


class FakeDeliveryRepository:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def plan(self, team_id: str, draft_id: int, skipped: Mapping[str, Collection[str]]) -> int:
        tables = self._tx.tables
        if any(r.delivery.draft_id == draft_id for r in tables.deliveries.values()):
            raise RuntimeError(f"draft {draft_id} is planned already (the database refuses a second plan)")
        draft = tables.drafts.get(draft_id)
        recipients = draft.recipients if draft is not None and draft.draft.team_id == team_id else ()
        reasons = {mpid: reason for reason, mpids in skipped.items() for mpid in mpids}
        for mpid in recipients:
            if (team_id, mpid) not in tables.partners:
                continue  # no longer a partner of the workspace
            delivery_id = self._tx.next_id()
            delivery = Delivery(draft_id, mpid, id=delivery_id)
            if mpid in reasons:
                delivery = dataclasses.replace(
                    delivery, status=DeliveryStatus.SKIPPED, last_error=reasons[mpid]
                )
            tables.deliveries[delivery_id] = DeliveryRow(team_id, delivery)
        return sum(r.delivery.status is PENDING for r in _rows(tables, team_id, draft_id))

    def sent_to(self, team_id: str, draft_id: int, mpids: Collection[str]) -> dict[str, Delivery]:
        wanted = set(mpids)
        return {
            r.delivery.mpid: r.delivery
            for r in _rows(self._tx.tables, team_id, draft_id)
            if r.delivery.mpid in wanted and r.delivery.status is DeliveryStatus.SENT
        }

    def plan_followups(self, team_id: str, draft_id: int, due: Mapping[str, datetime]) -> int:
        tables = self._tx.tables
        planned = {r.delivery.mpid for r in tables.deliveries.values() if r.delivery.draft_id == draft_id}
        added = 0
        for mpid in sorted(due):
            if mpid in planned:
                continue
            delivery_id = self._tx.next_id()
            tables.deliveries[delivery_id] = DeliveryRow(
                team_id, Delivery(draft_id, mpid, id=delivery_id), next_attempt_at=due[mpid]
            )
            added += 1
        return added

    def delay(self, team_id: str, draft_id: int, by_zone: Mapping[str, datetime], other: datetime) -> int:
        tables, changed = self._tx.tables, 0
        for row in _rows(tables, team_id, draft_id):
            if row.delivery.status is not PENDING:
                continue
            partner = tables.partners.get((team_id, row.delivery.mpid))
            zone = partner.partner.timezone if partner is not None else ""
            _set(tables, row, next_attempt_at=by_zone.get(zone, other) if zone else other)
            changed += 1
        return changed

    def get(self, team_id: str, draft_id: int, mpid: str) -> Delivery | None:
        return next(
            (r.delivery for r in _rows(self._tx.tables, team_id, draft_id) if r.delivery.mpid == mpid), None
        )

    def for_draft(self, team_id: str, draft_id: int, *, unsent_only: bool = False) -> list[Delivery]:
        rows = _rows(self._tx.tables, team_id, draft_id)
        return [r.delivery for r in rows if not unsent_only or r.delivery.status is not DeliveryStatus.SENT]

    def save(self, team_id: str, delivery: Delivery) -> None:
        self.save_many(team_id, [delivery])

    def save_many(self, team_id: str, deliveries: Sequence[Delivery]) -> None:
        tables = self._tx.tables
        for delivery in deliveries:
            for row in _rows(tables, team_id, delivery.draft_id):
                if row.delivery.mpid == delivery.mpid:
                    _set(
                        tables,
                        row,
                        status=delivery.status,
                        attempts=delivery.attempts,
                        last_error=delivery.last_error,
                        provider_message_id=delivery.provider_message_id,
                        sent_at=delivery.sent_at,
                    )


class FakeDeliveryQueue:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def claim(self, worker_id: str, now: datetime, limit: int, draft_id: int | None = None) -> list[Claimed]:
        tables = self._tx.tables
        due = [
            row
            for _, row in sorted(tables.deliveries.items())
            if row.delivery.status is PENDING
            and (row.next_attempt_at is None or row.next_attempt_at <= now)
            and (draft_id is None or row.delivery.draft_id == draft_id)
        ][:limit]
        claimed = []
        for row in due:
            attempts = row.delivery.attempts + 1
            new = _set(tables, row, status=CLAIMED, attempts=attempts, claimed_by=worker_id, claimed_at=now)
            claimed.append(Claimed(new.team_id, new.delivery))
        return claimed

    def retry_later(self, team_id: str, delivery_id: int, error: str, at: datetime) -> None:
        tables = self._tx.tables
        row = tables.deliveries.get(delivery_id)
        if row is None or row.team_id != team_id or row.delivery.status not in (CLAIMED, IN_FLIGHT):
            return
        _set(
            tables, row, status=PENDING, last_error=error, next_attempt_at=at, claimed_by="", claimed_at=None
        )

    def abandon_stale(self, claimed_before: datetime, reason: str) -> list[tuple[str, int]]:
        tables = self._tx.tables
        stale = [
            row
            for row in tables.deliveries.values()
            if row.delivery.status in (CLAIMED, IN_FLIGHT)
            and row.claimed_at is not None
            and row.claimed_at < claimed_before
        ]
        for row in stale:
            if row.delivery.status is IN_FLIGHT:  # it may have left: failed, never retried by itself
                _set(tables, row, status=DeliveryStatus.FAILED, last_error=reason)
            else:  # never attempted: back to the queue
                _set(tables, row, status=PENDING, claimed_by="", claimed_at=None)
        return sorted({(row.team_id, row.delivery.draft_id) for row in stale})

    def sending_many(
        self, team_id: str, delivery_ids: Collection[int], worker_id: str, now: datetime
    ) -> set[int]:
        tables, ours = self._tx.tables, set()
        for delivery_id in set(delivery_ids):
            row = tables.deliveries.get(delivery_id)
            if (
                row is not None
                and row.team_id == team_id
                and row.delivery.status is CLAIMED
                and row.claimed_by == worker_id
            ):
                _set(tables, row, status=IN_FLIGHT, claimed_at=now)
                ours.add(delivery_id)
        return ours

    def counts(self, team_id: str, draft_id: int) -> dict[DeliveryStatus, int]:
        counts = dict.fromkeys(DeliveryStatus, 0)
        for row in _rows(self._tx.tables, team_id, draft_id):
            counts[row.delivery.status] += 1
        return counts

    def has_open(self, team_id: str, draft_id: int) -> bool:
        return any(r.delivery.status in OPEN for r in _rows(self._tx.tables, team_id, draft_id))

    def requeue_failed(self, team_id: str, draft_id: int) -> int:
        tables, count = self._tx.tables, 0
        for row in _rows(tables, team_id, draft_id):
            if row.delivery.status is DeliveryStatus.FAILED:
                _set(
                    tables,
                    row,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=None,
                    claimed_by="",
                    claimed_at=None,
                )
                count += 1
        return count

    def cancel_pending(self, team_id: str, draft_id: int, reason: str) -> int:
        tables, count = self._tx.tables, 0
        for row in _rows(tables, team_id, draft_id):
            if row.delivery.status in (PENDING, CLAIMED):
                _set(
                    tables,
                    row,
                    status=DeliveryStatus.SKIPPED,
                    last_error=reason,
                    claimed_by="",
                    claimed_at=None,
                )
                count += 1
        return count

    def scheduled_due(self, now: datetime, limit: int = 20) -> list[tuple[str, int]]:
        due = [
            (row.start_at, draft_id, row.draft.team_id)
            for draft_id, row in self._tx.tables.drafts.items()
            if row.draft.status is DraftStatus.SCHEDULED and row.start_at is not None and row.start_at <= now
        ]
        return [(team, draft_id) for _, draft_id, team in sorted(due)[:limit]]

    def last_sender(self, team_id: str, mpid: str) -> str | None:
        tables = self._tx.tables
        sent = [
            r.delivery
            for r in tables.deliveries.values()
            if r.team_id == team_id
            and r.delivery.mpid == mpid
            and r.delivery.status is DeliveryStatus.SENT
            and r.delivery.draft_id in tables.drafts
        ]
        if not sent:
            return None
        last = max(sent, key=lambda d: (d.sent_at is not None, d.sent_at, d.id))
        return tables.drafts[last.draft_id].draft.author_id

    def finished_sending(self) -> list[tuple[str, int]]:
        tables = self._tx.tables
        sending = {
            (row.draft.team_id, draft_id)
            for draft_id, row in tables.drafts.items()
            if row.draft.status is DraftStatus.SENDING
        }
        return sorted(key for key in sending if not self.has_open(*key))

    def sending_drafts(self) -> list[tuple[str, int]]:
        rows = self._tx.tables.deliveries.values()
        return sorted({(r.team_id, r.delivery.draft_id) for r in rows if r.delivery.status in OPEN})
