"""Slack events already received (table ``slack_events``), so a redelivered event is served once.

The rule: ``first_time`` inserts the ``event_id``; an insert that conflicts with a row already there means
"seen". The insert is ``ON CONFLICT DO NOTHING``, so on PostgreSQL a second process inserting the same id waits
for the first one's transaction and then gets False (or True, if the first one rolled back); SQLite serialises
writers. Rows are only needed while Slack may still retry (minutes), so old ones are purged now and then.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.orm import Session

from storage.models import SlackEventRow
from storage.upsert import insert_for

_EVENTS = cast(Table, SlackEventRow.__table__)


class SqlSeenEvents:
    def __init__(self, session: Session) -> None:
        self._session = session

    def first_time(self, event_id: str, team_id: str, at: datetime) -> bool:
        stmt = (
            insert_for(self._session, _EVENTS)
            .values(event_id=event_id, team_id=team_id, seen_at=at)
            .on_conflict_do_nothing(index_elements=[_EVENTS.c.event_id])
            .returning(_EVENTS.c.event_id)
        )
        return self._session.execute(stmt).first() is not None

    def purge(self, before: datetime) -> int:
        result = self._session.execute(delete(_EVENTS).where(_EVENTS.c.seen_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
