"""Events API payloads as Slack sends them: a user's message in their DM with the app (``message.im``).

The shapes are those of payloads captured from Slack in bolt-python's tests (slackapi/bolt-python @ a2f21ae4):
``tests/scenario_tests/test_message_file_share.py`` (a message with a file: ``subtype: "file_share"``, ``files``
with ``url_private``/``url_private_download``, ``upload``, ``display_as_bot``, ``client_msg_id``, a ``rich_text``
block) and ``tests/scenario_tests/test_events_assistant.py`` (a reply in a DM thread: ``channel_type: "im"``,
``thread_ts``, ``parent_user_id``; an edit: ``subtype: "message_changed"`` with ``message`` and
``previous_message``, no ``user`` at the top). The text is escaped as Slack escapes it: ``&``, ``<`` and ``>``
become ``&amp;``, ``&lt;`` and ``&gt;`` (https://api.slack.com/reference/surfaces/formatting#escaping); links and
mentions a user typed arrive as Slack's own markup (``<https://example.com>``, ``<@U0001>``), which a test writes
as such with ``markup=True``.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any

BOT_USER = "UBOT"
_EVENTS = itertools.count(1)


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def callback(team_id: str, event: dict[str, Any], event_id: str = "") -> dict[str, Any]:
    """The ``event_callback`` envelope around ``event``."""
    return {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_EVENTS):08d}{uuid.uuid4().hex[:6].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-message-{team_id}-{event.get('channel', '')}",
    }


def im_message(
    team_id: str,
    user: str,
    channel: str,
    ts: str,
    text: str,
    *,
    thread_ts: str = "",
    files: list[dict[str, Any]] | None = None,
    markup: bool = False,
) -> dict[str, Any]:
    """A user's message in their DM with the app (in the thread ``thread_ts``), with Slack's file objects."""
    shown = text if markup else escape_text(text)
    event: dict[str, Any] = {
        "type": "message",
        "text": shown,
        "user": user,
        "ts": ts,
        "team": team_id,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": uuid.uuid4().hex[:4],
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
        "client_msg_id": str(uuid.uuid4()),
        "channel": channel,
        "event_ts": ts,
        "channel_type": "im",
    }
    if thread_ts:
        event.update(thread_ts=thread_ts, parent_user_id=BOT_USER)
    if files:
        event.update(files=files, upload=False, display_as_bot=False, subtype="file_share")
    return event


def im_message_changed(user: str, channel: str, ts: str, text: str, *, thread_ts: str = "") -> dict[str, Any]:
    """The user edited their message ``ts``: Slack sends ``message_changed`` (no ``user`` at the top)."""
    edited = {"type": "message", "user": user, "text": escape_text(text), "ts": ts, "edited": {"user": user}}
    if thread_ts:
        edited["thread_ts"] = thread_ts
    now = f"{time.time():.6f}"
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": edited,
        "previous_message": {**edited, "text": "(before)"},
        "channel": channel,
        "hidden": True,
        "ts": now,
        "event_ts": now,
        "channel_type": "im",
    }


def im_bot_message(channel: str, ts: str, text: str, thread_ts: str = "") -> dict[str, Any]:
    """A message the app itself posted in the DM (Slack sends it back as ``message.im``, with ``bot_id``)."""
    event: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER,
        "bot_id": "BBOT",
        "app_id": "A0001",
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": "im",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def body(payload: dict[str, Any]) -> str:
    return json.dumps(payload)
