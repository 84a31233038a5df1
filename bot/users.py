"""What we know of a Slack user: language, time zone, name and e-mail (users.info with include_locale).

Answers are kept, so that a busy list does not cost one users.info call per click and the digest does not cost
one per author per tick: :meth:`UserProfiles.get` asks Slack again when its answer is older than ``ttl_seconds``
(10 minutes), :meth:`UserProfiles.lookup` takes the age the caller accepts (the digest: a day — time zones
rarely change). Slack is never waited on: the lookup goes through a client that does not sleep on 429
(:func:`bot.slack_budget.no_wait_client`); a 429 pauses this workspace's lookups for its ``Retry-After`` and,
like any failure, is answered with the last profile known, however old. Who was never known is the default
profile for ``get`` (a click must be answered) and None for ``lookup`` (the caller tries again later rather
than guess a time zone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.i18n import Translator, choose_locale
from bot.slack_budget import WorkspaceGate, no_wait_client, retry_after, transient
from outreach.cache import StampedCache

log = logging.getLogger(__name__)

MAX_KEPT = 50_000  # profiles kept (oldest answers forgotten first)


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    locale: str = "en"
    tz: str = "UTC"
    real_name: str = ""
    email: str = ""
    is_admin: bool = False  # a workspace admin or owner (users.info is_admin / is_owner)

    @property
    def t(self) -> Translator:
        return Translator(self.locale, self.tz)


class UserProfiles:
    def __init__(self, ttl_seconds: float = 600.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._kept = StampedCache[tuple[str, str], Profile](
            ttl_seconds, max_entries=MAX_KEPT, monotonic=monotonic
        )
        self._gate = WorkspaceGate(per_minute=1_000_000, monotonic=monotonic)  # only its 429 pauses

    def get(self, client: WebClient, team_id: str, user_id: str) -> Profile:
        """The user's profile, fresh within ``ttl_seconds``; when Slack cannot answer now, the last one known,
        else the default (English, UTC) — at once."""
        return self.lookup(client, team_id, user_id) or Profile(user_id)

    def lookup(
        self, client: WebClient, team_id: str, user_id: str, *, max_age: float | None = None
    ) -> Profile | None:
        """The profile, asked of Slack when none known is younger than ``max_age`` seconds (default: the
        ttl); the last one known when Slack cannot answer; None when none was ever known and Slack could not
        say now (rate limited, or down): ask again later."""
        key = (team_id, user_id)
        now = self._kept.now()  # an answer is as old as the question
        fresh = self._kept.fresh(key, max_age)
        if fresh is not None:
            return fresh
        known = self._kept.last(key)
        if self._gate.paused(team_id):
            return known
        try:
            user = no_wait_client(client).users_info(user=user_id, include_locale=True)["user"]
        except SlackApiError as err:
            wait = retry_after(err)
            if wait is not None:
                self._gate.pause(team_id, wait)
            log.warning("users.info for %s failed: %s", user_id, err.response.get("error"))
            if known is not None or transient(err):
                return known
            # No such user, no scope: the default, for a while.
            return self._kept.put(key, Profile(user_id), at=now)
        except OSError as err:  # the connection (URLError is one)
            log.warning("users.info for %s failed: %s", user_id, err)
            return known
        profile = user.get("profile") or {}
        return self._kept.put(
            key,
            Profile(
                user_id=user_id,
                locale=choose_locale(user.get("locale")),
                tz=user.get("tz") or "UTC",
                real_name=profile.get("real_name") or user.get("real_name") or user.get("name") or "",
                email=profile.get("email") or "",
                is_admin=bool(user.get("is_admin") or user.get("is_owner")),
            ),
            at=now,
        )

    def known(self, team_id: str, user_id: str) -> Profile | None:
        """The last profile known, however old, without asking Slack (before a trigger's 3 seconds are up)."""
        return self._kept.last((team_id, user_id))
