"""Serving each event once although its sender may deliver it more than once.

The rule: the first delivery of an event id is served, whatever its sender calls it (Slack numbers its
retries, but a retry may be the only delivery that ever arrives: Slack re-sends an event only when the first
delivery was not acknowledged, SLACK.md §8.7); every later delivery of the same id is not. "First" is decided by
the ``SeenEvents`` record, shared by every process on the database: recording an id that is there already
says "seen".

Ids are kept ``keep`` (a day) — far longer than Slack retries (three times within minutes, SLACK.md §3.7) — and
older ones are purged once every ``purge_every`` (an hour), in the transaction of the delivery that finds the
purge due, not on every delivery.

An event is recorded before it is served: a process that dies between the two loses that event (its retry is
"seen"); recording after serving would instead let two processes serve one event together.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from outreach.ports import Clock, UnitOfWork

KEEP = timedelta(days=1)
PURGE_EVERY = timedelta(hours=1)


class RedeliveryFilter:
    """``first_delivery(event_id, team_id)`` on the shared database (one short transaction per delivery)."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        keep: timedelta = KEEP,
        purge_every: timedelta = PURGE_EVERY,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._keep = keep
        self._purge_every = purge_every
        self._next_purge: datetime | None = None  # None: at the first delivery
        self._lock = threading.Lock()

    def first_delivery(self, event_id: str, team_id: str) -> bool:
        now = self._clock.now()
        with self._uow() as uow:
            first = uow.seen_events.first_time(event_id, team_id, now)
            if self._purge_due(now):
                uow.seen_events.purge(now - self._keep)
            uow.commit()
        return first

    def _purge_due(self, now: datetime) -> bool:
        with self._lock:
            if self._next_purge is not None and now < self._next_purge:
                return False
            self._next_purge = now + self._purge_every
            return True


class InMemoryRedeliveryFilter:
    """The same rule within one process, for an app built without a database (tests, tools): remembers the
    last ``max_ids`` event ids."""

    def __init__(self, max_ids: int = 10_000) -> None:
        self._max = max_ids
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_delivery(self, event_id: str, team_id: str) -> bool:
        with self._lock:
            if event_id in self._seen:
                return False
            self._seen[event_id] = None
            if len(self._seen) > self._max:
                self._seen.popitem(last=False)
            return True
