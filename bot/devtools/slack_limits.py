"""Slack's Web API rate limits, as the stand-in enforces them.

Slack limits each method per workspace and app, by tier: Tier 1 about 1 call a minute, Tier 2 about 20, Tier 3
about 50, Tier 4 about 100, bursts tolerated; over the limit it answers HTTP 429 with ``Retry-After`` (seconds)
and ``{"ok": false, "error": "ratelimited"}``. ``chat.postMessage`` is "special": about one message a second per
channel, with short bursts. Sources: https://api.slack.com/apis/rate-limits (tiers, 429 and Retry-After),
https://docs.slack.dev/apis/web-api/rate-limits, each method's reference page (its "Rate limits" line), and
SLACK.md §5.1 (a table of the methods this app calls, with the tier of each).

We count the tiers' minute budgets in a sliding window of 60 seconds: exactly the documented "calls a minute",
with no extra allowance for bursts (the stricter reading). ``chat.postMessage`` gets a bucket of 5 per channel
refilled at one a second (short bursts, then one a second). A method not listed here is not limited.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}

METHOD_TIERS: dict[str, int] = {
    "chat.update": 3,  # SLACK.md §5.1
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "conversations.open": 3,
    "users.info": 4,
    "users.list": 2,
    "usergroups.users.list": 2,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "files.info": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "apps.connections.open": 1,
}
POST_MESSAGE_BURST = 5
POST_MESSAGE_PER_SECOND = 1.0
WINDOW_SECONDS = 60.0


class RateLimiter:
    """``check(team, method, channel)`` → 0 when the call may go, else the seconds to put in ``Retry-After``."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._now = monotonic
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], collections.deque[float]] = {}
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # (team, channel) -> (tokens, when)

    def check(self, team: str, method: str, channel: str = "") -> int:
        with self._lock:
            now = self._now()
            if method == "chat.postMessage":
                return self._post_message(team, channel, now)
            tier = METHOD_TIERS.get(method)
            if tier is None:
                return 0
            window = self._windows.setdefault((team, method), collections.deque())
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) >= TIER_PER_MINUTE[tier]:
                return max(1, math.ceil(window[0] + WINDOW_SECONDS - now))
            window.append(now)
            return 0

    def _post_message(self, team: str, channel: str, now: float) -> int:
        tokens, then = self._buckets.get((team, channel), (float(POST_MESSAGE_BURST), now))
        tokens = min(float(POST_MESSAGE_BURST), tokens + (now - then) * POST_MESSAGE_PER_SECOND)
        if tokens < 1.0:
            self._buckets[(team, channel)] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / POST_MESSAGE_PER_SECOND))
        self._buckets[(team, channel)] = (tokens - 1.0, now)
        return 0
