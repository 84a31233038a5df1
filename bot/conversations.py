"""Conversations in Slack threads: the publisher that shows conversation events in their authors' DMs.

Events are recorded first (bot/conversation_outbox.py, the outbox in the database); this publisher — a thread of
its own, started and stopped with the app — shows them. The rules (the core's are in
:mod:`outreach.conversations`):

* **One thread per conversation**, in the DM of the user the event names: its parent (with whom, on which channel,
  how a reply written there goes) is posted when the conversation first has something to show, and every event is
  a reply in it. A conversation is held by one process at a time while it is posted to (the hold is stored with
  the conversation, :class:`outreach.ports.ConversationNotices`), so the parent is posted once and events appear
  in the order recorded, however many processes run.
* **Files**: the partner's clean files are uploaded into the thread with Slack's external upload
  (bot/slack_upload.py), byte-identical — the bytes received, as stored; files held back are only named.
* **Slack's limits**: ``chat.postMessage`` takes about one message a second per channel with short bursts
  (SLACK.md §5.1): each DM gets a bucket of :data:`BURST` messages refilled at one a second. The upload methods
  are tier 4 (about 100 a minute per workspace): :data:`UPLOADS_PER_MINUTE` shared by the workspace's uploads in
  this process. A 429 pauses the workspace's posts for its ``Retry-After``; the event waits that long and the
  wait is not counted as a failure. The client never sleeps on 429 (:func:`bot.slack_budget.no_wait_client`).
* **Nothing lost**: a refusal that may pass (a 5xx, a timeout, a dropped connection) is tried again with a
  backoff; one that will not (``channel_not_found`` …) is given up after :data:`GIVE_UP_AFTER` tries — kept in
  the outbox with why, and logged. Events recorded by other processes, or left by one that stopped, are found
  every ``sweep_seconds``; those this process records are shown at once (the outbox writer nudges it).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks.conversations import build_event, build_parent
from bot.i18n import Translator
from bot.installs.clients import ClientFor, clients_for
from bot.slack_budget import WorkspaceGate, no_wait_client, retry_after, transient
from bot.slack_upload import UploadFailed, upload_into_thread
from bot.wiring import Services
from outreach.conversations import ConversationHeader, ConversationKey
from outreach.models import ConversationNotice, PendingEvent

log = logging.getLogger(__name__)

SLACK_TIMEOUT = 10  # seconds for one call; the hold on a conversation goes stale well after that
BURST = 3  # messages one DM takes at once, then one a second (chat.postMessage: SLACK.md §5.1)
PER_SECOND = 1.0
UPLOADS_PER_MINUTE = 90  # files.getUploadURLExternal / completeUploadExternal are tier 4: ~100 a minute
SWEEP_SECONDS = 5.0
GIVE_UP_AFTER = 5  # tries of an event Slack refuses for good (not found, not allowed …)
MAX_BACKOFF = 300.0
DUE_PER_PASS = 50
PENDING_PER_PASS = 20  # a conversation's events read at a time


class _Wait(Exception):
    """Not now: the event waits ``seconds`` (a budget), which is no failure."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"waiting {seconds:.1f} s")
        self.seconds = seconds


