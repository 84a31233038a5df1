"""The digest of unsent drafts, DMed at DIGEST_CRON (default weekdays 09:00) in each user's own time zone.

One APScheduler job ticks every ``TICK`` minutes (UTC). On each tick, for every author with drafts unsent for
longer than DIGEST_MIN_AGE, :meth:`DigestJob.tick` asks the cron — built in the author's Slack time zone —
whether it fired within the last tick; if so the author's local day is claimed and the DM posted. Every real
UTC offset is a multiple of 15 minutes, so a 15-minute tick reaches 09:00 in every zone. The claim (unique
per workspace, user and local day) means nobody gets two digests a day, however many processes run
schedulers. :meth:`DigestJob.run` (``prospects-bot digest --now``) sends to every due author at once,
whatever the hour, through the same claim.

An author's time zone comes from their Slack profile, kept for a day (``PROFILE_MAX_AGE``: zones rarely change),
so a tick does not call users.info once per author. When Slack cannot answer (a 429, an error) the last profile
known is used; an author whose zone was never known is left for a later tick rather than DMed at a guessed hour.

A workspace's own digest time (``HH:MM``, its settings) replaces the cron's minute and hour for its authors; the
cron's days stay (:func:`cron_at`).

Note: APScheduler 3.x reads a numeric day-of-week in a crontab as 0 = Monday; write names (``mon-fri``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.digest import build_digest
from bot.installs.clients import ClientFor, clients_for
from bot.users import Profile, UserProfiles
from outreach.digest import DigestFor, DigestService
from outreach.ports import Clock

log = logging.getLogger(__name__)

TICK = timedelta(minutes=15)
PROFILE_MAX_AGE = timedelta(days=1)
JOB_ID = "digest"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def cron_at(cron: str, at: str) -> str:
    """``cron`` at the time of day ``at`` (``HH:MM``; empty: ``cron`` as it is), on the cron's own days."""
    if not at:
        return cron
    hour, minute = at.split(":")
    return " ".join([str(int(minute)), str(int(hour)), *cron.split()[2:]])


def fires_within(cron: str, tz: ZoneInfo, start: datetime, end: datetime) -> bool:
    """Whether ``cron`` (crontab syntax, read in ``tz``) has a fire time in ``(start, end]``."""
    trigger = CronTrigger.from_crontab(cron, timezone=tz)
    fire = trigger.get_next_fire_time(None, start + timedelta(microseconds=1))
    return fire is not None and fire <= end


class DigestJob:
    """Runs the digest (:class:`outreach.digest.DigestService`: who is due, claiming their day) at each author's
    cron time; DMs them with their workspace's client (``client``: every workspace's, or each one's — a
    workspace without one, uninstalled, is skipped), their zone and language read through ``profiles``."""

    def __init__(
        self,
        digest: DigestService,
        clock: Clock,
        client: WebClient | ClientFor,
        profiles: UserProfiles,
        *,
        cron: str,
        time_for: Callable[[str], str] | None = None,
    ) -> None:
        """``time_for(team)``: the workspace's own digest time (``HH:MM``; empty: the cron's)."""
        self._digest = digest
        self._time_for = time_for or (lambda _team: "")
        self._clock = clock
        self._clients = clients_for(client)
        self._profiles = profiles
        self.cron = cron
        CronTrigger.from_crontab(self.cron)  # a malformed DIGEST_CRON fails here, at start-up

    def run(self, now: datetime | None = None) -> int:
        """DM every due author now, whatever the hour (once per local day); returns how many were sent."""
        return self._send(now or self._clock.now(), only_at_cron_time=False)

    def tick(self, now: datetime | None = None) -> int:
        """DM the due authors for whom the cron fired, in their own zone, within the last tick."""
        return self._send(now or self._clock.now(), only_at_cron_time=True)

    def schedule(self, scheduler: BaseScheduler) -> Job:
        """Add the ticking job to an APScheduler 3.x scheduler (started by the caller)."""
        minutes = int(TICK.total_seconds() // 60)
        return scheduler.add_job(
            self.tick,
            CronTrigger(minute=f"*/{minutes}", timezone="UTC"),
            id=JOB_ID,
            name="digest of unsent drafts",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(TICK.total_seconds()),
        )

    # -- one pass --------------------------------------------------------------------------------------------
    def _send(self, now: datetime, *, only_at_cron_time: bool) -> int:
        sent = 0
        clients: dict[str, WebClient | None] = {}  # once per workspace and pass
        for digest in self._digest.due(now):
            if digest.team_id not in clients:
                clients[digest.team_id] = self._clients(digest.team_id)
            client = clients[digest.team_id]
            if client is None:  # not installed (uninstalled): no DM
                continue
            profile = self._profiles.lookup(
                client, digest.team_id, digest.user_id, max_age=PROFILE_MAX_AGE.total_seconds()
            )
            if profile is None:  # never known and Slack cannot say now: a later tick asks again
                continue
            tz = zone(profile.tz)
            cron = cron_at(self.cron, self._time_for(digest.team_id))
            if only_at_cron_time and not fires_within(cron, tz, now - TICK, now):
                continue
            day = now.astimezone(tz).date()
            if not self._digest.claim(digest.team_id, digest.user_id, day):
                continue
            if self._post(client, digest, day, profile):
                sent += 1
        return sent

    def _post(self, client: WebClient, digest: DigestFor, day: date, profile: Profile) -> bool:
        t = profile.t
        try:
            channel = client.conversations_open(users=digest.user_id)["channel"]["id"]
            client.chat_postMessage(
                channel=channel, text=t("digest.notice", count=digest.count), blocks=build_digest(digest, t)
            )
        except SlackApiError as err:
            # Give the day back so that a later tick (or another process) may try again.
            self._digest.release(digest.team_id, digest.user_id, day)
            log.warning("digest DM to %s failed: %s", digest.user_id, err.response.get("error"))
            return False
        return True
