"""Conversations in Slack threads, stored (storage/conversations.py, outreach/conversations.py), on SQLite and
PostgreSQL: one process holds a conversation at a time and a stale hold is taken over; its thread is found by its
parent's place; events are recorded with their thread and files, come back in order, wait, and are given up."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from outreach.clock import FixedClock
from outreach.conversations import ConversationFeed, ConversationKey
from outreach.models import (
    Attachment,
    Channel,
    ConversationEvent,
    EventKind,
    Partner,
    ScanStatus,
    ScanVerdict,
)
from tests.attachment_samples import pdf

T1, T2 = "T1", "T2"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)


def take(uow_factory, holder, now=AT, thread_id=1, user="U1"):
    with uow_factory() as uow:
        held = uow.conversation_notices.take(
            T1, thread_id, user, holder, now, stale_before=now - timedelta(seconds=60)
        )
        uow.commit()
    return held


def thread(uow_factory, mpid="m1", channel=Channel.EMAIL, team=T1):
    with uow_factory() as uow:
        uow.partners.upsert_many(team, [Partner(team, mpid, "Acme Media", email=f"{mpid}@acme.example")])
        opened = uow.threads.open(team, mpid, channel)
        uow.commit()
    return opened.id


def event(kind=EventKind.REPLY, text="Thanks!", thread_id=None, author="U1", **kw) -> ConversationEvent:
    return ConversationEvent(T1, "m1", author, kind, Channel.EMAIL, AT, text, thread_id=thread_id, **kw)


def test_one_process_holds_a_conversation_and_a_stale_hold_is_taken_over(uow_factory):
    thread_id = thread(uow_factory)
    first = take(uow_factory, "a", thread_id=thread_id)
    assert first is not None and (first.channel, first.ts) == ("", "")
    assert take(uow_factory, "b", AT + timedelta(seconds=59), thread_id=thread_id) is None
    assert take(uow_factory, "a", AT + timedelta(seconds=1), thread_id=thread_id) is not None  # its own again
    assert take(uow_factory, "b", AT + timedelta(seconds=62), thread_id=thread_id) is not None  # a died
    assert take(uow_factory, "a", AT + timedelta(seconds=63), thread_id=thread_id) is None


def test_a_placed_parent_is_kept_and_the_conversation_is_found_by_its_place_in_its_workspace(uow_factory):
    thread_id = thread(uow_factory)
    assert take(uow_factory, "a", thread_id=thread_id) is not None
    with uow_factory() as uow:
        uow.conversation_notices.placed(T1, thread_id, "U1", "b", channel="D1", ts="1.000100")  # not b's hold
        uow.conversation_notices.placed(T1, thread_id, "U1", "a", channel="D1", ts="1.000200")
        uow.conversation_notices.release(T1, thread_id, "U1", "a", AT)
        uow.commit()
    later = take(uow_factory, "b", AT + timedelta(seconds=1), thread_id=thread_id)
    assert later is not None and (later.channel, later.ts) == ("D1", "1.000200")
    with uow_factory() as uow:
        found = uow.conversation_notices.at(T1, "D1", "1.000200")
        assert found is not None and (found.thread_id, found.user_id) == (thread_id, "U1")
        assert uow.conversation_notices.at(T2, "D1", "1.000200") is None  # another workspace's message
        assert uow.conversation_notices.at(T1, "D1", "1.000100") is None
        assert uow.conversation_notices.at(T1, "", "") is None


def test_each_user_has_a_thread_of_their_own_for_one_conversation(uow_factory):
    thread_id = thread(uow_factory)
    assert take(uow_factory, "a", thread_id=thread_id, user="U1") is not None
    assert take(uow_factory, "b", thread_id=thread_id, user="U2") is not None  # not the same notice


def test_events_are_recorded_with_their_thread_and_files_and_come_back_in_order(uow_factory):
    thread_id = thread(uow_factory)
    clock = FixedClock(AT)
    feed = ConversationFeed(uow_factory, clock)
    data = pdf()
    kit = Attachment(
        "kit.pdf", "application/pdf", hashlib.sha256(data).hexdigest(), data, ScanVerdict(ScanStatus.CLEAN)
    )
    ids = feed.record(
        [
            event(files=(kit,), held=(("x.pdf", "infected: Eicar"),)),  # no thread: the partner's e-mail one
            event(kind=EventKind.BOUNCE, text="550 5.1.1", detail="5.1.1 user unknown", thread_id=thread_id),
            event(author=""),  # nobody to tell: not recorded
        ]
    )
    assert len(ids) == 2
    key = ConversationKey(T1, thread_id, "U1")
    assert feed.due() == [key]
    first, second = feed.pending(key)
    assert first.event.thread_id == thread_id and first.event.held == (("x.pdf", "infected: Eicar"),)
    (stored,) = first.event.files
    assert stored.data == data and stored.id is not None and stored.filename == "kit.pdf"
    assert (second.event.kind, second.event.detail, second.event.text) == (
        EventKind.BOUNCE,
        "5.1.1 user unknown",
        "550 5.1.1",
    )
    feed.posted(first.id, "2.000100")
    feed.done(second.id)
    (left,) = feed.pending(key)
    assert left.id == first.id and left.posted_ts == "2.000100"


def test_an_event_that_waits_is_not_due_and_one_given_up_is_kept_out(uow_factory):
    thread_id = thread(uow_factory)
    clock = FixedClock(AT)
    feed = ConversationFeed(uow_factory, clock)
    (one,) = feed.record([event(thread_id=thread_id)])
    assert feed.later(one, 30, "ratelimited", failed=False) == 0  # a wait Slack asked for: no failure
    assert feed.due() == []
    clock.set(AT + timedelta(seconds=31))
    assert [k.thread_id for k in feed.due()] == [thread_id]
    assert feed.later(one, 2, "internal_error") == 1
    assert feed.later(one, 4, "internal_error") == 2
    feed.give_up(one, "channel_not_found")
    clock.set(AT + timedelta(hours=2))
    assert feed.due() == []
    assert feed.pending(ConversationKey(T1, thread_id, "U1")) == []


def test_the_conversations_longest_waiting_come_first(uow_factory):
    first, second = thread(uow_factory, "m1"), thread(uow_factory, "m2")
    feed = ConversationFeed(uow_factory, FixedClock(AT))
    feed.record([event(thread_id=second)])
    feed.record([event(thread_id=first), event(thread_id=second)])
    assert [k.thread_id for k in feed.due()] == [second, first]
    assert [k.thread_id for k in feed.due(limit=1)] == [second]
