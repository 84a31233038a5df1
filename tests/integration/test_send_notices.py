"""The DM of each send, kept with the send (storage/send_notices.py) on SQLite and PostgreSQL: one process holds
it at a time, a stale hold is taken over, the summary closes it once, a new round reopens it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from outreach.models import Channel, Draft, DraftStatus

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
STALE = AT - timedelta(seconds=60)


def take(uow_factory, holder, now=AT, draft_id=1, quiet_since=None, team=T1):
    with uow_factory() as uow:
        held = uow.send_notices.take(
            team, draft_id, holder, now, stale_before=now - timedelta(seconds=60), quiet_since=quiet_since
        )
        uow.commit()
    return held


def written(uow_factory, holder, now, draft_id=1, **kw):
    with uow_factory() as uow:
        uow.send_notices.written(T1, draft_id, holder, now, **kw)
        uow.commit()


def get(uow_factory, draft_id=1):
    with uow_factory() as uow:
        return uow.send_notices.get(T1, draft_id)


def test_the_first_holder_posts_and_the_others_wait_for_it(uow_factory):
    first = take(uow_factory, "a")
    assert first is not None and first.ts == "" and first.finished_at is None
    assert take(uow_factory, "b") is None  # held by a, the ts not known yet
    written(uow_factory, "a", AT + timedelta(seconds=1), channel="D1", ts="1.000100")
    other = take(uow_factory, "b", AT + timedelta(seconds=2))
    assert other is not None and (other.channel, other.ts) == ("D1", "1.000100")  # b updates a's DM


def test_a_hold_left_by_a_dead_process_is_taken_over_once_stale(uow_factory):
    assert take(uow_factory, "a") is not None
    assert take(uow_factory, "b", AT + timedelta(seconds=59)) is None
    assert take(uow_factory, "b", AT + timedelta(seconds=61)) is not None
    assert take(uow_factory, "a", AT + timedelta(seconds=62)) is None  # now b's


def test_other_processes_wait_quiet_since_but_the_last_writer_spaces_itself(uow_factory):
    assert take(uow_factory, "a") is not None
    written(uow_factory, "a", AT, channel="D1", ts="1.1")
    soon = AT + timedelta(seconds=1)
    assert take(uow_factory, "b", soon, quiet_since=soon - timedelta(seconds=3)) is None
    assert take(uow_factory, "a", soon, quiet_since=soon - timedelta(seconds=3)) is not None
    written(uow_factory, "a", soon)
    later = AT + timedelta(seconds=5)
    assert take(uow_factory, "b", later, quiet_since=later - timedelta(seconds=3)) is not None


def test_the_summary_closes_it_and_a_new_round_reopens_it(uow_factory):
    take(uow_factory, "a")
    written(uow_factory, "a", AT, channel="D1", ts="1.1", keep=True)
    assert take(uow_factory, "b", AT) is None  # kept: the summary follows at once
    written(uow_factory, "a", AT + timedelta(seconds=1), finished=True)
    done = get(uow_factory)
    assert done is not None and done.finished_at == AT + timedelta(seconds=1) and done.ts == "1.1"
    assert take(uow_factory, "b", AT + timedelta(seconds=2)) is None  # nothing more to write

    with uow_factory() as uow:
        notices = uow.send_notices
        late = AT + timedelta(seconds=3)
        # An event from before the summary does not reopen it; one from after it (Retry failed) does.
        assert notices.reopen(T1, 1, "b", late, stale_before=STALE, finished_before=AT) is None
        again = notices.reopen(T1, 1, "b", late, stale_before=STALE, finished_before=late)
        uow.commit()
    assert again is not None and again.ts == "" and again.finished_at is None


def test_active_counts_the_workspaces_sends_still_showing_progress(uow_factory):
    for draft_id in (1, 2, 3):
        take(uow_factory, "a", draft_id=draft_id)
        written(uow_factory, "a", AT, draft_id=draft_id, channel="D1", ts=f"1.{draft_id}")
    written(uow_factory, "a", AT, draft_id=3, finished=True)
    take(uow_factory, "a", draft_id=4, team=T2)
    with uow_factory() as uow:
        assert uow.send_notices.active(T1, AT - timedelta(minutes=1)) == 2
        assert uow.send_notices.active(T1, AT + timedelta(minutes=1)) == 0
        assert uow.send_notices.active(T2, AT - timedelta(minutes=1)) == 1


def test_unfinished_finds_closed_sends_whose_summary_was_never_shown(uow_factory):
    with uow_factory() as uow:
        ids = {}
        for status in (DraftStatus.SENT, DraftStatus.SENDING, DraftStatus.PARTIAL, DraftStatus.CANCELLED):
            draft = uow.drafts.add(
                Draft(T1, "U1", Channel.EMAIL, subject="Hi", content="Hi", status=status), ["m1"]
            )
            assert draft.id is not None
            ids[status] = draft.id
        uow.commit()
    for draft_id in ids.values():
        take(uow_factory, "a", draft_id=draft_id)
        written(uow_factory, "a", AT, draft_id=draft_id, channel="D1", ts=f"1.{draft_id}")
    written(uow_factory, "a", AT, draft_id=ids[DraftStatus.PARTIAL], finished=True)
    take(uow_factory, "b", AT, draft_id=999)  # no such draft
    with uow_factory() as uow:
        owed = uow.send_notices.unfinished(AT - timedelta(days=1), AT + timedelta(minutes=1), STALE)
        recent = uow.send_notices.unfinished(AT - timedelta(days=1), AT - timedelta(minutes=1), STALE)
    assert sorted((n.draft_id, n.ts) for n in owed) == [
        (ids[DraftStatus.SENT], f"1.{ids[DraftStatus.SENT]}"),
        (
            ids[DraftStatus.CANCELLED],
            f"1.{ids[DraftStatus.CANCELLED]}",
        ),  # a follow-up step stopped as it went
    ]
    assert recent == []  # written too recently: its own process may still show it


def test_of_two_processes_taking_a_new_notice_at_once_one_wins(uow_factory):
    start = threading.Barrier(8)
    won: list[str] = []
    errors: list[BaseException] = []

    def race(holder: str) -> None:
        try:
            start.wait(timeout=10)
            if take(uow_factory, holder, draft_id=7) is not None:
                won.append(holder)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(f"p{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert len(won) == 1, won
