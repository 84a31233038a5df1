"""The prospects each user has ticked, per workspace."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from outreach.models import Prospect, ProspectQuery
from outreach.ports import Clock
from storage.models import PartnerRow, PickRow, UtcDateTime
from storage.partner_repository import matching, to_prospect
from storage.upsert import chunks

# A tick, an untick and the count run on the table, not the mapped class: one of them a click, and the ORM's
# statement handling (its bulk INSERT and DELETE path) costs more than the statement (bench/list_load.py).
_P = cast(Table, PickRow.__table__)
_COLUMNS = ["team_id", "user_id", "mpid", "picked_at"]


class SqlPickRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def add_matching(self, team_id: str, user_id: str, query: ProspectQuery, at: datetime) -> int:
        """One INSERT … SELECT: the database picks every prospect the query matches (those picked stay)."""
        query = replace(query, prospects_only=True)  # only prospects are ever picked
        partners = PartnerRow.__table__
        found = matching(self._session, team_id, query)
        chosen = select(
            partners.c.team_id, literal(user_id).label("user_id"), partners.c.mpid, literal(at, UtcDateTime())
        ).where(*found.where())
        before = self.count(team_id, user_id)
        insert = pg_insert if self._session.get_bind().dialect.name == "postgresql" else sqlite_insert
        self._session.execute(insert(_P).from_select(_COLUMNS, chosen).on_conflict_do_nothing(), found.params)
        return self.count(team_id, user_id) - before

    def add(self, team_id: str, user_id: str, mpids: Collection[str]) -> None:
        """Those of ``mpids`` that are prospects of the workspace (an INSERT … SELECT a chunk: a tick is one
        statement, not a lookup and an insert)."""
        partners = PartnerRow.__table__
        now = literal(self._clock.now(), UtcDateTime())
        insert = pg_insert if self._session.get_bind().dialect.name == "postgresql" else sqlite_insert
        for chunk in chunks(sorted(set(mpids))):
            chosen = select(
                partners.c.team_id, literal(user_id).label("user_id"), partners.c.mpid, now
            ).where(
                partners.c.team_id == team_id, partners.c.mpid.in_(chunk), partners.c.marked_at.is_not(None)
            )
            self._session.execute(insert(_P).from_select(_COLUMNS, chosen).on_conflict_do_nothing())

    def remove(self, team_id: str, user_id: str, mpids: Collection[str]) -> None:
        for chunk in chunks(sorted(set(mpids))):
            self._session.execute(
                delete(_P).where(_P.c.team_id == team_id, _P.c.user_id == user_id, _P.c.mpid.in_(chunk))
            )

    def clear(self, team_id: str, user_id: str) -> None:
        self._session.execute(delete(_P).where(_P.c.team_id == team_id, _P.c.user_id == user_id))

    def count(self, team_id: str, user_id: str) -> int:
        stmt = select(func.count()).select_from(_P).where(_P.c.team_id == team_id, _P.c.user_id == user_id)
        return int(self._session.execute(stmt).scalar() or 0)

    def all(self, team_id: str, user_id: str) -> list[str]:
        stmt = (
            select(PickRow.mpid)
            .where(PickRow.team_id == team_id, PickRow.user_id == user_id)
            .order_by(PickRow.picked_at, PickRow.mpid)
        )
        return list(self._session.scalars(stmt))

    def prospects(self, team_id: str, user_id: str) -> list[Prospect]:
        stmt = (
            select(PartnerRow.__table__)
            .join(PickRow, (PickRow.team_id == PartnerRow.team_id) & (PickRow.mpid == PartnerRow.mpid))
            .where(PickRow.team_id == team_id, PickRow.user_id == user_id, PartnerRow.marked_at.is_not(None))
            .order_by(PickRow.picked_at, PickRow.mpid)
        )
        return [to_prospect(row) for row in self._session.execute(stmt)]

    def count_prospects(self, team_id: str, user_id: str) -> int:
        stmt = (
            select(func.count())
            .select_from(PickRow)
            .join(PartnerRow, (PartnerRow.team_id == PickRow.team_id) & (PartnerRow.mpid == PickRow.mpid))
            .where(PickRow.team_id == team_id, PickRow.user_id == user_id, PartnerRow.marked_at.is_not(None))
        )
        return int(self._session.scalar(stmt) or 0)
