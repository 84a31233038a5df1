"""Users' own mailboxes read on a schedule, and the DM that tells a user their mailbox refused the login.

:class:`MailPollJob` adds one APScheduler interval job (every IMAP_POLL_SECONDS, one run at a time, missed runs
coalesced) to the scheduler of ``run``, ``serve`` and ``worker``; each run polls every readable mailbox
(:class:`outreach.mailbox_polling.MailboxPoller`). Several processes may run it: a mailbox is polled by the
one that holds it (a database lease).

:class:`MailboxAlertDM` is the poller's :class:`outreach.ports.MailboxAlerts`: the user is DMed once, in their
language, when their mailbox refused the login (the poller decides "once": the process that marks it refused
tells). Without Slack (a ``worker`` process with no bot token) :class:`LoggedAlerts` only logs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.common import escape
from bot.installs.clients import ClientFor, clients_for
from bot.users import UserProfiles
from outreach.mailbox_polling import MailboxPoller, PollResult

log = logging.getLogger(__name__)

JOB_ID = "mail-poll"


class MailPollJob:
    def __init__(self, poller: MailboxPoller, seconds: float) -> None:
        self._poller = poller
        self.seconds = seconds

    def run(self) -> list[PollResult]:
        results = self._poller.poll_all()
        for r in results:
            if r.replies or r.bounces or r.refused or r.trouble:
                log.info(
                    "mailbox %s/%s: %d read, %d fetched, %d replies, %d bounces%s",
                    r.team_id,
                    r.user_id,
                    r.looked_at,
                    r.fetched,
                    r.replies,
                    r.bounces,
                    " (login refused)" if r.refused else (f" ({r.trouble})" if r.trouble else ""),
                )
        return results

    def schedule(self, scheduler: BaseScheduler) -> Job | None:
        """The job, first run at once (IMAP_POLL_SECONDS=0: none)."""
        if self.seconds <= 0:
            return None
        return scheduler.add_job(
            self.run,
            IntervalTrigger(seconds=self.seconds, timezone=UTC),
            id=JOB_ID,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )


class MailboxAlertDM:
    def __init__(self, client: WebClient | ClientFor, profiles: UserProfiles) -> None:
        self._clients = clients_for(client)  # each workspace's own (bot/installs/clients.py)
        self._profiles = profiles

    def login_refused(self, team_id: str, user_id: str, mailbox: str) -> None:
        client = self._clients(team_id)
        if client is None:  # not installed: nobody to tell in Slack
            log.warning(
                "mailbox %s of %s/%s refused the login (workspace not installed)", mailbox, team_id, user_id
            )
            return
        t = self._profiles.get(client, team_id, user_id).t
        try:
            channel = client.conversations_open(users=user_id)["channel"]["id"]
            client.chat_postMessage(channel=channel, text=t("mailbox.refused", mailbox=escape(mailbox)))
        except SlackApiError as err:
            log.warning("the DM about %s's refused mailbox failed: %s", user_id, err.response.get("error"))


class LoggedAlerts:
    def login_refused(self, team_id: str, user_id: str, mailbox: str) -> None:
        log.warning(
            "mailbox %s of %s/%s refused the login (no Slack to tell them)", mailbox, team_id, user_id
        )
