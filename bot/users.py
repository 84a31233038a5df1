"""What we know of a Slack user: language, time zone, name and e-mail (users.info with include_locale).

Answers are cached for a while so that a busy list does not cost one users.info call per click.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.i18n import Translator, choose_locale

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    locale: str = "en"
    tz: str = "UTC"
    real_name: str = ""
    email: str = ""

    @property
    def t(self) -> Translator:
        return Translator(self.locale, self.tz)


class UserProfiles:
    def __init__(self, ttl_seconds: float = 600.0) -> None:
        self._ttl = ttl_seconds
        self._cache: dict[tuple[str, str], tuple[float, Profile]] = {}
        self._lock = threading.Lock()

    def get(self, client: WebClient, team_id: str, user_id: str) -> Profile:
        key = (team_id, user_id)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        try:
            user = client.users_info(user=user_id, include_locale=True)["user"]
        except SlackApiError as err:
            log.warning("users.info for %s failed: %s", user_id, err.response.get("error"))
            return Profile(user_id)
        profile = user.get("profile") or {}
        found = Profile(
            user_id=user_id,
            locale=choose_locale(user.get("locale")),
            tz=user.get("tz") or "UTC",
            real_name=profile.get("real_name") or user.get("real_name") or user.get("name") or "",
            email=profile.get("email") or "",
        )
        with self._lock:
            self._cache[key] = (now, found)
        return found

    def known(self, team_id: str, user_id: str) -> Profile | None:
        """The last profile known, however old, without asking Slack (before a trigger's 3 seconds are up)."""
        with self._lock:
            hit = self._cache.get((team_id, user_id))
        return hit[1] if hit is not None else None
