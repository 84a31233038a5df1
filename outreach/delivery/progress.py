"""Where a send stands, told to a listener (the author's progress DM, in bot/progress_dm.py).

The rules:

* While a send goes, a worker reports a draft's progress after recording results, at most once every
  ``interval`` seconds per draft (its own monotonic clock: several workers each report at that pace).
* When a send ends it is always reported, ``finished``, once: by the worker that closed it.
* The counts are read from the database (every worker's results), not from what this worker did.
* Telling the author is not sending: a listener that raises is logged and stops no send.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from outreach.models import DeliveryStatus, Draft
from outreach.ports import UnitOfWork

log = logging.getLogger(__name__)

_BUSY = (DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.IN_FLIGHT)


@dataclass(frozen=True, slots=True)
class Progress:
    team_id: str
    draft_id: int
    author_id: str
    counts: dict[DeliveryStatus, int]
    finished: bool

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def counts_sent(self) -> int:
        return self.counts[DeliveryStatus.SENT]

    @property
    def counts_failed(self) -> int:
        return self.counts[DeliveryStatus.FAILED]

    @property
    def done(self) -> int:
        return self.total - sum(self.counts[s] for s in _BUSY)


ProgressListener = Callable[[Progress], None]


class ProgressReporter:
    """Reports for one worker; ``draft`` finds a draft being sent without the database when it can."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        listener: ProgressListener | None,
        draft: Callable[[str, int], Draft | None],
        interval: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow
        self._listener = listener
        self._draft = draft
        self._interval = interval
        self._monotonic = monotonic
        self._last: dict[tuple[str, int], float] = {}  # when each draft's progress was last reported

    def report(self, team_id: str, draft_id: int, *, finished: bool) -> None:
        if self._listener is None:
            return
        key, now = (team_id, draft_id), self._monotonic()
        last = self._last.get(key)
        if not finished and last is not None and now - last < self._interval:
            return
        with self._uow() as uow:
            counts = uow.queue.counts(team_id, draft_id)
            draft = self._draft(team_id, draft_id) or uow.drafts.get(team_id, draft_id)
        if finished:
            self._last.pop(key, None)
        else:
            self._last[key] = now
        if draft is None:
            return
        try:
            self._listener(Progress(team_id, draft_id, draft.author_id, counts, finished))
        except Exception:  # telling the author is not sending: a failing listener stops no send
            log.exception("progress of draft %s (%s) could not be reported", draft_id, team_id)
