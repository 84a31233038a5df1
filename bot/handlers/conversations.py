"""Replies written in a conversation's Slack thread (``message.im``) go back to the partner.

One trip: parse (:func:`bot.handlers.parsing.parse_dm_message`) → the conversation whose thread it is
(:meth:`outreach.conversation_reply.ReplyService.find`) → may the writer send (:class:`bot.permissions.SenderPolicy`;
refused in the thread, saying why) → the files fetched from Slack (:mod:`bot.files`) and checked with the text
(:meth:`~outreach.conversation_reply.ReplyService.check`; refused in the thread naming each problem, nothing sent) →
"sending" posted in the thread → planned (:meth:`~outreach.conversation_reply.ReplyService.send`), that message
then showing the send's progress and result (bot/progress_dm.py updates it). Bolt acknowledges an Events API
event before its listener runs (slack_bolt/listener/thread_runner.py: "acknowledge immediately in case of Events
API"), so the downloads and scans here never hold Slack's 3 seconds.

Never sent: the app's own messages and every subtype but a person's message (edits, deletions, joins,
``bot_message`` …); a message outside a conversation's thread — it gets a short hint, at most one per user every
:data:`HINT_EVERY` seconds. The same message delivered twice (Slack's retry under a new event id, or two
processes) is sent once: the Slack message is the reply's unique key.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.conversations import (
    build_hint,
    build_reply_not_allowed,
    build_reply_refused,
    build_reply_sending,
)
from bot.files import DownloadFailed, SlackFiles
from bot.handlers.parsing import DmMessage, parse_dm_message
from bot.permissions import SenderPolicy
from bot.users import UserProfiles
from outreach.cache import StampedCache
from outreach.conversation_reply import AlreadySent, Refused, ReplyService

log = logging.getLogger(__name__)

HINT_EVERY = 600.0


class ConversationHandlers:
    def __init__(
        self,
        profiles: UserProfiles,
        replies: ReplyService,
        senders: SenderPolicy,
        files: SlackFiles,
        *,
        hint_every: float = HINT_EVERY,
    ) -> None:
        self._profiles = profiles
        self._replies = replies
        self._senders = senders
        self._files = files
        self._hinted = StampedCache[tuple[str, str], bool](hint_every, max_entries=10_000)

    def message(
        self, body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        message = parse_dm_message(body, event)
        if message is None or message.user == context.bot_user_id:
            return
        key = (
            self._replies.find(message.team_id, message.channel, message.thread_ts)
            if message.in_thread
            else None
        )
        if key is None:
            self._hint(client, message)
            return
        if self._replies.handled(message.team_id, message.channel, message.ts):
            return
        profile = self._profiles.get(client, message.team_id, message.user)
        t = profile.t
        if not self._senders.may_send(client, message.team_id, message.user):
            self._say(client, message, *build_reply_not_allowed(t))
            return
        fetched, not_fetched = self._fetch(client, message, context.bot_token or client.token or "")
        checked = self._replies.check(
            key, message.text, fetched, sender_name=profile.real_name, sender_email=profile.email
        )
        if isinstance(checked, Refused) or not_fetched:
            name = checked.partner_name if isinstance(checked, Refused) else checked.route.partner_name
            problems = checked.problems if isinstance(checked, Refused) else ()
            self._say(client, message, *build_reply_refused(name, problems, not_fetched, t))
            return
        text, blocks = build_reply_sending(checked.route.partner_name, checked.route.channel, t)
        status = self._say(client, message, text, blocks)
        outcome = self._replies.send(checked, message.user, (message.channel, message.ts), status=status)
        if isinstance(outcome, AlreadySent):
            client.chat_delete(channel=status[0], ts=status[1])  # the other delivery's status is the one
        elif isinstance(outcome, Refused):
            refused_text, refused_blocks = build_reply_refused(outcome.partner_name, outcome.problems, (), t)
            client.chat_update(channel=status[0], ts=status[1], text=refused_text, blocks=refused_blocks)

    def _fetch(
        self, client: WebClient, message: DmMessage, token: str
    ) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
        """The message's files from Slack: (name, bytes) fetched, and (name, catalog key) of those that were not."""
        fetched: list[tuple[str, bytes]] = []
        not_fetched: list[tuple[str, str]] = []
        for file in message.files:
            try:
                got = self._files.download(self._full(client, file), token)
                fetched.append((got.name, got.data))
            except DownloadFailed as err:
                log.info("download of %s failed: %s", err.name, err.detail)
                not_fetched.append((err.name, err.reason))
        return fetched, not_fetched

    @staticmethod
    def _full(client: WebClient, file: dict[str, Any]) -> dict[str, Any]:
        """The file object with its URLs: an event may carry only a file's id (``file_access: check_file_info``,
        https://api.slack.com/events/message/file_share), which files.info completes."""
        if file.get("url_private_download") or file.get("url_private") or not file.get("id"):
            return file
        try:
            found = client.files_info(file=str(file["id"]))["file"]
        except SlackApiError as err:
            log.info("files.info of %s failed: %s", file.get("id"), err.response.get("error"))
            return file
        return dict(found) if isinstance(found, dict) else file

    def _hint(self, client: WebClient, message: DmMessage) -> None:
        """How to answer a partner, under a message that goes nowhere (once a while per user)."""
        key = (message.team_id, message.user)
        if self._hinted.fresh(key) is not None:
            return
        self._hinted.put(key, True)
        t = self._profiles.get(client, message.team_id, message.user).t
        self._say(client, message, *build_hint(t))

    @staticmethod
    def _say(
        client: WebClient, message: DmMessage, text: str, blocks: list[dict[str, Any]]
    ) -> tuple[str, str]:
        """Post in the message's thread (or start one under it); where the post is."""
        thread = message.thread_ts or message.ts
        posted = client.chat_postMessage(channel=message.channel, thread_ts=thread, text=text, blocks=blocks)
        return str(posted.get("channel") or message.channel), str(posted["ts"])


def register(app: App, handlers: ConversationHandlers) -> None:
    app.event("message")(handlers.message)
