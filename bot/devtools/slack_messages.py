"""Messages as the people in a channel see them, and response URLs, for the stand-in (bot/devtools/slack_standin.py).

* Ephemeral messages exist for one user, and change only through a ``response_url`` (``chat.update`` on one answers
  ``message_not_found``): https://api.slack.com/messaging/modifying-messages.
* A ``response_url`` takes at most 5 messages within 30 minutes of the interaction (SLACK.md §2.3, secondary
  sources: the stricter reading); ``replace_original``/``delete_original`` act on the message the interaction came
  from, and a slash command has none (no source says what Slack does then: refused, the stricter reading). Without
  them a new message is posted, ephemeral unless ``response_type`` is ``in_channel``
  (https://api.slack.com/interactivity/handling#message_responses).
* Every message is checked as Slack checks it (bot/devtools/slack_payloads.py): ``invalid_blocks``,
  ``msg_too_long``.
* ``thread_ts`` makes a message a reply in a thread: it must be the ts of a message of that channel that is not
  itself a reply ("Provide another message's ts value to make this message a reply. Avoid using a reply's ts
  value; use its parent instead": https://docs.slack.dev/reference/methods/chat.postMessage). Slack documents no
  error for a ts that is no message of the channel; the stricter reading is a refusal, ``thread_not_found``; a
  reply's ts is refused with ``cannot_reply_to_message`` ("This message type cannot have thread replies", the
  same page's errors).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.devtools.slack_images import image_problems
from bot.devtools.slack_payloads import message_problems

RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60
BOT_USER, BOT_ID, APP_ID = "UBOT", "BBOT", "A0001"

Answer = dict[str, Any]


@dataclass
class Message:
    """A message as the people in its channel see it (an ephemeral one: only ``user``)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    ephemeral: bool = False
    user: str = ""  # who sees an ephemeral message
    version: int = 1
    thread_ts: str = ""  # the parent's ts, for a reply in a thread
    author: str = BOT_USER  # who posted it: the bot, or a user writing in the channel
    files: tuple[str, ...] = ()  # ids of the files shared in it

    def snapshot(self) -> dict[str, Any]:
        """What a test reads: the message as shown, with where it is."""
        shown = {
            "channel": self.channel,
            "ts": self.ts,
            "is_ephemeral": self.ephemeral,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "files": list(self.files),
        }
        return shown

    def payload(self, team_id: str) -> dict[str, Any]:
        """The ``message`` object Slack puts in an interaction from a (non-ephemeral) message."""
        message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": team_id,
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
        }
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        return message


@dataclass
class ResponseUrl:
    channel: str
    user: str
    source: tuple[str, str] | None  # (channel, ts) of the message the interaction came from
    issued: float
    uses: int = 0


