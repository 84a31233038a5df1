"""Conversation events told to their author in a DM, a line each — the Slack side of
:class:`outreach.ports.ConversationEvents` until each partner conversation has a Slack thread of its own (issue 12,
points 1–2, whose publisher replaces this one).

* ``publish`` only queues the event and returns: the delivery worker that publishes is never held up by Slack.
* A thread of its own posts them: the lines of one author are gathered into one message, at most one message per
  author every ``flush_seconds`` (``chat.postMessage`` allows about one a second per channel, SLACK.md §5.1),
  at most ``MAX_LINES`` lines shown and the rest counted. Its client never sleeps on a 429: the author's lines
  wait for ``Retry-After`` and go in the next message.
* An event without an author (nobody known to tell) is dropped; so is a message Slack refuses for good (logged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks.common import escape
from bot.i18n import Translator
from bot.slack_budget import no_wait_client, retry_after, transient
from bot.wiring import Services
from outreach.models import ConversationEvent, EventKind

log = logging.getLogger(__name__)

MAX_LINES = 20
MAX_QUEUED = 10_000  # events waiting per author; more are counted, not kept
SLACK_TIMEOUT = 10


class ConversationDM:
    def __init__(
        self,
        services: Services,
        client: WebClient,
        *,
        flush_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._services = services
        self._client = no_wait_client(client, timeout=SLACK_TIMEOUT)
        self._flush = flush_seconds
        self._mono = monotonic
        self._cond = threading.Condition()
        self._pending: dict[tuple[str, str], list[ConversationEvent]] = {}
        self._dropped: dict[tuple[str, str], int] = {}
        self._next: dict[tuple[str, str], float] = {}  # when each author may get the next message
        self._users = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- the port: called on the workers' threads, returns at once ---------------------------------------------
    def publish(self, event: ConversationEvent) -> None:
        if not event.author_id:
            return
        key = (event.team_id, event.author_id)
        with self._cond:
            queued = self._pending.setdefault(key, [])
            if len(queued) < MAX_QUEUED:
                queued.append(event)
            else:
                self._dropped[key] = self._dropped.get(key, 0) + 1
            self._cond.notify()

    # -- lifecycle (each start needs a stop; the thread runs while any start is not stopped) ------------------------
    def start(self) -> ConversationDM:
        with self._cond:
            self._users += 1
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="conversation-dm", daemon=True)
                self._thread.start()
        return self

    def stop(self, flush_seconds: float = 5.0) -> None:
        with self._cond:
            self._users = max(0, self._users - 1)
            thread = self._thread
            if self._users or thread is None:
                return
            self._stopping = True
            self._cond.notify_all()
        thread.join(timeout=flush_seconds + 2 * SLACK_TIMEOUT)
        with self._cond:
            self._thread = None

    def __enter__(self) -> ConversationDM:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the publisher ----------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                due, wake = self._due()
                if not due:
                    if self._stopping and not self._pending:
                        return
                    self._cond.wait(timeout=0.2 if self._stopping else min(wake, 1.0))
                    continue
            for key, events, dropped in due:
                try:
                    self._post(key, events, dropped)
                except Exception:  # the publisher outlives one bad batch
                    log.exception("conversation events for %s could not be shown", key)

    def _due(self) -> tuple[list[tuple[tuple[str, str], list[ConversationEvent], int]], float]:
        now, due, wake = self._mono(), [], self._flush
        for key in list(self._pending):
            ready = self._next.get(key, 0.0)
            if ready <= now or self._stopping:
                due.append((key, self._pending.pop(key), self._dropped.pop(key, 0)))
                self._next[key] = now + self._flush
            else:
                wake = min(wake, ready - now)
        return due, wake

    def _post(self, key: tuple[str, str], events: list[ConversationEvent], dropped: int) -> None:
        team_id, author_id = key
        profile = self._services.profiles.lookup(self._client, team_id, author_id)
        t = profile.t if profile is not None else Translator()
        names = self._names(team_id, {e.mpid for e in events[:MAX_LINES]})
        lines = [line(e, names.get(e.mpid, e.mpid), t) for e in events[:MAX_LINES]]
        more = len(events) - len(lines) + dropped
        if more:
            lines.append(t("compose.and_more", count=t.number(more)))
        text = "\n".join(lines)
        try:
            channel = self._client.conversations_open(users=author_id)["channel"]["id"]
            self._client.chat_postMessage(channel=channel, text=text)
        except SlackApiError as err:
            wait = retry_after(err)
            if wait is not None or transient(err):
                with self._cond:  # back in front of what came since, for the next message
                    self._pending[key] = events + self._pending.get(key, [])
                    self._next[key] = self._mono() + (wait or self._flush)
                return
            log.warning("conversation DM to %s refused: %s", author_id, err.response.get("error"))

    def _names(self, team_id: str, mpids: set[str]) -> dict[str, str]:
        try:
            with self._services.uow() as uow:
                partners = uow.partners.get_many(team_id, mpids)
        except SQLAlchemyError:
            return {}
        return {m: f"{p.contact_name or p.name} ({m})" for m, p in partners.items()}


def line(event: ConversationEvent, who: str, t: Translator) -> str:
    """One event, as a line of its author's DM."""
    name = escape(who)
    if event.kind is EventKind.FOLLOWUP_SENT:
        return t("conversation.followup_sent", who=name)
    if event.kind is EventKind.FOLLOWUP_SKIPPED:
        reason = t(event.detail) if event.detail.startswith("compose.skip.") else escape(event.detail)
        return t("conversation.followup_skipped", who=name, reason=reason)
    return t("conversation.event", who=name, kind=event.kind.value, text=escape(event.text[:300]))
