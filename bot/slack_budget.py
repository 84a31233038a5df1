"""Calling Slack without waiting on it: a client that never sleeps on 429, the answers worth trying again, and
a per-workspace budget with pauses.

Slack answers a method called over its tier with HTTP 429 and ``Retry-After`` (seconds) — SLACK.md §5.2,
bot/devtools/slack_limits.py. The app's own client (``bot.app.make_client``) waits that out and asks again,
which is right for a listener answering a click but wrong for background work that must never hold anything
up: :func:`no_wait_client` copies a client without its 429 (and 5xx) retry handlers, so the caller gets the
``SlackApiError`` at once and decides (:func:`retry_after` reads the wait from it). :class:`WorkspaceGate`
keeps, per workspace, the pause a 429 asked for and a sliding-minute count of the calls made.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

WINDOW_SECONDS = 60.0
# Errors in a 200 answer that say "not now" rather than "never": the "common errors" of Slack's method
# reference pages (docs.slack.dev/reference/methods/*). No source says which are worth retrying; we assume the
# stricter reading for the author: retry these (a summary kept and tried again), give up on any other.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "update_failed",
    }
)


def no_wait_client(client: WebClient, *, timeout: int | None = None) -> WebClient:
    """``client`` (token, base URL, TLS, proxy, headers) without retry handlers that sleep: a 429 or a 5xx is
    raised at once. Connection retries (immediate) are kept."""
    copy = WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=timeout or client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=dict(client.headers),
        retry_handlers=[
            h
            for h in client.retry_handlers
            if not isinstance(h, RateLimitErrorRetryHandler | ServerErrorRetryHandler)
        ],
    )
    copy.default_params = dict(client.default_params)
    return copy


def retry_after(err: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait (a 429 or ``ratelimited``); None when this is not a rate limit."""
    response = err.response
    status = getattr(response, "status_code", 200)
    if status != 429 and response.get("error") != "ratelimited":
        return None
    headers = getattr(response, "headers", None) or {}
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        return max(1.0, float(raw)) if raw is not None else 1.0
    except ValueError:
        return 1.0


def transient(err: Exception) -> bool:
    """Whether asking again later may succeed: a rate limit, a server error, a dropped connection."""
    if isinstance(err, SlackApiError):
        status = getattr(err.response, "status_code", 200)
        return status == 429 or status >= 500 or err.response.get("error") in TRANSIENT_ERRORS
    return isinstance(err, URLError | OSError | TimeoutError)


class WorkspaceGate:
    """Per workspace, in this process: a pause asked for by a 429, and at most ``per_minute`` calls in any
    sliding minute. ``wait(team)`` → seconds before the next call may go (0: now); ``spend(team)`` counts one."""

    def __init__(self, per_minute: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._now = monotonic
        self._lock = threading.Lock()
        self._paused: dict[str, float] = {}
        self._calls: dict[str, collections.deque[float]] = {}

    def wait(self, team_id: str, *, budget: bool = True) -> float:
        """Seconds to wait before calling for ``team_id``; ``budget=False`` minds only a 429's pause (a call
        that must go when Slack lets it: a summary)."""
        with self._lock:
            now = self._now()
            waits = [self._paused.get(team_id, 0.0) - now]
            calls = self._calls.get(team_id)
            if budget and calls is not None:
                while calls and calls[0] <= now - WINDOW_SECONDS:
                    calls.popleft()
                if len(calls) >= self._per_minute:
                    waits.append(calls[0] + WINDOW_SECONDS - now)
            return max(0.0, *waits)

    def spend(self, team_id: str) -> None:
        with self._lock:
            self._calls.setdefault(team_id, collections.deque()).append(self._now())

    def pause(self, team_id: str, seconds: float) -> None:
        """Slack said wait ``seconds``: nothing goes for this workspace until then."""
        with self._lock:
            until = self._now() + seconds
            self._paused[team_id] = max(self._paused.get(team_id, 0.0), until)

    def paused(self, team_id: str) -> float:
        """Seconds left of the workspace's pause (0: not paused)."""
        with self._lock:
            return max(0.0, self._paused.get(team_id, 0.0) - self._now())


def spread(per_minute: int, sends: int, floor: float) -> float:
    """Seconds between updates of one send's DM when ``sends`` share ``per_minute`` updates (at least ``floor``)."""
    return max(floor, math.ceil(max(1, sends) * WINDOW_SECONDS / per_minute * 10) / 10)
