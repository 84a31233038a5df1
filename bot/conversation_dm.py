"""TEMPORARY: conversation events as one DM line each, until the Slack threads of issue 12 (points 1–2) are merged.

That work implements :class:`outreach.ports.ConversationEvents` for real (one Slack thread per conversation, the
partner's clean files uploaded into it); this module only keeps the app working end to end on the branch of
point 3 (e-mail replies and bounces) and is meant to be deleted by that merge, with its ``conversation.*``
catalog texts. It DMs the event's author one line — who, what (the reply's words, the bounce's status), which
files were kept and held — from a thread of its own, so ``publish`` returns at once. Slack's refusals are
logged, not retried: the event is stored anyway (the thread, the delivery).
"""

from __future__ import annotations

import logging
import queue
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.common import clip, escape
from bot.i18n import Translator
from bot.users import UserProfiles
from outreach.models import ConversationEvent, EventKind

log = logging.getLogger(__name__)

MAX_TEXT = 500


class ConversationDM:
    """``publish(event)`` queues it; once :meth:`bind` gave it a client, a thread DMs each to its author."""

    def __init__(self, profiles: UserProfiles) -> None:
        self._profiles = profiles
        self._queue: queue.Queue[ConversationEvent | None] = queue.Queue()
        self._client: WebClient | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def bind(self, client: WebClient) -> None:
        with self._lock:
            self._client = client
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="conversation-dm", daemon=True)
                self._thread.start()

    def publish(self, event: ConversationEvent) -> None:
        if not event.author_id:
            log.warning("%s from %s in %s: nobody to tell", event.kind, event.mpid, event.team_id)
            return
        self._queue.put(event)

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            client = self._client
            assert client is not None
            t = self._profiles.get(client, event.team_id, event.author_id).t
            try:
                channel = client.conversations_open(users=event.author_id)["channel"]["id"]
                client.chat_postMessage(channel=channel, text=line(event, t))
            except SlackApiError as err:
                log.warning("%s DM to %s failed: %s", event.kind, event.author_id, err.response.get("error"))


def line(event: ConversationEvent, t: Translator) -> str:
    """The one line an event is told in."""
    who = escape(event.mpid)
    if event.kind is EventKind.BOUNCE:
        key = "conversation.bounce_hard" if event.detail.startswith("5") else "conversation.bounce_soft"
        return t(key, mpid=who, detail=escape(clip(event.detail, MAX_TEXT)))
    text = t("conversation.reply", mpid=who, text=escape(clip(" ".join(event.text.split()), MAX_TEXT)))
    if event.files:
        text += " · " + t("conversation.files", kept=", ".join(escape(f.filename) for f in event.files))
    if event.held:
        held = "; ".join(escape(why or name) for name, why in event.held)  # the reason names its file
        text += " · " + t("conversation.held", held=held)
    return text
