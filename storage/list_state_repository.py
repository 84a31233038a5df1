"""What each render of a list showed (search, filters, page), kept under the key its block ids carry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import ListStateRow


class SqlListStates:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, key: str, team_id: str, user_id: str, state: str, at: datetime) -> None:
        self._session.add(ListStateRow(key=key, team_id=team_id, user_id=user_id, state=state, created_at=at))

    def get(self, key: str, team_id: str, user_id: str) -> str | None:
        stmt = select(ListStateRow.state).where(
            ListStateRow.key == key, ListStateRow.team_id == team_id, ListStateRow.user_id == user_id
        )
        return self._session.scalar(stmt)

    def purge(self, before: datetime) -> int:
        result = self._session.execute(delete(ListStateRow).where(ListStateRow.created_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
