"""Repositories: rows in, domain objects of ``outreach.models`` out. They never commit (the unit of work
does).

Every method takes the workspace (``team_id``) and filters by it: no query crosses workspaces.
Partners and prospects live in ``storage.partner_repository``; drafts and attachments in
``storage.draft_repository``; threads in ``storage.thread_repository``; the digest's queries in
``storage.digest_repository``; this module holds ads, deliveries and the audit log, and re-exports all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, literal, select, update
from sqlalchemy.orm import Session

from outreach.models import (
    Ad,
    AdType,
    AuditEvent,
    Delivery,
    DeliveryStatus,
    UpsertCounts,
)
from outreach.ports import Clock
from storage.digest_repository import SqlDigestRepository
from storage.draft_repository import SqlAttachmentRepository, SqlDraftRepository
from storage.models import AdRow, AuditEventRow, DeliveryRow, DraftRecipientRow, PartnerRow
from storage.partner_repository import SqlPartnerRepository, SqlProspectRepository
from storage.thread_repository import SqlThreadRepository
from storage.upsert import chunks, insert_for

__all__ = [
    "SqlAdRepository",
    "SqlAttachmentRepository",
    "SqlAuditLog",
    "SqlDeliveryRepository",
    "SqlDigestRepository",
    "SqlDraftRepository",
    "SqlPartnerRepository",
    "SqlProspectRepository",
    "SqlThreadRepository",
]

_ADS = cast(Table, AdRow.__table__)
_AD_FIELDS = ("name", "ad_type", "landing_url", "creative", "width", "height")


def _to_ad(row: Any) -> Ad:
    return Ad(
        team_id=row.team_id,
        adid=row.adid,
        name=row.name,
        ad_type=AdType(row.ad_type),
        landing_url=row.landing_url,
        creative=row.creative,
        width=row.width,
        height=row.height,
    )


class SqlAdRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def upsert_many(self, team_id: str, ads: Sequence[Ad]) -> UpsertCounts:
        total = UpsertCounts()
        for chunk in chunks(ads):
            existing = self.get_many(team_id, [ad.adid for ad in chunk])
            now = self._clock.now()
            writes = []
            inserted = updated = 0
            for ad in chunk:
                old = existing.get(ad.adid)
                if old is not None and _same_ad(old, ad):
                    continue
                inserted, updated = (inserted + 1, updated) if old is None else (inserted, updated + 1)
                values = {name: getattr(ad, name) for name in _AD_FIELDS}
                values.update(team_id=team_id, adid=ad.adid, ad_type=ad.ad_type.value, created_at=now)
                values["updated_at"] = now
                writes.append(values)
            if writes:
                stmt = insert_for(self._session, _ADS)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[_ADS.c.team_id, _ADS.c.adid],
                    set_={name: stmt.excluded[name] for name in (*_AD_FIELDS, "updated_at")},
                )
                self._session.execute(stmt, writes)
            total += UpsertCounts(inserted, updated, len(chunk) - inserted - updated)
        return total

    def get(self, team_id: str, adid: str) -> Ad | None:
        row = self._session.execute(
            select(_ADS).where(_ADS.c.team_id == team_id, _ADS.c.adid == adid)
        ).first()
        return None if row is None else _to_ad(row)

    def get_many(self, team_id: str, adids: Collection[str]) -> dict[str, Ad]:
        found: dict[str, Ad] = {}
        for chunk in chunks(sorted(set(adids))):
            stmt = select(_ADS).where(_ADS.c.team_id == team_id, _ADS.c.adid.in_(chunk))
            found.update((row.adid, _to_ad(row)) for row in self._session.execute(stmt))
        return found

    def all(self, team_id: str) -> list[Ad]:
        stmt = select(_ADS).where(_ADS.c.team_id == team_id).order_by(_ADS.c.name, _ADS.c.adid)
        return [_to_ad(row) for row in self._session.execute(stmt)]


def _same_ad(old: Ad, new: Ad) -> bool:
    return all(getattr(old, name) == getattr(new, name) for name in _AD_FIELDS)


_DELIVERIES = cast(Table, DeliveryRow.__table__)
_DRAFT_RECIPIENTS = cast(Table, DraftRecipientRow.__table__)
_PARTNERS = cast(Table, PartnerRow.__table__)
# Built once: a worker saves one delivery per message sent, so building and keying a fresh statement each
# time would cost more than running it. (Bound parameters of a WHERE clause are prefixed `w_`.)
_SAVE_DELIVERY = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.team_id == bindparam("w_team_id"),
        _DELIVERIES.c.draft_id == bindparam("w_draft_id"),
        _DELIVERIES.c.mpid == bindparam("w_mpid"),
    )
    .values(
        {
            name: bindparam(name)
            for name in ("status", "attempts", "last_error", "provider_message_id", "sent_at", "updated_at")
        }
    )
)


def to_delivery(row: Any) -> Delivery:
    return Delivery(
        draft_id=row.draft_id,
        mpid=row.mpid,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        provider_message_id=row.provider_message_id,
        sent_at=row.sent_at,
        id=row.id,
    )


class SqlDeliveryRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def plan(self, team_id: str, draft_id: int, skipped: Mapping[str, Collection[str]]) -> int:
        r, p = _DRAFT_RECIPIENTS.c, _PARTNERS.c
        now = bindparam("now", self._clock.now(), type_=_DELIVERIES.c.created_at.type)
        pending = literal(DeliveryStatus.PENDING.value)
        rows = (
            select(r.team_id, r.draft_id, r.mpid, pending, literal(0), literal(""), literal(""), literal(""))
            .add_columns(now, now)
            .select_from(_DRAFT_RECIPIENTS.join(_PARTNERS, (p.team_id == r.team_id) & (p.mpid == r.mpid)))
            .where(r.draft_id == draft_id, r.team_id == team_id)
            .order_by(r.position)  # ids in the draft's order: it is sent in that order
        )
        columns = ["team_id", "draft_id", "mpid", "status", "attempts", "last_error"]
        columns += ["provider_message_id", "claimed_by", "created_at", "updated_at"]
        self._session.execute(insert(_DELIVERIES).from_select(columns, rows))
        for reason, mpids in skipped.items():
            for chunk in chunks(sorted(set(mpids))):
                self._session.execute(
                    update(_DELIVERIES)
                    .where(
                        _DELIVERIES.c.draft_id == draft_id,
                        _DELIVERIES.c.team_id == team_id,
                        _DELIVERIES.c.mpid.in_(chunk),
                    )
                    .values(status=DeliveryStatus.SKIPPED.value, last_error=reason)
                )
        # Counted, not summed from row counts (psycopg gives none for INSERT … SELECT through SQLAlchemy).
        stmt = select(func.count()).where(
            _DELIVERIES.c.team_id == team_id,
            _DELIVERIES.c.draft_id == draft_id,
            _DELIVERIES.c.status == DeliveryStatus.PENDING.value,
        )
        return int(self._session.execute(stmt).scalar_one())

    def sent_to(self, team_id: str, draft_id: int, mpids: Collection[str]) -> dict[str, Delivery]:
        found: dict[str, Delivery] = {}
        for chunk in chunks(sorted(set(mpids))):
            stmt = select(_DELIVERIES).where(
                _DELIVERIES.c.team_id == team_id,
                _DELIVERIES.c.draft_id == draft_id,
                _DELIVERIES.c.mpid.in_(chunk),
                _DELIVERIES.c.status == DeliveryStatus.SENT.value,
            )
            found.update((row.mpid, to_delivery(row)) for row in self._session.execute(stmt))
        return found

    def plan_followups(self, team_id: str, draft_id: int, due: Mapping[str, datetime]) -> int:
        added = 0
        now = self._clock.now()
        for chunk in chunks(sorted(due)):
            planned = set(
                self._session.scalars(
                    select(_DELIVERIES.c.mpid).where(
                        _DELIVERIES.c.draft_id == draft_id, _DELIVERIES.c.mpid.in_(chunk)
                    )
                )
            )
            rows = [
                {
                    "team_id": team_id,
                    "draft_id": draft_id,
                    "mpid": mpid,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "last_error": "",
                    "provider_message_id": "",
                    "claimed_by": "",
                    "next_attempt_at": due[mpid],
                    "created_at": now,
                    "updated_at": now,
                }
                for mpid in chunk
                if mpid not in planned
            ]
            if rows:
                # The unique (draft, mpid) key makes a concurrent second plan of the same partner a no-op.
                stmt = insert_for(self._session, _DELIVERIES).on_conflict_do_nothing(
                    index_elements=[_DELIVERIES.c.draft_id, _DELIVERIES.c.mpid]
                )
                self._session.execute(stmt, rows)
                added += len(rows)
        return added

    def delay(self, team_id: str, draft_id: int, by_zone: Mapping[str, datetime], other: datetime) -> int:
        d, p = _DELIVERIES.c, _PARTNERS.c
        pending = (
            (d.team_id == team_id) & (d.draft_id == draft_id) & (d.status == DeliveryStatus.PENDING.value)
        )
        changed = self._session.execute(update(_DELIVERIES).where(pending).values(next_attempt_at=other))
        for zone, at in by_zone.items():
            in_zone = select(p.mpid).where(p.team_id == team_id, p.timezone == zone)
            self._session.execute(
                update(_DELIVERIES).where(pending, d.mpid.in_(in_zone)).values(next_attempt_at=at)
            )
        return int(getattr(changed, "rowcount", 0) or 0)

    def get(self, team_id: str, draft_id: int, mpid: str) -> Delivery | None:
        row = self._session.execute(
            select(_DELIVERIES).where(
                _DELIVERIES.c.team_id == team_id,
                _DELIVERIES.c.draft_id == draft_id,
                _DELIVERIES.c.mpid == mpid,
            )
        ).first()
        return None if row is None else to_delivery(row)

    def for_draft(self, team_id: str, draft_id: int, *, unsent_only: bool = False) -> list[Delivery]:
        stmt = (
            select(_DELIVERIES)
            .where(_DELIVERIES.c.team_id == team_id, _DELIVERIES.c.draft_id == draft_id)
            .order_by(_DELIVERIES.c.id)
        )
        if unsent_only:
            stmt = stmt.where(_DELIVERIES.c.status != DeliveryStatus.SENT.value)
        return [to_delivery(row) for row in self._session.execute(stmt)]

    def save(self, team_id: str, delivery: Delivery) -> None:
        self.save_many(team_id, [delivery])

    def save_many(self, team_id: str, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        now = self._clock.now()
        self._session.execute(
            _SAVE_DELIVERY,
            [
                {
                    "w_team_id": team_id,
                    "w_draft_id": delivery.draft_id,
                    "w_mpid": delivery.mpid,
                    "status": delivery.status.value,
                    "attempts": delivery.attempts,
                    "last_error": delivery.last_error,
                    "provider_message_id": delivery.provider_message_id,
                    "sent_at": delivery.sent_at,
                    "updated_at": now,
                }
                for delivery in deliveries
            ],
        )


def _to_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        team_id=row.team_id,
        actor_id=row.actor_id,
        action=row.action,
        at=row.at,
        draft_id=row.draft_id,
        mpid=row.mpid,
        detail=row.detail,
        id=row.id,
    )


_AUDIT = cast(Table, AuditEventRow.__table__)
_RECORD_EVENT = insert(_AUDIT).returning(_AUDIT.c.id)  # built once: one event per message sent


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, event: AuditEvent) -> AuditEvent:
        values = {
            "team_id": event.team_id,
            "actor_id": event.actor_id,
            "action": event.action,
            "at": event.at,
            "draft_id": event.draft_id,
            "mpid": event.mpid,
            "detail": event.detail,
        }
        new_id = self._session.execute(_RECORD_EVENT, values).scalar_one()
        return dataclasses.replace(event, id=int(new_id))

    def recent(
        self, team_id: str, *, limit: int = 100, draft_id: int | None = None, mpid: str = ""
    ) -> list[AuditEvent]:
        stmt = select(AuditEventRow).where(AuditEventRow.team_id == team_id)
        if draft_id is not None:
            stmt = stmt.where(AuditEventRow.draft_id == draft_id)
        if mpid:
            stmt = stmt.where(AuditEventRow.mpid == mpid)
        stmt = stmt.order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc()).limit(limit)
        return [_to_event(row) for row in self._session.scalars(stmt)]
