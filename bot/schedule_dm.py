"""Telling the author that a scheduled send did not go: when its time came a problem had appeared (a file now
refused, an ad gone, every recipient suppressed), nothing was sent, and it is a draft again (outreach/outbox.py).

The worker that moved it back to a draft calls :class:`ScheduleDM` once. The DM names the send and every problem
in the author's language, with **Open** on the draft. Through a client that does not sleep on a 429 and gives up
after ``SLACK_TIMEOUT``: a DM Slack refuses is logged, and the draft stays in the author's list of drafts (and in
the digest of unsent drafts).
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import ids
from bot.blocks.common import actions, button, section
from bot.blocks.drafts import draft_title
from bot.installs.clients import ClientFor, clients_for
from bot.problems import describe
from bot.slack_budget import no_wait_client
from bot.wiring import Services
from outreach.outbox import NotStarted

log = logging.getLogger(__name__)

SLACK_TIMEOUT = 10


class ScheduleDM:
    def __init__(self, services: Services, client: WebClient | ClientFor) -> None:
        self._services = services
        self._clients = clients_for(client)  # each workspace's own (bot/installs/clients.py)

    def __call__(self, stopped: NotStarted) -> None:
        draft = stopped.draft
        found = self._clients(draft.team_id)
        if found is None:  # not installed: nobody to tell in Slack
            return
        client = no_wait_client(found, timeout=SLACK_TIMEOUT)
        profile = self._services.profiles.get(client, draft.team_id, draft.author_id)
        t = profile.t
        problems = "\n".join(f"• {describe(p, t)}" for p in stopped.problems)
        text = t("schedule.not_started", title=draft_title(draft, t), problems=problems)
        blocks = [
            section(text),
            actions(
                button(t("drafts.open"), ids.ACTION_DRAFT_OPEN, str(draft.id), style="primary"),
                block_id=f"schedule_failed~{draft.id}",
            ),
        ]
        try:
            channel = client.conversations_open(users=draft.author_id)["channel"]["id"]
            client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except (SlackApiError, OSError) as err:
            log.warning("could not tell %s that draft %s was not sent: %s", draft.author_id, draft.id, err)
