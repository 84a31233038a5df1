"""Conversation events recorded as they are published: the :class:`outreach.ports.ConversationEvents` of every
process (the composition root makes one; ``services.conversation_events``).

``publish`` only keeps the event in memory and returns, so whoever publishes — a delivery worker, an HTTP request
from the messaging platform, an unsubscribe — is never held up and never fails because of it (and never waits on
a database its own open transaction may be locking: the event is written on another connection, by another
thread). That thread, started by the first ``publish``, writes what is kept to the outbox
(:meth:`outreach.conversations.ConversationFeed.record`, one transaction a batch), then tells the listeners — this
process's Slack publisher, :class:`bot.conversations.ConversationThreads` — so they show it at once. Another
process's publisher finds it in the database just the same. A database that does not answer is tried again every
``retry_seconds``; :meth:`stop` writes what is still kept (for up to ``flush_seconds``) and logs what it could not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from outreach.conversations import ConversationFeed
from outreach.models import ConversationEvent

log = logging.getLogger(__name__)

BATCH = 200
FLUSH_SECONDS = 10.0


class OutboxWriter:
    def __init__(self, feed: ConversationFeed, *, retry_seconds: float = 1.0) -> None:
        self._feed = feed
        self._retry = retry_seconds
        self._kept: deque[ConversationEvent] = deque()
        self._writing = 0  # events taken out of ``_kept`` and not written yet
        self._cond = threading.Condition()
        self._listeners: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._stopping = False

    def publish(self, event: ConversationEvent) -> None:
        """Keep ``event`` to record; returns at once."""
        with self._cond:
            self._kept.append(event)
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="conversation-outbox", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the writer's thread; it must return at once) after events were recorded."""
        with self._cond:
            self._listeners.append(listener)

    def unlisten(self, listener: Callable[[], None]) -> None:
        with self._cond:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Wait until every event published so far is recorded; whether that happened within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._kept or self._writing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=left)
        return True

    def stop(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        """Record what is kept (for up to ``flush_seconds``), then end the thread."""
        flushed = self.flush(flush_seconds)
        with self._cond:
            self._stopping = True
            thread, self._thread = self._thread, None
            lost = len(self._kept)
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=flush_seconds + 5)
        if not flushed and lost:
            log.error("%d conversation event(s) could not be recorded before stopping", lost)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._kept and not self._stopping:
                    self._cond.wait()
                if not self._kept:
                    return
                batch = [self._kept.popleft() for _ in range(min(BATCH, len(self._kept)))]
                self._writing = len(batch)
            try:
                self._feed.record(batch)
            except SQLAlchemyError:
                log.warning(
                    "could not record %d conversation event(s); trying again", len(batch), exc_info=True
                )
                with self._cond:
                    self._kept.extendleft(reversed(batch))
                    self._writing = 0
                    self._cond.notify_all()
                    if self._stopping:
                        return
                    self._cond.wait(timeout=self._retry)
                continue
            except Exception:  # a bug in one batch must not stop the others (the batch is logged, dropped)
                log.exception("recording %d conversation event(s) failed", len(batch))
            with self._cond:
                self._writing = 0
                listeners = list(self._listeners)
                self._cond.notify_all()
            for listener in listeners:
                listener()
