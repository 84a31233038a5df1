"""Suppressed addresses per workspace, and the app's own keys."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from outreach.ports import Clock
from storage.models import AppKeyRow, SuppressionRow
from storage.upsert import insert_for

_SUPPRESSIONS = cast(Table, SuppressionRow.__table__)
_KEYS = cast(Table, AppKeyRow.__table__)


class SqlSuppressionRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def add(self, team_id: str, email: str, reason: str, detail: str = "") -> bool:
        """Suppress ``email``; True when it was not suppressed yet (the first reason is kept)."""
        stmt = (
            insert_for(self._session, _SUPPRESSIONS)
            .values(
                team_id=team_id,
                email=email.strip().lower(),
                reason=reason,
                detail=detail,
                created_at=self._clock.now(),
            )
            .on_conflict_do_nothing()
            .returning(_SUPPRESSIONS.c.email)  # psycopg gives no rowcount for an INSERT (-1): ask for the row
        )
        return self._session.execute(stmt).first() is not None

    def among(self, team_id: str, emails: Collection[str]) -> dict[str, str]:
        """{lower-cased address: reason} for the suppressed ones among ``emails``."""
        wanted = sorted({e.strip().lower() for e in emails if e})
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            stmt = select(SuppressionRow.email, SuppressionRow.reason).where(
                SuppressionRow.team_id == team_id, SuppressionRow.email.in_(wanted[start : start + 500])
            )
            found.update((row.email, row.reason) for row in self._session.execute(stmt))
        return found

    def emails(self, team_id: str) -> frozenset[str]:
        stmt = select(SuppressionRow.email).where(SuppressionRow.team_id == team_id)
        return frozenset(self._session.scalars(stmt))


class SqlAppKeys:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def get_or_create(self, name: str) -> str:
        """The key called ``name``, made (random, 256 bits) and stored the first time it is asked for."""
        stmt = (
            insert_for(self._session, _KEYS)
            .values(name=name, value=secrets.token_urlsafe(32), created_at=self._clock.now())
            .on_conflict_do_nothing()
        )
        self._session.execute(stmt)
        return str(self._session.scalar(select(AppKeyRow.value).where(AppKeyRow.name == name)))
