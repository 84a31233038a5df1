"""Answers kept with the time they were stored, for whatever is slow or rate-limited to ask again.

A :class:`StampedCache` keeps each value with the monotonic time it was stored and lets the reader say how old
is too old: :meth:`~StampedCache.fresh` gives a value younger than ``max_age`` seconds (the cache's own, or the
caller's for this read), :meth:`~StampedCache.last` the last value stored however old — the answer to give
when the source cannot be asked now (Slack answered 429). An old value is never dropped for its age, only
replaced by a newer one or pushed out by the bound: past ``max_entries`` the least recently stored value
goes first, or with ``lru=True`` the least recently stored or read.

Its users: Slack profiles (:mod:`bot.users`), sender group members (:mod:`bot.permissions`), the country list
of the prospect filter (:mod:`outreach.prospecting`) and scan verdicts (:mod:`outreach.attachments`).
cachetools' caches were the alternative; their TTL cache drops a value once it is too old, so it cannot give
the last value known, and it has one age for every read, not the caller's.

Thread-safe: one lock around each read and each store, never around the caller's fetch; two threads may both
fetch a missing value, and the later store wins.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class StampedCache(Generic[K, V]):
    def __init__(
        self,
        max_age: float | None,
        *,
        max_entries: int | None = None,
        lru: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``max_age`` None: values never grow too old; ``max_entries`` None: no bound."""
        self._max_age = max_age
        self._max_entries = max_entries
        self._lru = lru
        self._now = monotonic
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def now(self) -> float:
        """The cache's clock, for a caller that stamps a value with the time it asked (see :meth:`put`)."""
        return self._now()

    def fresh(self, key: K, max_age: float | None = None) -> V | None:
        """The value stored less than ``max_age`` seconds ago (default: the cache's ``max_age``), else None."""
        limit = self._max_age if max_age is None else max_age
        now = self._now()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or (limit is not None and now - entry[0] >= limit):
                return None
            if self._lru:
                self._entries.move_to_end(key)
            return entry[1]

    def last(self, key: K) -> V | None:
        """The last value stored, however old; None when none was."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._lru:
                self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: K, value: V, *, at: float | None = None) -> V:
        """Keep ``value``, stamped ``at`` (a time from :meth:`now`; default: now), and return it."""
        stamp = self._now() if at is None else at
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (stamp, value)
            if self._max_entries is not None:
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        return value

    def forget(self, key: K) -> None:
        """Drop the value kept for ``key`` (it changed)."""
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
