"""When a refused delivery is tried again.

The rules:

* A permanent refusal is never retried by itself: the delivery fails at once (its author may "Retry failed").
* A passing refusal is retried while fewer than ``max_attempts`` attempts were made (each claim counts one),
  after ``base_delay`` doubled for each attempt after the first, at most ``max_delay``: 30 s, 1 min, 2 min …
  with the defaults. The last passing refusal fails the delivery like a permanent one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.errors import Refusal


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempts: int) -> timedelta:
        """How long after its ``attempts``-th attempt a delivery is tried again."""
        return min(self.base_delay * (1 << max(0, attempts - 1)), self.max_delay)

    def retry_at(self, refusal: Refusal, attempts: int, now: datetime) -> datetime | None:
        """When a delivery refused at ``now`` after ``attempts`` attempts is due again; None: it fails."""
        if refusal.permanent or attempts >= self.max_attempts:
            return None
        return now + self.delay(attempts)
