"""Sending in the background of the Slack app, and the author's progress DM.

``BackgroundSender`` runs one delivery worker in a thread of this process (``run``/``serve`` start one by
default; ``prospects-bot worker`` runs workers on their own). It wakes when a send is submitted and also
polls, so retries that fall due and work submitted by other processes are picked up — follow-up steps that fall
due are deliveries like any other — and before each round it starts the scheduled sends whose time has come
(``Outbox.run_due``: one worker starts each, whatever the number of them; a scheduled send that could not start
is told to its author by ``schedules``, e.g. bot/schedule_dm.py).

``ProgressDM`` (bot/progress_dm.py) is the worker's progress listener: it only records each event, and a
publisher thread of its own — started and stopped with the BackgroundSender(s) that use it — shows one DM per
send, within Slack's rate limits, never holding a send up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from bot.progress_dm import ProgressDM
from bot.wiring import Services
from outreach.outbox import NotStarted
from outreach.ports import ConversationEvents

__all__ = ["BackgroundSender", "ProgressDM"]

log = logging.getLogger(__name__)


class Publisher(ConversationEvents, Protocol):
    """A ConversationEvents with a publisher thread started and stopped with the senders that use it."""

    def start(self) -> object: ...

    def stop(self) -> None: ...


class BackgroundSender:
    def __init__(
        self,
        services: Services,
        progress: ProgressDM | None,
        poll_seconds: float = 5.0,
        *,
        events: Publisher | None = None,
        schedules: Callable[[NotStarted], None] | None = None,
    ) -> None:
        self._services = services
        self._progress = progress
        self._events = events
        self._schedules = schedules
        self._worker = services.make_worker(progress, events)
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0  # passes made (scheduled sends looked at, due deliveries sent): tests wait on it

    def start(self) -> BackgroundSender:
        if self._progress is not None:
            self._progress.start()  # its publisher runs while any sender using it does
        if self._events is not None:
            self._events.start()
        self._services.wake.set()  # look for work at once: a send may be waiting from before a restart
        self._thread = threading.Thread(target=self._loop, name="sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._services.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._progress is not None:
            self._progress.stop()  # the last sender's stop shows the summaries still pending, then ends it
        if self._events is not None:
            self._events.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._services.wake.wait(self._poll)
            self._services.wake.clear()
            try:
                self._start_scheduled()
                self._worker.run_until_idle(stop=self._stop.is_set)
            except Exception:  # the loop must outlive one bad batch; the batch's rows stay claimed, not lost
                log.exception("delivery batch failed")
                self._stop.wait(self._poll)
            self.rounds += 1

    def _start_scheduled(self) -> None:
        for ran in self._services.outbox.run_due():
            if isinstance(ran, NotStarted):
                log.info(
                    "scheduled draft %s (%s) did not start; back to a draft", ran.draft.id, ran.draft.team_id
                )
                if self._schedules is not None:
                    try:
                        self._schedules(ran)
                    except Exception:  # telling is not sending
                        log.exception("could not tell the author of draft %s", ran.draft.id)
