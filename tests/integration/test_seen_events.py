"""Slack events seen once, by event_id, on SQLite and PostgreSQL: the SeenEvents store and the filter on it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from outreach.clock import FixedClock
from outreach.redelivery import RedeliveryFilter

T1 = "T0001"
NOW = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)


def first_time(uow_factory, event_id: str, at: datetime = NOW, team: str = T1) -> bool:
    with uow_factory() as uow:
        first = uow.seen_events.first_time(event_id, team, at)
        uow.commit()
    return first


def test_an_event_id_is_new_once_and_seen_after_that(uow_factory):
    assert first_time(uow_factory, "Ev01ABCDEF")
    assert not first_time(uow_factory, "Ev01ABCDEF")
    assert not first_time(uow_factory, "Ev01ABCDEF", at=NOW + timedelta(minutes=5))
    assert first_time(uow_factory, "Ev02ABCDEF")


def test_an_event_recorded_in_a_transaction_rolled_back_was_not_seen(uow_factory):
    with uow_factory() as uow:
        assert uow.seen_events.first_time("Ev01ABCDEF", T1, NOW)  # no commit
    assert first_time(uow_factory, "Ev01ABCDEF")


def test_purge_forgets_only_events_seen_before_the_cutoff(uow_factory):
    first_time(uow_factory, "Ev01OLD", at=NOW - timedelta(days=2))
    first_time(uow_factory, "Ev02RECENT", at=NOW - timedelta(hours=1))
    with uow_factory() as uow:
        assert uow.seen_events.purge(NOW - timedelta(days=1)) == 1
        uow.commit()
    assert first_time(uow_factory, "Ev01OLD")
    assert not first_time(uow_factory, "Ev02RECENT")


def test_two_processes_recording_one_event_at_once_get_one_first(uow_factory):
    """The second insert waits for the first transaction, then conflicts: "seen"."""
    first_in, release_first, results = threading.Event(), threading.Event(), {}

    def first():
        with uow_factory() as uow:
            results["first"] = uow.seen_events.first_time("Ev01ABCDEF", T1, NOW)
            first_in.set()
            release_first.wait(10)
            uow.commit()

    def second():
        first_in.wait(10)
        with uow_factory() as uow:
            results["second"] = uow.seen_events.first_time("Ev01ABCDEF", T1, NOW)
            uow.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    threading.Timer(0.5, release_first.set).start()  # the second is blocked on the first meanwhile
    for t in threads:
        t.join(30)
    assert results == {"first": True, "second": False}


def test_many_deliveries_of_one_event_at_once_are_served_once(uow_factory):
    redelivery = RedeliveryFilter(uow_factory, FixedClock(NOW))
    barrier, firsts = threading.Barrier(6), []

    def deliver():
        barrier.wait()
        firsts.append(redelivery.first_delivery("Ev01ABCDEF", T1))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(firsts) == [False] * 5 + [True]


def test_the_filter_purges_old_events_now_and_then_not_on_every_delivery(uow_factory):
    clock = FixedClock(NOW)
    redelivery = RedeliveryFilter(
        uow_factory, clock, keep=timedelta(minutes=10), purge_every=timedelta(hours=1)
    )
    assert redelivery.first_delivery("Ev01A", T1)  # the first delivery purges; the next purge is in an hour

    clock.set(NOW + timedelta(minutes=30))
    assert redelivery.first_delivery("Ev02B", T1)
    assert not redelivery.first_delivery("Ev01A", T1)  # older than `keep`, but no purge was due: still seen

    clock.set(NOW + timedelta(hours=1, seconds=1))
    assert redelivery.first_delivery("Ev03C", T1)  # the purge is due: Ev01A and Ev02B are forgotten
    assert redelivery.first_delivery("Ev01A", T1)
    assert redelivery.first_delivery("Ev02B", T1)
    assert not redelivery.first_delivery("Ev03C", T1)
