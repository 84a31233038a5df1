"""The outbox writer (bot/conversation_outbox.py): publishing never waits, every event is recorded in the order
published, a database that does not answer is tried again without losing any, and listeners hear of each batch."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError

from bot.conversation_outbox import OutboxWriter
from outreach.models import Channel, ConversationEvent, EventKind

AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)


def event(i: int) -> ConversationEvent:
    return ConversationEvent("T1", "m1", "U1", EventKind.REPLY, Channel.EMAIL, AT, f"reply {i}")


class Feed:
    """A ConversationFeed whose ``record`` can be held up, or fail a number of times."""

    def __init__(self, failures: int = 0) -> None:
        self.recorded: list[str] = []
        self.failures = failures
        self.gate = threading.Event()
        self.gate.set()

    def record(self, events):
        self.gate.wait(10)
        if self.failures:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        self.recorded += [e.text for e in events]
        return list(range(len(events)))


def test_publishing_returns_at_once_even_while_the_database_is_slow():
    feed = Feed()
    feed.gate.clear()
    writer = OutboxWriter(feed)  # type: ignore[arg-type]
    started = time.monotonic()
    for i in range(100):
        writer.publish(event(i))
    assert time.monotonic() - started < 0.5
    assert not writer.flush(timeout=0.2)  # still held up
    feed.gate.set()
    assert writer.flush()
    assert feed.recorded == [f"reply {i}" for i in range(100)]
    writer.stop()


def test_a_database_that_does_not_answer_is_tried_again_and_nothing_is_lost_or_reordered():
    feed = Feed(failures=2)
    heard = []
    writer = OutboxWriter(feed, retry_seconds=0.05)  # type: ignore[arg-type]
    writer.listen(lambda: heard.append(len(feed.recorded)))
    for i in range(3):
        writer.publish(event(i))
    assert writer.flush(timeout=5)
    assert feed.recorded == ["reply 0", "reply 1", "reply 2"]
    assert heard and heard[-1] == 3
    writer.stop()


def test_stopping_records_what_was_published_first():
    feed = Feed()
    writer = OutboxWriter(feed)  # type: ignore[arg-type]
    writer.publish(event(1))
    writer.stop()
    assert feed.recorded == ["reply 1"]
    writer.publish(event(2))  # a later publish starts the writer again
    assert writer.flush()
    assert feed.recorded == ["reply 1", "reply 2"]
    writer.stop()
