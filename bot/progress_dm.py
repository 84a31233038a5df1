"""The author's DM about each send — a progress bar, then the result per recipient — kept off the send path.

The delivery worker calls :class:`ProgressDM` (its progress listener) on its own thread; the call only records
the event (per send, the latest counts win; a finished event is never replaced) and returns. A publisher
thread, started and stopped with the :class:`bot.sending.BackgroundSender` (s) that use it, shows them:

- **One DM per send, however many processes send it.** Its channel and ts live with the send
  (:class:`outreach.ports.SendNotices`, table ``send_notices``). A process *holds* the notice while it writes
  to Slack (a conditional write only one process wins): the first holder posts the DM and stores its ts, the
  others update that ts (or wait while the first post is under way; a hold left by a dead process goes stale
  and is taken over). The summary replaces the DM once (``finished_at``); an event older than that is dropped.
- **Tier 3.** ``chat.update`` allows about 50 calls a minute per workspace. A workspace's sends share
  ``per_minute`` (40) updates: each send's DM is updated at most every ``interval`` seconds (the
  PROGRESS_UPDATE_SECONDS setting), stretched to (sends updating now × 60 / ``per_minute``). Both the number of
  sends and each DM's last write are read from the database, so the budget is shared by every process; within
  this process a sliding-minute count guards it too. Summaries are not held back by the budget (the margin of
  10 a minute is theirs).
- **Never waiting on Slack in a worker.** The publisher's client does not sleep on 429: a 429 pauses this
  workspace's DMs in this process for ``Retry-After``, while later events are coalesced. (Each process learns
  of a 429 from its own calls; the spacing shared through the database is what keeps 429s rare.)
- **Follow-ups in the send's thread.** A follow-up step's DM is a reply in the thread of its send's DM (the send's
  notice: its channel and ts), written like any other; a send with follow-ups shows its steps and **Cancel
  follow-ups** while some are still to come.
- **The summary is never dropped.** A finished event is kept until shown (tried again after a 429 or a transient
  error; given up after a few refusals that will not pass, such as ``channel_not_found``). A summary owed by a
  process that stopped first is found in the database by any other (:meth:`ProgressDM._sweep`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks.progress import build_progress, build_summary
from bot.installs.clients import ClientFor, clients_for
from bot.slack_budget import WorkspaceGate, no_wait_client, retry_after, spread, transient
from bot.users import Profile
from bot.wiring import Services
from outreach.delivery import Progress
from outreach.errors import NotFound
from outreach.models import DeliveryStatus, Draft, DraftStatus, SendNotice

log = logging.getLogger(__name__)

UPDATES_PER_MINUTE = 40  # chat.update is tier 3, ~50 a minute per workspace (SLACK.md §5.1): 10 to spare
SLACK_TIMEOUT = 10  # seconds for one call; a hold on a notice is stale well after that
HOLD_STALE = timedelta(seconds=60)
ACTIVE = timedelta(minutes=2)  # a notice written this recently counts as a send updating its DM
SWEEP_EVERY = 30.0  # seconds between looks for summaries another process owed
OWED_AFTER = timedelta(seconds=60)  # a closed send whose DM was not written for this long owes its summary
OWED_SINCE = timedelta(days=1)  # … unless it is older than this
FLUSH_SECONDS = 10.0  # on stop, how long summaries still pending may take
RETRY_BUSY = 0.5  # seconds before asking again for a notice another process holds
GIVE_UP_AFTER = 3  # refusals that will not pass before a summary is given up
MAX_DRAFTS_KEPT = 64


@dataclass
class _Event:
    progress: Progress
    at: datetime  # when it arrived: a summary shown after this already covers it
    not_before: float = 0.0  # monotonic
    attempts: int = 0


class ProgressDM:
    """The progress listener of this process's workers and the publisher of their DMs (see the module doc).

    ``interval``: seconds between updates of one send's DM (default: the PROGRESS_UPDATE_SECONDS setting);
    ``per_minute``: updates a workspace's sends share. ``client``: every workspace's client, or each one's
    (a :data:`~bot.installs.clients.ClientFor`); a workspace without one (uninstalled) gets no DM.
    """

    def __init__(
        self,
        services: Services,
        client: WebClient | ClientFor,
        interval: float | None = None,
        *,
        per_minute: int = UPDATES_PER_MINUTE,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._services = services
        self._clients = clients_for(client)  # each workspace's own (bot/installs/clients.py)
        self._interval = services.settings.progress_update_seconds if interval is None else interval
        self._per_minute = per_minute
        self._mono = monotonic
        self._wall = wall
        self._gate = WorkspaceGate(per_minute, monotonic)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._pending: dict[tuple[str, int], _Event] = {}
        self._shown: dict[tuple[str, int], float] = {}  # when this process last wrote each DM (monotonic)
        self._drafts: dict[tuple[str, int], Draft] = {}
        self._spreads: dict[str, tuple[float, float]] = {}  # team → (until, seconds between a DM's updates)
        self._cond = threading.Condition()
        self._users = 0
        self._stopping = False
        self._flush_until = 0.0
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0

    # -- the listener: called on the workers' threads, returns at once --------------------------------------
    def __call__(self, progress: Progress) -> None:
        key = (progress.team_id, progress.draft_id)
        with self._cond:
            held = self._pending.get(key)
            if held is not None and held.progress.finished and not progress.finished:
                return  # a count read just before the send closed: its summary is what is left to show
            self._pending[key] = _Event(progress, self._wall(), held.not_before if held else 0.0)
            self._cond.notify()

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> ProgressDM:
        """Start the publisher (each start needs a stop; the thread runs while any start is not stopped)."""
        with self._cond:
            self._users += 1
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="progress-dm", daemon=True)
                self._thread.start()
        return self

    def stop(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        """After the last start's stop: show the summaries still pending (for up to ``flush_seconds``), stop."""
        with self._cond:
            self._users = max(0, self._users - 1)
            thread = self._thread
            if self._users or thread is None:
                return
            self._stopping = True
            self._flush_until = self._mono() + flush_seconds
            self._cond.notify_all()
        thread.join(timeout=flush_seconds + 3 * SLACK_TIMEOUT)
        with self._cond:
            self._thread = None

    def __enter__(self) -> ProgressDM:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the publisher ------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                if not self._step():
                    return
            except Exception:  # the publisher must outlive a bug; events wait for the next pass
                log.exception("the progress DM publisher failed; going on")
                with self._cond:
                    self._cond.wait(timeout=1.0)

    def _step(self) -> bool:
        """One pass: show what is due, or wait until something may be; False once stopped."""
        with self._cond:
            stopping = self._stopping
            teams = {team_id for team_id, _ in self._pending}
        if not stopping:
            self._sweep()
        for team_id in teams:
            self._count_sends(team_id)
        with self._cond:
            now = self._mono()
            if self._stopping:
                for key in [k for k, e in self._pending.items() if not e.progress.finished]:
                    del self._pending[key]
                if not self._pending or now >= self._flush_until:
                    if self._pending:
                        log.warning("%d summary DM(s) not shown before stopping", len(self._pending))
                    return False
            due, wake = self._due(now)
            if not due:
                self._cond.wait(timeout=min(wake, 1.0))
                return True
        for key, event in due:
            self._publish_safely(key, event)
        return True

    def _due(self, now: float) -> tuple[list[tuple[tuple[str, int], _Event]], float]:
        """The events to show now (taken out of the pending ones), and the seconds until the next may be due."""
        due, wake = [], SWEEP_EVERY
        for key, event in list(self._pending.items()):
            team_id = key[0]
            ready = event.not_before
            if not event.progress.finished and key in self._shown:
                ready = max(ready, self._shown[key] + self._spread(team_id))
            ready = max(ready, now + self._gate.wait(team_id, budget=not event.progress.finished))
            if ready <= now:
                due.append((key, self._pending.pop(key)))
            else:
                wake = min(wake, ready - now)
        due.sort(key=lambda item: not item[1].progress.finished)  # summaries first
        return due, wake

    def _later(self, key: tuple[str, int], event: _Event, delay: float) -> None:
        """Keep ``event`` to try again in ``delay`` seconds, unless a newer one came meanwhile."""
        event.not_before = self._mono() + delay
        with self._cond:
            newer = self._pending.get(key)
            if newer is None or (event.progress.finished and not newer.progress.finished):
                self._pending[key] = event
            else:
                newer.not_before = max(newer.not_before, event.not_before)

    def _spread(self, team_id: str) -> float:
        """Seconds between updates of one DM of this workspace (as last counted by ``_count_sends``)."""
        return self._spreads.get(team_id, (0.0, self._interval))[1]

    def _count_sends(self, team_id: str) -> None:
        """The workspace's sends share its budget: count those updating their DMs now, in the database (so
        across processes), at most every few seconds. Never called holding the lock the workers take."""
        now = self._mono()
        until, seconds = self._spreads.get(team_id, (0.0, self._interval))
        if now < until:
            return
        try:
            with self._services.uow() as uow:
                sends = uow.send_notices.active(team_id, self._wall() - ACTIVE)
        except SQLAlchemyError:
            log.warning("could not count the sends of %s; keeping %.1f s between updates", team_id, seconds)
            sends = 1
        self._spreads[team_id] = (
            now + max(2.0, self._interval),
            spread(self._per_minute, sends, self._interval),
        )

    def _publish_safely(self, key: tuple[str, int], event: _Event) -> None:
        try:
            self._publish(key, event)
        except SQLAlchemyError:
            log.warning("progress DM of draft %s (%s): database unavailable", key[1], key[0], exc_info=True)
            self._retry_or_give_up(key, event, permanent=False)
        except Exception:  # the publisher outlives one bad event (a draft deleted meanwhile, a bug)
            log.exception("progress DM of draft %s (%s) failed", key[1], key[0])
            self._retry_or_give_up(key, event, permanent=True)

    def _publish(self, key: tuple[str, int], event: _Event) -> None:
        progress = event.progress
        wait = self._gate.wait(progress.team_id, budget=not progress.finished)
        if wait:  # a 429 or the budget, since this pass began
            self._later(key, event, wait)
            return
        client = self._client_of(progress.team_id)
        if client is None:  # not installed (uninstalled since): nothing goes to Slack for it
            log.info("progress DM of draft %s (%s) dropped: the workspace is not installed", key[1], key[0])
            if progress.finished:
                self._record(key, finished=True)  # nobody owes its summary any more
            return
        profile = self._services.profiles.lookup(client, progress.team_id, progress.author_id)
        if profile is None:  # Slack cannot say the author's language now: shown a little later
            self._later(key, event, max(1.0, self._spread(progress.team_id)))
            return
        notice = self._hold(key, event)
        if notice is None:
            return
        try:
            self._write(notice, event, profile, client)
        except (SlackApiError, OSError) as err:
            self._release(key)
            self._refused(key, event, err)
        except Exception:
            self._release(key)
            raise

    def _hold(self, key: tuple[str, int], event: _Event) -> SendNotice | None:
        """The notice, held by this process; None when the event is dropped or kept for later."""
        team_id, draft_id = key
        now = self._wall()
        stale = now - HOLD_STALE
        finished = event.progress.finished
        quiet = None if finished else now - timedelta(seconds=self._spread(team_id))
        with self._services.uow() as uow:
            notices = uow.send_notices
            notice = notices.get(team_id, draft_id)
            if notice is not None and notice.finished_at is not None:
                if notice.finished_at >= event.at:
                    return None  # its summary is shown, and covers this event
                draft = uow.drafts.get(team_id, draft_id)
                if not finished and (draft is None or draft.status is not DraftStatus.SENDING):
                    return None  # a count from before the summary
                held = notices.reopen(
                    team_id, draft_id, self.holder, now, stale_before=stale, finished_before=event.at
                )
            else:
                held = notices.take(
                    team_id, draft_id, self.holder, now, stale_before=stale, quiet_since=quiet
                )
            uow.commit()
        if held is None:  # another process is writing it, or wrote it a moment ago
            self._later(key, event, RETRY_BUSY if finished else self._spread(team_id))
        return held

    def _client_of(self, team_id: str) -> WebClient | None:
        """The workspace's client, without the retry handlers that would sleep on a 429."""
        client = self._clients(team_id)
        return no_wait_client(client, timeout=SLACK_TIMEOUT) if client is not None else None

    def _write(self, notice: SendNotice, event: _Event, profile: Profile, client: WebClient) -> None:
        progress, t = event.progress, profile.t
        key = (progress.team_id, progress.draft_id)
        compose = self._services.compose
        if progress.finished:
            report = compose.report(progress.team_id, progress.author_id, progress.draft_id, unsent_only=True)
            draft, counts = report.draft, report.counts
            blocks = build_summary(report, t, self._steps(draft))
        else:
            draft, counts = self._draft(progress), progress.counts
            blocks = build_progress(draft, counts, t, self._steps(draft))
        text = t(
            "progress.counts",
            sent=counts.get(DeliveryStatus.SENT, 0),
            failed=counts.get(DeliveryStatus.FAILED, 0),
            total=sum(counts.values()),
        )
        channel, ts = notice.channel, notice.ts
        if not ts:  # the first write: a new DM (a summary replaces it at once, as it replaces any progress)
            thread = self._thread_of(draft)
            if thread is not None:
                channel = channel or thread[0]
            channel = channel or client.conversations_open(users=progress.author_id)["channel"]["id"]
            first = blocks if not progress.finished else build_progress(draft, counts, t, self._steps(draft))
            in_thread = thread[1] if thread is not None and thread[0] == channel else None
            posted = client.chat_postMessage(channel=channel, text=text, blocks=first, thread_ts=in_thread)
            channel, ts = str(posted.get("channel") or channel), str(posted["ts"])
            self._record(key, channel=channel, ts=ts, keep=progress.finished)
            if not progress.finished:
                return
        self._gate.spend(progress.team_id)
        client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        self._record(key, finished=progress.finished)

    def _record(self, key: tuple[str, int], **written: Any) -> None:
        with self._services.uow() as uow:
            uow.send_notices.written(key[0], key[1], self.holder, self._wall(), **written)
            uow.commit()
        if written.get("finished"):
            self._shown.pop(key, None)
            self._drafts.pop(key, None)
        else:
            self._shown[key] = self._mono()

    def _release(self, key: tuple[str, int]) -> None:
        try:
            with self._services.uow() as uow:
                uow.send_notices.release(key[0], key[1], self.holder)
                uow.commit()
        except SQLAlchemyError:
            log.warning("could not let go of the DM of draft %s (%s); it goes stale", key[1], key[0])

    def _refused(self, key: tuple[str, int], event: _Event, err: Exception) -> None:
        """Slack did not take the write: wait for a 429's Retry-After; try a summary again; else move on."""
        reason = err.response.get("error") if isinstance(err, SlackApiError) else str(err)
        wait = retry_after(err) if isinstance(err, SlackApiError) else None
        if wait is not None:
            self._gate.pause(key[0], wait)
            log.info("Slack asked to wait %.0f s before the DMs of %s", wait, key[0])
            self._later(key, event, wait)
            return
        log.warning("progress DM of draft %s (%s) refused: %s", key[1], key[0], reason)
        self._retry_or_give_up(key, event, permanent=not transient(err))

    def _retry_or_give_up(self, key: tuple[str, int], event: _Event, *, permanent: bool) -> None:
        """A progress event is simply dropped (a later one follows); a summary is tried again — with a backoff,
        and at most GIVE_UP_AFTER times for a refusal that will not pass."""
        if not event.progress.finished:
            return
        event.attempts += 1
        if permanent and event.attempts >= GIVE_UP_AFTER:
            log.error("the summary DM of draft %s (%s) could not be shown; giving up", key[1], key[0])
            try:
                self._record(key, finished=True)  # nobody tries again
            except SQLAlchemyError:
                log.warning("could not record giving up on draft %s (%s)", key[1], key[0])
            return
        self._later(key, event, min(60.0, 2.0 ** min(event.attempts, 6)))

    def _steps(self, draft: Draft) -> tuple[Draft, ...]:
        """The follow-up steps of the send ``draft`` is (or belongs to); none for a plain send (no read)."""
        if not draft.followups and not draft.step:
            return ()
        assert draft.id is not None
        try:
            return self._services.followups.steps(draft.team_id, draft.author_id, draft.id)
        except NotFound:
            return ()

    def _thread_of(self, draft: Draft) -> tuple[str, str] | None:
        """(channel, ts) of the DM of the send a follow-up step belongs to: the step is written in its thread."""
        if draft.parent_id is None:
            return None
        with self._services.uow() as uow:
            parent = uow.send_notices.get(draft.team_id, draft.parent_id)
        if parent is None or not parent.channel or not parent.ts:
            return None
        return parent.channel, parent.ts

    def _draft(self, progress: Progress) -> Draft:
        """The draft being sent (it cannot change while it is sent: read once per send)."""
        key = (progress.team_id, progress.draft_id)
        draft = self._drafts.get(key)
        if draft is None:
            draft = self._services.compose.draft(progress.team_id, progress.author_id, progress.draft_id)
            while len(self._drafts) >= MAX_DRAFTS_KEPT:
                self._drafts.pop(next(iter(self._drafts)))
            self._drafts[key] = draft
        return draft

    def _sweep(self) -> None:
        """Summaries owed by a process that stopped first: closed sends whose DM still shows progress."""
        now = self._mono()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY
        wall = self._wall()
        try:
            with self._services.uow() as uow:
                owed = uow.send_notices.unfinished(wall - OWED_SINCE, wall - OWED_AFTER, wall - HOLD_STALE)
                found = []
                for notice in owed:
                    draft = uow.drafts.get(notice.team_id, notice.draft_id)
                    if draft is not None:
                        counts = uow.queue.counts(notice.team_id, notice.draft_id)
                        found.append(
                            (notice, Progress(notice.team_id, notice.draft_id, draft.author_id, counts, True))
                        )
        except SQLAlchemyError:
            log.warning("could not look for summary DMs owed", exc_info=True)
            return
        with self._cond:
            for notice, progress in found:
                key = (notice.team_id, notice.draft_id)
                if key not in self._pending:
                    log.info(
                        "showing the summary of draft %s (%s), owed since %s",
                        key[1],
                        key[0],
                        notice.updated_at,
                    )
                    # Its time is the DM's last write: a summary shown since then (by anyone) covers it.
                    self._pending[key] = _Event(progress, notice.updated_at or wall - OWED_AFTER)