class SlackMessages:
    """The messages of one workspace; ``lock`` and ``ids`` are the stand-in's, ``refused`` its list of refusals."""

    def __init__(
        self,
        team_id: str,
        lock: threading.RLock,
        ids: itertools.count[int],
        refused: list[tuple[str, list[str]]],
        known_user: Callable[[str], bool],
    ) -> None:
        self.team_id = team_id  # the workspace of the call being served (the stand-in sets it per call)
        self._lock = lock
        self._ids = ids
        self._refused = refused
        self._known_user = known_user
        self.messages: dict[tuple[str, str], Message] = {}  # (channel, ts) -> message, ephemeral ones too
        self.writes: list[tuple[str, str]] = []  # (channel, ts) of every message posted, replaced or deleted
        self.responses: list[tuple[str, dict[str, Any]]] = []  # posts to response URLs
        self._response_urls: dict[str, ResponseUrl] = {}

    def new_response_url(
        self, base_url: str, channel: str, user: str, source: tuple[str, str] | None = None
    ) -> str:
        rid = f"{next(self._ids)}{secrets.token_hex(6)}"
        with self._lock:
            self._response_urls[rid] = ResponseUrl(channel, user, source, time.monotonic())
        return f"{base_url}/response/{rid}"

    def message(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            return self.messages.get((channel, ts))

    def respond(self, rid: str, raw: bytes) -> tuple[int, str]:
        """A post to the response URL ``rid``: (HTTP status, body) as Slack answers it."""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, "invalid_payload"
        with self._lock:
            self.responses.append((f"/response/{rid}", body))
            url = self._response_urls.get(rid)
            if url is None:
                return 404, "no_such_url"
            if url.uses >= RESPONSE_URL_USES or time.monotonic() - url.issued > RESPONSE_URL_SECONDS:
                return 404, "expired_url"
            url.uses += 1
            if body.get("delete_original"):
                if url.source is None or self.messages.pop(url.source, None) is None:
                    return 404, "message_not_found"
                self.writes.append(url.source)
                return 200, "ok"
            problems = message_problems(str(body.get("text", "")), body.get("blocks"))
            if problems:
                self._refused.append((f"response_url {rid}", problems))
                return 400, "invalid_blocks"
            text, blocks = str(body.get("text", "")), list(body.get("blocks") or [])
            if body.get("replace_original"):
                original = self.messages.get(url.source) if url.source else None
                if original is None:
                    return 404, "message_not_found"
                original.text, original.blocks, original.version = text, blocks, original.version + 1
                self.writes.append((original.channel, original.ts))
                return 200, "ok"
            ephemeral = body.get("response_type", "ephemeral") != "in_channel"
            ts = self._ts()
            self.messages[(url.channel, ts)] = Message(
                url.channel, ts, text, blocks, ephemeral=ephemeral, user=url.user if ephemeral else ""
            )
            self.writes.append((url.channel, ts))
            return 200, "ok"

    # -- the Web API (called holding the stand-in's lock) ------------------------------------------
    def post_message(self, args: dict[str, Any], token: str) -> Answer:
        channel = str(args.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        thread_ts = str(args.get("thread_ts") or "")
        wrong_thread = self.thread_problem(channel, thread_ts)
        if wrong_thread:
            return {"ok": False, "error": wrong_thread}
        text, blocks, refused = self._checked(args)
        if refused:
            return refused
        ts = self._ts()
        message = Message(channel, ts, text, blocks, thread_ts=thread_ts)
        self.messages[(channel, ts)] = message
        self.writes.append((channel, ts))
        return {"ok": True, "channel": channel, "ts": ts, "message": message.payload(self.team_id)}

    def thread_problem(self, channel: str, thread_ts: str) -> str:
        """Why a reply in the thread ``thread_ts`` of ``channel`` is refused ("" when it is not, or no thread)."""
        if not thread_ts:
            return ""
        parent = self.messages.get((channel, thread_ts))
        if parent is None or parent.ephemeral:
            return "thread_not_found"
        return "cannot_reply_to_message" if parent.thread_ts and parent.thread_ts != parent.ts else ""

    def add(self, message: Message) -> Message:
        """A message that appears in its channel (a user's, or a file shared): kept as the people there see it."""
        self.messages[(message.channel, message.ts)] = message
        self.writes.append((message.channel, message.ts))
        return message

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """The replies in a thread, oldest first (its parent not included)."""
        with self._lock:
            found = [m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts]
        return sorted((m for m in found if m.ts != thread_ts), key=lambda m: m.ts)

    def new_ts(self) -> str:
        return self._ts()

    def post_ephemeral(self, args: dict[str, Any], token: str) -> Answer:
        channel, user = str(args.get("channel", "")), str(args.get("user", ""))
        if not self._known_user(user):
            return {"ok": False, "error": "user_not_found"}
        text, blocks, refused = self._checked(args)
        if refused:
            return refused
        ts = self._ts()
        self.messages[(channel, ts)] = Message(channel, ts, text, blocks, ephemeral=True, user=user)
        self.writes.append((channel, ts))
        return {"ok": True, "message_ts": ts}

    def update(self, args: dict[str, Any], token: str) -> Answer:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        message = self.messages.get((channel, ts))
        if message is None or message.ephemeral:  # ephemeral messages change only through a response_url
            return {"ok": False, "error": "message_not_found"}
        if message.author != BOT_USER:  # https://docs.slack.dev/reference/methods/chat.update (errors)
            return {"ok": False, "error": "cant_update_message"}  # a bot updates only its own messages
        text, blocks, refused = self._checked(args, update=True)
        if refused:
            return refused
        message.text, message.blocks, message.version = text, blocks, message.version + 1
        self.writes.append((channel, ts))
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": text,
            "message": message.payload(self.team_id),
        }

    def delete(self, args: dict[str, Any], token: str) -> Answer:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        found = self.messages.get((channel, ts))
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        if found.author != BOT_USER:  # https://docs.slack.dev/reference/methods/chat.delete (errors)
            return {"ok": False, "error": "cant_delete_message"}
        del self.messages[(channel, ts)]
        self.writes.append((channel, ts))
        return {"ok": True, "channel": channel, "ts": ts}

    def open_dm(self, args: dict[str, Any], token: str) -> Answer:
        first = str(args.get("users", "")).split(",", maxsplit=1)[0]
        if not self._known_user(first):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + first.lstrip("U")}}

    def _checked(self, args: dict[str, Any], *, update: bool = False) -> tuple[str, list[Any], Answer | None]:
        text, blocks = str(args.get("text", "")), args.get("blocks") or []
        problems = message_problems(text, blocks, update=update) or image_problems(blocks)
        if problems:
            self._refused.append(("chat", problems))
            error = "msg_too_long" if problems[0].startswith("msg_too_long") else "invalid_blocks"
            return text, [], {"ok": False, "error": error, "errors": problems}
        return text, list(blocks), None

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"
