"""Unsubscribing through a link's token, on SQLite and PostgreSQL: suppressed and audited once."""

from __future__ import annotations

from datetime import UTC, datetime

from outreach.clock import FixedClock
from outreach.unsubscribe import UnsubscribeLinks, Unsubscriber

LINKS = UnsubscribeLinks(b"k" * 32, "https://outreach.example.com")
AT = datetime(2030, 5, 6, 7, 8, tzinfo=UTC)


def test_a_genuine_token_suppresses_its_address_once_whoever_clicks_first(uow_factory):
    unsubscriber = Unsubscriber(LINKS, uow_factory, FixedClock(AT))
    token = LINKS.token("T1", "Ann@Example.com")
    assert unsubscriber.address(token) == "ann@example.com"
    assert unsubscriber.unsubscribe(token, one_click=False) == "ann@example.com"
    assert unsubscriber.unsubscribe(token, one_click=True) == "ann@example.com"  # the mail client, later
    with uow_factory() as uow:
        assert uow.suppressions.among("T1", ["ann@example.com"]) == {"ann@example.com": "unsubscribed"}
        assert uow.suppressions.among("T2", ["ann@example.com"]) == {}
        events = uow.audit.recent("T1")
    assert [(e.action, e.detail, e.at) for e in events] == [("email.unsubscribed", "ann@example.com", AT)]


def test_a_forged_token_changes_nothing(uow_factory):
    unsubscriber = Unsubscriber(LINKS, uow_factory, FixedClock(AT))
    forged = UnsubscribeLinks(b"x" * 32, "https://elsewhere").token("T1", "ann@example.com")
    assert unsubscriber.address(forged) is None
    assert unsubscriber.unsubscribe(forged, one_click=True) is None
    with uow_factory() as uow:
        assert uow.suppressions.emails("T1") == frozenset() and uow.audit.recent("T1") == []