class ConversationThreads:
    """The publisher of this process (see the module doc): ``start()`` / ``stop()``, or a ``with`` block."""

    def __init__(
        self,
        services: Services,
        client: WebClient | ClientFor,
        *,
        sweep_seconds: float = SWEEP_SECONDS,
        burst: int = BURST,
        backoff: Callable[[int], float] = lambda attempts: min(MAX_BACKOFF, 2.0**attempts),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._services = services
        self._feed = services.conversations
        self._clients = clients_for(client)  # each workspace's own (bot/installs/clients.py)
        self._sweep = sweep_seconds
        self._burst = burst
        self._backoff = backoff  # seconds before trying again an event refused ``attempts`` times
        self._mono = monotonic
        self._paused = WorkspaceGate(per_minute=1_000_000, monotonic=monotonic)  # only a 429 pauses posts
        self._uploads = WorkspaceGate(UPLOADS_PER_MINUTE, monotonic)
        self._buckets: dict[str, tuple[float, float]] = {}  # DM channel → (messages it may take, when)
        self._dms: dict[tuple[str, str], str] = {}  # (team, user) → their DM with the app
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._cond = threading.Condition()
        self._nudged = False
        self._wake_at = 0.0
        self._users = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> ConversationThreads:
        """Start the publisher (each start needs a stop; it runs while any start is not stopped)."""
        with self._cond:
            self._users += 1
            if self._thread is None:
                self._stopping = False
                self._services.conversation_events.listen(self.nudge)
                self._thread = threading.Thread(target=self._run, name="conversation-threads", daemon=True)
                self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._users = max(0, self._users - 1)
            thread = self._thread
            if self._users or thread is None:
                return
            self._stopping = True
            self._cond.notify_all()
        self._services.conversation_events.unlisten(self.nudge)
        thread.join(timeout=3 * SLACK_TIMEOUT)
        with self._cond:
            self._thread = None

    def __enter__(self) -> ConversationThreads:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def nudge(self) -> None:
        """Events were recorded: look at once (called by the outbox writer; returns at once)."""
        with self._cond:
            self._nudged = True
            self._cond.notify_all()

    # -- the loop -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                if not self._step():
                    return
            except Exception:  # the publisher must outlive a bug; the events wait in the outbox
                log.exception("the conversation publisher failed; going on")
                with self._cond:
                    self._cond.wait(timeout=1.0)

    def _step(self) -> bool:
        """One pass over the conversations with events due, or a wait until there may be some; False once
        stopped."""
        with self._cond:
            if self._stopping:
                return False
            now = self._mono()
            if not self._nudged and now < self._wake_at:
                self._cond.wait(timeout=min(self._wake_at - now, 1.0))
                return True
            self._nudged = False
            self._wake_at = now + self._sweep
        try:
            due = self._feed.due(DUE_PER_PASS)
        except SQLAlchemyError:
            log.warning("could not look for conversation events to show", exc_info=True)
            return True
        if len(due) == DUE_PER_PASS:
            self._soon(0.0)  # more are waiting: the next pass at once
        for key in due:
            if self._stopping:
                break
            if self._paused.paused(key.team_id):
                self._soon(self._paused.paused(key.team_id))
                continue
            self._show_safely(key)
        return True

    def _soon(self, seconds: float) -> None:
        """Look again in ``seconds`` (an event waits that long)."""
        with self._cond:
            self._wake_at = min(self._wake_at, self._mono() + max(0.05, seconds))

    def _show_safely(self, key: ConversationKey) -> None:
        try:
            notice = self._feed.hold(key, self.holder)
        except SQLAlchemyError:
            log.warning("could not hold the conversation %s of %s", key.thread_id, key.team_id, exc_info=True)
            return
        if notice is None:
            return  # another process shows it now
        try:
            self._show(key, notice)
        except SQLAlchemyError:
            log.warning(
                "conversation %s of %s: database unavailable", key.thread_id, key.team_id, exc_info=True
            )
            self._soon(1.0)
        finally:
            try:
                self._feed.release(key, self.holder)
            except SQLAlchemyError:
                log.warning("could not let go of conversation %s; the hold goes stale", key.thread_id)

    def _show(self, key: ConversationKey, notice: ConversationNotice) -> None:
        """The conversation's pending events, in order, while Slack takes them."""
        pending = self._feed.pending(key, PENDING_PER_PASS)
        if not pending:
            return
        if len(pending) == PENDING_PER_PASS:
            self._soon(0.0)  # the conversation has more: after this pass
        about = self._feed.header(key)
        client = self._client(key.team_id)
        if client is None:  # uninstalled: nothing more is shown in its Slack
            for item in pending:
                self._feed.give_up(item.id, "the app is not installed in this workspace")
            return
        t = self._services.profiles.get(client, key.team_id, key.user_id).t
        channel, parent = notice.channel, notice.ts
        for item in pending:
            due_at = item.due_at
            if due_at is not None and due_at > self._services.clock.now():
                self._soon((due_at - self._services.clock.now()).total_seconds())
                return  # in order: nothing after an event that waits
            try:
                if about is None:  # the conversation is gone (its events go with it)
                    self._feed.give_up(item.id, "the conversation no longer exists")
                    continue
                if not parent:
                    channel, parent = self._post_parent(client, key, about, t)
                self._show_event(client, item, about, (channel, parent), t)
            except _Wait as wait:
                self._feed.later(item.id, wait.seconds, str(wait), failed=False)
                self._soon(wait.seconds)
                return
            except (SlackApiError, UploadFailed, OSError) as err:
                self._refused(item, err)
                return

    def _client(self, team_id: str) -> WebClient | None:
        """The workspace's client, without the retry handlers that would sleep on a 429; None: not installed."""
        client = self._clients(team_id)
        return no_wait_client(client, timeout=SLACK_TIMEOUT) if client is not None else None

    def _post_parent(
        self, client: WebClient, key: ConversationKey, about: ConversationHeader, t: Translator
    ) -> tuple[str, str]:
        channel = self._dm(client, key)
        text, blocks = build_parent(about, t)
        self._take_turn(key.team_id, channel)
        posted = client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        channel, ts = str(posted.get("channel") or channel), str(posted["ts"])
        self._feed.placed(key, self.holder, channel, ts)
        return channel, ts

    def _show_event(
        self,
        client: WebClient,
        item: PendingEvent,
        about: ConversationHeader,
        where: tuple[str, str],
        t: Translator,
    ) -> None:
        """Post ``item`` in the thread ``where`` (its channel, its parent's ts), then its files."""
        channel, parent = where
        event = item.event
        if not item.posted_ts:
            text, blocks = build_event(event, about.name, t)
            self._take_turn(event.team_id, channel)
            posted = client.chat_postMessage(channel=channel, thread_ts=parent, text=text, blocks=blocks)
            self._feed.posted(item.id, str(posted["ts"]))
        if event.files:
            wait = self._uploads.wait(event.team_id)
            if wait:
                raise _Wait(wait)
            upload_into_thread(
                client,
                event.files,
                channel,
                parent,
                self._services.files.allowed,
                spend=lambda: self._uploads.spend(event.team_id),
            )
        self._feed.done(item.id)

    def _dm(self, client: WebClient, key: ConversationKey) -> str:
        known = self._dms.get((key.team_id, key.user_id))
        if known is None:
            known = str(client.conversations_open(users=key.user_id)["channel"]["id"])
            self._dms[(key.team_id, key.user_id)] = known
        return known

    def _take_turn(self, team_id: str, channel: str) -> None:
        """A message to ``channel``: wait for its bucket (a second at most), or for a 429's pause (raises)."""
        paused = self._paused.paused(team_id)
        if paused:
            raise _Wait(paused)
        now = self._mono()
        tokens, then = self._buckets.get(channel, (float(self._burst), now))
        tokens = min(float(self._burst), tokens + (now - then) * PER_SECOND)
        if tokens < 1.0:
            time.sleep((1.0 - tokens) / PER_SECOND)
            now, tokens = self._mono(), 1.0
        self._buckets[channel] = (tokens - 1.0, now)

    def _refused(self, item: PendingEvent, err: Exception) -> None:
        """Slack did not take it: wait for a 429's Retry-After; try again later what may pass; give up on the
        rest after a few tries."""
        team_id = item.event.team_id
        reason = err.response.get("error") if isinstance(err, SlackApiError) else str(err)
        wait = retry_after(err) if isinstance(err, SlackApiError) else None
        if wait is not None:
            self._paused.pause(team_id, wait)
            log.info("Slack asked to wait %.0f s before the conversations of %s", wait, team_id)
            self._feed.later(item.id, wait, "ratelimited", failed=False)
            self._soon(wait)
            return
        passing = isinstance(err, UploadFailed) or transient(err)
        attempts = item.attempts + 1
        if not passing and attempts >= GIVE_UP_AFTER:
            log.error(
                "conversation event %s of %s could not be shown (%s); giving up", item.id, team_id, reason
            )
            self._feed.give_up(item.id, str(reason))
            return
        delay = self._backoff(attempts)
        log.warning(
            "conversation event %s of %s refused (%s); again in %.0f s", item.id, team_id, reason, delay
        )
        self._feed.later(item.id, delay, str(reason))
        self._soon(delay)
