"""How outreach went, counted by SQLite and PostgreSQL: sent, failed, bounced, replied (each reply for the last
delivery before it), unsubscribed, the reply rate per template and per week, one author's or the workspace's,
never another workspace's; and a send's results, row by row, as the CSV file a user downloads."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime, timedelta

import pytest

from outreach.clock import FixedClock
from outreach.errors import NotFound, ValidationFailed
from outreach.models import (
    AuditEvent,
    Channel,
    DeliveryStatus,
    Direction,
    Draft,
    Partner,
    Template,
    ThreadMessage,
)
from outreach.stats import StatsService, parse_days, results_csv, week_starts
from storage.db import make_session_factory
from storage.unit_of_work import SqlUnitOfWork

NOW = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)  # a Tuesday
T1, T2 = "T1", "T2"
SENT, FAILED = DeliveryStatus.SENT, DeliveryStatus.FAILED


@pytest.fixture
def world(db_engine):
    clock = FixedClock(NOW)
    factory = make_session_factory(db_engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(factory, clock)

    return uow, clock


def _partners(uow, team, *mpids):
    uow.partners.upsert_many(
        team,
        [Partner(team, m, f"Shop {m}", "Ann", m.upper(), f"{m}@shop.example") for m in mpids],
    )


def _send(uow, clock, team, author, recipients, results, *, skipped=None):
    """A draft to ``recipients``, planned, each delivery then given its result: {mpid: (status, days ago sent
    or None, error)}."""
    draft = uow.drafts.add(Draft(team, author, Channel.EMAIL, subject="Hi"), recipients)
    uow.deliveries.plan(team, draft.id, skipped or {})
    for mpid, (status, days_ago, error) in results.items():
        delivery = uow.deliveries.get(team, draft.id, mpid)
        sent_at = None if days_ago is None else NOW - timedelta(days=days_ago)
        uow.deliveries.save(
            team, dataclasses.replace(delivery, status=status, sent_at=sent_at, last_error=error)
        )
    return draft.id


def _reply(uow, team, mpid, days_ago):
    thread = uow.threads.open(team, mpid, Channel.EMAIL)
    uow.threads.add_message(
        team, thread.id, ThreadMessage(Direction.IN, "Thanks!", at=NOW - timedelta(days=days_ago))
    )


@pytest.fixture
def sends(world):
    uow_factory, clock = world
    with uow_factory() as uow:
        _partners(uow, T1, "m1", "m2", "m3", "m4", "m5")
        _partners(uow, T2, "m1")
        template = uow.templates.add(
            Template(T1, "U2", "Intro FR", Channel.EMAIL, "Hi", "Hello", created_at=NOW, updated_at=NOW)
        )
        clock.set(NOW - timedelta(days=5))  # when m3's failure was recorded
        a = _send(
            uow,
            clock,
            T1,
            "U1",
            ["m1", "m2", "m3", "m4"],
            {
                "m1": (SENT, 10, ""),
                "m2": (FAILED, 10, "bounced: 550 5.1.1 no such user"),
                "m3": (FAILED, None, "=cmd|' /C calc'!A0"),
            },
            skipped={"compose.skip.no_email": ["m4"]},
        )
        clock.set(NOW)
        # Used under its old name, renamed since: the current name is shown.
        uow.audit.record(AuditEvent(T1, "U1", "template.used", NOW, draft_id=a, detail=f"{template.id}: Old"))
        b = _send(uow, clock, T1, "U1", ["m1", "m5"], {"m1": (SENT, 3, ""), "m5": (SENT, 3, "")})
        old = _send(uow, clock, T1, "U2", ["m5"], {"m5": (SENT, 40, "")})  # before the window
        gone = _send(uow, clock, T1, "U2", ["m3"], {"m3": (SENT, 1, "")})
        # A template deleted since: the name it had then.
        uow.audit.record(AuditEvent(T1, "U2", "template.used", NOW, draft_id=gone, detail="999: Deleted one"))
        _reply(uow, T1, "m1", 9)  # answers a's e-mail to m1 (b's came later)
        _reply(uow, T1, "m1", 2)  # answers b's
        _reply(uow, T1, "m1", 1)  # again: b's is counted once
        clock.set(NOW - timedelta(days=1))
        uow.suppressions.add(T1, "m5@shop.example", "unsubscribed", "page")  # e-mailed by U1 (b) and U2 (old)
        clock.set(NOW - timedelta(days=50))
        uow.suppressions.add(T1, "m2@shop.example", "unsubscribed", "page")  # long ago
        clock.set(NOW)
        # Another workspace's busy month shows nowhere in T1's numbers.
        _send(uow, clock, T2, "U1", ["m1"], {"m1": (SENT, 2, "")})
        _reply(uow, T2, "m1", 1)
        uow.suppressions.add(T2, "m1@shop.example", "unsubscribed", "page")
        uow.commit()
    return StatsService(uow_factory, clock), {"a": a, "b": b, "old": old, "gone": gone}


def test_an_authors_numbers_count_their_own_sends_of_the_window(sends):
    stats, _ = sends
    report = stats.report(T1, "U1", 30)
    o = report.outcomes
    assert (o.sent, o.failed, o.bounced, o.replied, o.unsubscribed) == (4, 1, 1, 2, 1)
    assert o.reply_rate == 0.5
    assert [(r.label, r.sent, r.replied) for r in report.by_template] == [("Intro FR", 2, 1), ("", 2, 1)]
    assert report.since == NOW - timedelta(days=30) and report.until == NOW and not report.whole_workspace


def test_the_workspaces_numbers_count_everyone_and_no_other_workspace(sends):
    stats, _ = sends
    o = stats.report(T1, None, 30).outcomes
    assert (o.sent, o.failed, o.bounced, o.replied, o.unsubscribed) == (5, 1, 1, 2, 1)
    other = stats.report(T2, None, 30).outcomes
    assert (other.sent, other.replied, other.unsubscribed) == (1, 1, 1)
    assert stats.report(T1, "U9", 30).outcomes.sent == 0


def test_a_template_deleted_since_keeps_the_name_it_had(sends):
    stats, _ = sends
    names = {r.label: (r.sent, r.replied) for r in stats.report(T1, None, 30).by_template}
    assert names == {"Intro FR": (2, 1), "": (2, 1), "Deleted one": (1, 0)}


def test_reply_rates_come_per_calendar_week(sends):
    stats, _ = sends
    weeks = stats.report(T1, None, 30).by_week
    assert [w.label for w in weeks] == [
        "2037-12-14",
        "2037-12-21",
        "2037-12-28",
        "2038-01-04",
        "2038-01-11",
        "2038-01-18",
    ]
    assert [(w.sent, w.replied) for w in weeks] == [(0, 0), (0, 0), (0, 0), (2, 1), (2, 1), (1, 0)]


def test_a_longer_window_takes_in_older_sends_and_a_shorter_one_drops_them(sends):
    stats, _ = sends
    assert stats.report(T1, None, 60).outcomes.sent == 6
    assert stats.report(T1, None, 60).outcomes.unsubscribed == 2
    short = stats.report(T1, None, 2).outcomes
    assert (short.sent, short.replied, short.failed) == (1, 0, 0)


def test_a_sends_results_give_every_recipient_in_the_drafts_order(sends):
    stats, drafts = sends
    rows = list(stats.results(T1, "U1", drafts["a"], is_admin=False))
    assert [(r.mpid, r.result) for r in rows] == [
        ("m1", "sent"),
        ("m2", "bounced"),
        ("m3", "failed"),
        ("m4", "skipped"),
    ]
    m1, m2, m3, m4 = rows
    assert m1.address == "m1@shop.example" and m1.name == "Shop m1 (Ann M1)"
    assert m1.sent_at == NOW - timedelta(days=10) and m1.replied_at == NOW - timedelta(days=9)
    assert m2.detail == "550 5.1.1 no such user" and m2.replied_at is None
    assert m3.sent_at is None and m4.detail == "compose.skip.no_email"


def test_results_are_for_the_sends_author_or_an_admin_of_its_workspace(sends):
    stats, drafts = sends
    with pytest.raises(NotFound):
        list(stats.results(T1, "U2", drafts["a"], is_admin=False))
    assert len(list(stats.results(T1, "U2", drafts["a"], is_admin=True))) == 4
    with pytest.raises(NotFound):
        list(stats.results(T2, "U1", drafts["a"], is_admin=True))


def test_the_results_file_reads_back_in_a_spreadsheet_without_running_formulas(sends):
    stats, drafts = sends
    data = results_csv(stats.results(T1, "U1", drafts["a"], is_admin=False), describe=str.upper)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["recipient", "mpid", "address", "result", "detail", "sent at", "replied at"]
    assert rows[1] == [
        "Shop m1 (Ann M1)",
        "m1",
        "m1@shop.example",
        "sent",
        "",
        "2038-01-09T03:14:08Z",
        "2038-01-10T03:14:08Z",
    ]
    assert rows[3][3:5] == ["failed", "'=CMD|' /C CALC'!A0"]  # a formula is text
    assert rows[4][3:5] == ["skipped", "COMPOSE.SKIP.NO_EMAIL"]


def test_a_window_is_a_whole_number_of_days_from_1_to_365():
    assert parse_days("7") == 7 and parse_days(" 365 ") == 365
    for bad in ("0", "366", "-3", "7.5", "seven", "", "٣"):
        with pytest.raises(ValidationFailed):
            parse_days(bad)


def test_weeks_start_on_the_monday_on_or_before_the_windows_start():
    starts = week_starts(datetime(2038, 1, 3, 12, tzinfo=UTC), NOW)  # a Sunday
    assert starts[0] == datetime(2037, 12, 28, tzinfo=UTC) and starts[-1] == datetime(2038, 1, 18, tzinfo=UTC)
