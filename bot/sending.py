"""Sending in the background of the Slack app, and the author's progress DM.

``BackgroundSender`` runs one delivery worker in a thread of this process (``run``/``serve`` start one by
default; ``prospects-bot worker`` runs workers on their own). It wakes when a send is submitted and also
polls, so retries that fall due and work submitted by other processes are picked up.

``ProgressDM`` turns the worker's progress events into one DM per send: posted on the first event, updated at
most every ``interval`` seconds, and replaced by the result per recipient when the send ends.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.progress import build_progress, build_summary
from bot.wiring import Services
from outreach.delivery import Progress

log = logging.getLogger(__name__)


@dataclass
class _Dm:
    channel: str
    ts: str
    last_update: float


class ProgressDM:
    def __init__(self, services: Services, client: WebClient, interval: float = 2.0) -> None:
        self._services = services
        self._client = client
        self._interval = interval
        self._dms: dict[tuple[str, int], _Dm] = {}
        self._lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        key = (progress.team_id, progress.draft_id)
        now = time.monotonic()
        with self._lock:
            dm = self._dms.get(key)
            if dm is not None and not progress.finished and now - dm.last_update < self._interval:
                return
            if dm is not None:
                dm.last_update = now
        try:
            self._show(progress, dm, now)
        except SlackApiError as err:
            log.warning("progress DM for draft %s failed: %s", progress.draft_id, err.response.get("error"))

    def _show(self, progress: Progress, dm: _Dm | None, now: float) -> None:
        profile = self._services.profiles.get(self._client, progress.team_id, progress.author_id)
        t = profile.t
        compose = self._services.compose
        if progress.finished:
            report = compose.report(progress.team_id, progress.author_id, progress.draft_id, unsent_only=True)
            blocks = build_summary(report, t)
        else:
            draft = compose.draft(progress.team_id, progress.author_id, progress.draft_id)
            blocks = build_progress(draft, progress.counts, t)
        text = t(
            "progress.counts", sent=progress.counts_sent, failed=progress.counts_failed, total=progress.total
        )
        if dm is None:
            channel = self._client.conversations_open(users=progress.author_id)["channel"]["id"]
            posted = self._client.chat_postMessage(channel=channel, text=text, blocks=blocks)
            with self._lock:
                self._dms[(progress.team_id, progress.draft_id)] = _Dm(channel, posted["ts"], now)
        else:
            self._client.chat_update(channel=dm.channel, ts=dm.ts, text=text, blocks=blocks)
        if progress.finished:
            with self._lock:
                self._dms.pop((progress.team_id, progress.draft_id), None)


class BackgroundSender:
    def __init__(self, services: Services, progress: ProgressDM | None, poll_seconds: float = 5.0) -> None:
        self._services = services
        self._worker = services.make_worker(progress)
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> BackgroundSender:
        self._services.wake.set()  # look for work at once: a send may be waiting from before a restart
        self._thread = threading.Thread(target=self._loop, name="sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._services.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._services.wake.wait(self._poll)
            self._services.wake.clear()
            try:
                self._worker.run_until_idle(stop=self._stop.is_set)
            except Exception:  # the loop must outlive one bad batch; the batch's rows stay claimed, not lost
                log.exception("delivery batch failed")
                self._stop.wait(self._poll)
