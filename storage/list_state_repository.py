"""What each render of a list showed (search, filters, page), kept under the key its block ids carry."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from storage.models import ListStateRow

# The table, not the mapped class: a click reads and writes one row, and the ORM's statement handling costs
# more than the statement (bench/list_load.py).
_L = cast(Table, ListStateRow.__table__)


class SqlListStates:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, key: str, team_id: str, user_id: str, state: str, at: datetime) -> None:
        self._session.execute(
            insert(_L).values(key=key, team_id=team_id, user_id=user_id, state=state, created_at=at)
        )

    def get(self, key: str, team_id: str, user_id: str) -> str | None:
        stmt = select(_L.c.state).where(_L.c.key == key, _L.c.team_id == team_id, _L.c.user_id == user_id)
        found = self._session.execute(stmt).scalar()
        return None if found is None else str(found)

    def purge(self, before: datetime) -> int:
        result = self._session.execute(delete(_L).where(_L.c.created_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
