"""SEND_RATE_PER_SECOND: at most that many sends a second, one after another, for the workers of one process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Throttle:
    """At most ``per_second`` sends per sending account (a mailer or transport); shared by a worker's threads."""

    def __init__(
        self,
        per_second: float,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._sleep = sleep
        self._monotonic = monotonic

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)
