"""A monotonic clock for tests (the wall clock is :class:`outreach.clock.FixedClock`)."""

from __future__ import annotations


class Ticker:
    """A monotonic clock that moves only when told (``DeliveryWorker(monotonic=...)``)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
