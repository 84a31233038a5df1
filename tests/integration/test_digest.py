"""The digest's core on SQLite and PostgreSQL: who has unsent drafts, and one claim per user and day."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from outreach.clock import FixedClock
from outreach.digest import DigestService
from outreach.models import Channel, Draft, DraftStatus

T1, T2 = "T1", "T2"
NOW = datetime(2038, 1, 19, 9, 0, tzinfo=UTC)
DAY = date(2038, 1, 19)


def add_draft(uow_factory, team, author, *, age, subject="", content="", recipients=("m1",), status=None):
    with uow_factory() as uow:
        draft = uow.drafts.add(
            Draft(
                team,
                author,
                Channel.EMAIL if subject else Channel.MESSAGE,
                subject=subject,
                content=content,
                status=status or DraftStatus.DRAFT,
                created_at=NOW - age,
            ),
            tuple(recipients),
        )
        uow.commit()
    return draft.id


def service(uow_factory, min_age=timedelta(days=1)):
    return DigestService(uow_factory, FixedClock(NOW), min_age)


def test_due_lists_each_authors_drafts_unsent_for_longer_than_the_minimum_age(uow_factory):
    old = add_draft(
        uow_factory, T1, "U1", age=timedelta(days=3), subject="Winter  sale", recipients=("a", "b")
    )
    newer = add_draft(uow_factory, T1, "U1", age=timedelta(hours=30), content="Hi {firstName},\nlong " * 20)
    add_draft(uow_factory, T1, "U1", age=timedelta(hours=2), subject="too fresh")
    add_draft(uow_factory, T1, "U1", age=timedelta(days=5), subject="gone", status=DraftStatus.SENT)
    add_draft(uow_factory, T1, "U2", age=timedelta(days=2), subject="Bob's", recipients=())
    add_draft(uow_factory, T2, "U1", age=timedelta(days=2), subject="other workspace")

    due = service(uow_factory).due()

    assert [(d.team_id, d.user_id, d.count) for d in due] == [(T1, "U1", 2), (T1, "U2", 1), (T2, "U1", 1)]
    first, second = due[0].drafts
    assert (first.draft_id, first.title, first.recipients, first.age) == (
        old,
        "Winter sale",
        2,
        timedelta(days=3),
    )
    assert first.channel is Channel.EMAIL
    assert second.draft_id == newer and second.title.startswith("Hi {firstName}, long Hi")
    assert len(second.title) <= 120 and second.age == timedelta(hours=30)
    assert due[1].drafts[0].recipients == 0


def test_nobody_is_due_when_every_draft_is_young(uow_factory):
    add_draft(uow_factory, T1, "U1", age=timedelta(hours=1), subject="new")
    assert service(uow_factory).due() == []
    assert len(service(uow_factory, timedelta(minutes=30)).due()) == 1


def test_a_day_is_claimed_once_per_user(uow_factory):
    digest = service(uow_factory)
    assert digest.claim(T1, "U1", DAY)
    assert not digest.claim(T1, "U1", DAY)
    assert digest.claim(T1, "U1", DAY + timedelta(days=1))
    assert digest.claim(T1, "U2", DAY) and digest.claim(T2, "U1", DAY)


def test_a_released_claim_can_be_made_again(uow_factory):
    digest = service(uow_factory)
    assert digest.claim(T1, "U1", DAY)
    digest.release(T1, "U1", DAY)
    assert digest.claim(T1, "U1", DAY)


def test_two_schedulers_racing_for_one_claim_get_one_winner(uow_factory):
    """Two units of work at once: the second insert waits for the first transaction, then is ignored."""
    first_in, results = threading.Event(), {}
    release_first = threading.Event()

    def first():
        with uow_factory() as uow:
            results["first"] = uow.digests.claim(T1, "U1", DAY, NOW)
            first_in.set()
            release_first.wait(10)
            uow.commit()

    def second():
        first_in.wait(10)
        with uow_factory() as uow:
            results["second"] = uow.digests.claim(T1, "U1", DAY, NOW)
            uow.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    threading.Timer(0.5, release_first.set).start()  # the second is blocked on the first meanwhile
    for t in threads:
        t.join(30)
    assert results == {"first": True, "second": False}


def test_many_claims_at_once_have_exactly_one_winner(uow_factory):
    digest, barrier, wins = service(uow_factory), threading.Barrier(6), []

    def claim():
        barrier.wait()
        wins.append(digest.claim(T1, "U1", DAY))

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(wins) == [False] * 5 + [True]
