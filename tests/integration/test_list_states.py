"""A list's state per render (table list_states), on SQLite and PostgreSQL, through ProspectService."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from outreach.models import PartnerKind, ProspectQuery
from outreach.prospecting import PageRequest, ProspectService


class FixedClock:
    def __init__(self) -> None:
        self.at = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def test_a_state_is_read_back_only_by_its_user_in_its_workspace(uow_factory):
    service = ProspectService(uow_factory, FixedClock())
    query = ProspectQuery("h&m", PartnerKind.CREATOR, True, "FR", not_contacted=True)
    req = PageRequest(at="cursor-3", number=3)
    key = service.remember("T0001", "U0001", query, req)
    assert len(key) == 12 and "~" not in key
    assert service.recall("T0001", "U0001", key) == (query, req)
    assert service.recall("T0001", "U0002", key) is None
    assert service.recall("T0002", "U0001", key) is None
    assert service.recall("T0001", "U0001", "") is None
    assert service.remember("T0001", "U0001", query, req) != key  # a new key for every render


def test_old_states_are_purged(uow_factory):
    clock = FixedClock()
    service = ProspectService(uow_factory, clock)
    old = service.remember("T0001", "U0001", ProspectQuery(), PageRequest())
    clock.at += timedelta(days=2)
    with uow_factory() as uow:
        assert uow.list_states.purge(clock.at - timedelta(days=1)) == 1
        uow.commit()
    assert service.recall("T0001", "U0001", old) is None
