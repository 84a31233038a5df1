"""How outreach went, on demand: ``/prospects stats [--days N]`` (the App Home's numbers as text: the user's own,
and the whole workspace's for its admins and owners), and **Download results** on a send's summary (a CSV file of
every recipient's result, uploaded into that DM's thread)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import ids
from bot.blocks.common import divider
from bot.blocks.stats import stats_blocks, stats_title
from bot.handlers.parsing import Command, stats_days
from bot.slack_upload import UploadFailed, upload_into_thread
from bot.users import UserProfiles
from outreach.errors import NotFound, ValidationFailed
from outreach.models import Attachment
from outreach.stats import DEFAULT_DAYS, MAX_DAYS, StatsService, results_csv

log = logging.getLogger(__name__)


class StatsHandlers:
    def __init__(self, profiles: UserProfiles, stats: StatsService, allowed: Callable[[str], bool]) -> None:
        """``allowed``: the upload URLs trusted with a file (bot/files.py's SlackFiles.allowed)."""
        self._profiles = profiles
        self._stats = stats
        self._allowed = allowed

    def command(self, parsed: Command, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        team_id, user_id = command["team_id"], command["user_id"]
        profile = self._profiles.get(client, team_id, user_id)
        t = profile.t
        try:
            days = stats_days(parsed.text, DEFAULT_DAYS)
        except ValidationFailed:
            respond(response_type="ephemeral", text=t("stats.bad_days", given=parsed.text, max=MAX_DAYS))
            return
        own = self._stats.report(team_id, user_id, days)
        blocks = stats_blocks(own, t, title=stats_title(own, t))
        if profile.is_admin:
            everyone = self._stats.report(team_id, None, days)
            blocks += [divider(), *stats_blocks(everyone, t, title=stats_title(everyone, t))]
        respond(response_type="ephemeral", text=stats_title(own, t), blocks=blocks)

    def download(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        """The summary is a message of the app's DM with its author (never ephemeral): its channel and thread come
        from the payload's ``container`` (SLACK.md §8.1: read nothing from ``message`` that is not needed)."""
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        thread_ts = (
            container.get("thread_ts")
            or (body.get("message") or {}).get("thread_ts")
            or container.get("message_ts")
        )
        value = str(action.get("value", ""))
        if not channel or not thread_ts or not value.isdigit():
            return
        profile = self._profiles.get(client, team_id, user_id)
        t = profile.t
        try:
            rows = list(self._stats.results(team_id, user_id, int(value), is_admin=profile.is_admin))
        except NotFound:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=t("stats.results_gone"))
            return
        data = results_csv(rows, describe=lambda d: t(d) if d.startswith("compose.skip.") else d)
        name = f"results-{value}.csv"
        file = Attachment(name, "text/csv", hashlib.sha256(data).hexdigest(), data)
        try:
            upload_into_thread(client, [file], channel, thread_ts, self._allowed)
        except (SlackApiError, UploadFailed) as exc:
            log.warning("results of draft %s not uploaded: %s", value, exc)
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=t("stats.results_failed"))


def register(app: App, handlers: StatsHandlers) -> None:
    app.action(ids.ACTION_DOWNLOAD_RESULTS)(handlers.download)
