"""Sending accounts' next free send times (table ``send_budgets``): SEND_RATE_PER_SECOND across processes.

The rule: ``reserve`` is one statement, an insert-or-update that returns the account's new next free time —
``INSERT … ON CONFLICT (account) DO UPDATE SET next_free_us = max(next_free_us, now) + span RETURNING`` —
so it is atomic on both databases: PostgreSQL locks the account's row and computes the update from its latest
committed value (a concurrent reservation waits for this one's transaction, then goes after it); SQLite runs
one writer at a time. The slots handed out are [new − span, new), ``interval`` apart.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, case
from sqlalchemy.orm import Session

from storage.models import SendBudgetRow
from storage.upsert import insert_for

_BUDGETS = cast(Table, SendBudgetRow.__table__)


class SqlSendBudgets:
    def __init__(self, session: Session) -> None:
        self._session = session

    def reserve(self, account: str, slots: int, interval_us: int, now_us: int) -> int:
        span = slots * interval_us
        column = _BUDGETS.c.next_free_us
        stmt = insert_for(self._session, _BUDGETS).values(account=account, next_free_us=now_us + span)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_BUDGETS.c.account],
            set_={"next_free_us": case((column > now_us, column), else_=now_us) + span},
        ).returning(column)
        return int(self._session.execute(stmt).scalar_one()) - span
