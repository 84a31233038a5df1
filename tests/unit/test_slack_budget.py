"""bot/slack_budget.py: a client that never sleeps on 429, Retry-After read from Slack's answer, and a
workspace's budget of calls with pauses."""

from __future__ import annotations

from urllib.error import URLError

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.web.slack_response import SlackResponse

from bot.app import make_client
from bot.settings import Settings
from bot.slack_budget import WorkspaceGate, no_wait_client, retry_after, spread, transient


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def error(status: int, body: dict, headers: dict | None = None) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="http://127.0.0.1/api/chat.update",
        req_args={},
        data=body,
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("refused", response)


def test_the_no_wait_client_keeps_everything_but_the_handlers_that_sleep():
    client = make_client(Settings(slack_bot_token="xoxb-1", slack_api_url="http://127.0.0.1:9/api/"))
    assert any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers)
    copy = no_wait_client(client, timeout=7)
    assert (copy.token, copy.base_url, copy.timeout) == ("xoxb-1", "http://127.0.0.1:9/api/", 7)
    assert [type(h) for h in copy.retry_handlers] == [ConnectionErrorRetryHandler]
    assert any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers)  # the original kept


def test_retry_after_is_read_from_a_429_and_only_from_a_rate_limit():
    assert retry_after(error(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "17"})) == 17
    assert retry_after(error(429, {"ok": False, "error": "ratelimited"}, {"retry-after": ["3"]})) == 3
    assert retry_after(error(429, {"ok": False, "error": "ratelimited"})) == 1  # no header: a second
    assert retry_after(error(200, {"ok": False, "error": "channel_not_found"})) is None


def test_what_may_pass_is_tried_again_and_what_will_not_is_not():
    assert transient(error(429, {"ok": False, "error": "ratelimited"}))
    assert transient(error(503, {"ok": False, "error": "service_unavailable"}))
    assert transient(error(200, {"ok": False, "error": "internal_error"}))
    assert transient(URLError("connection refused"))
    assert not transient(error(200, {"ok": False, "error": "channel_not_found"}))
    assert not transient(error(200, {"ok": False, "error": "invalid_blocks"}))


def test_a_workspace_spends_its_minute_then_waits_for_the_oldest_call_to_age():
    clock = Clock()
    gate = WorkspaceGate(per_minute=3, monotonic=clock)
    for _ in range(3):
        assert gate.wait("T1") == 0
        gate.spend("T1")
        clock.now += 1
    assert gate.wait("T1") == 57  # the first call leaves the window 60 s after it was made
    assert gate.wait("T1", budget=False) == 0  # a summary is not held back by the budget
    assert gate.wait("T2") == 0  # another workspace has its own
    clock.now = 60.5
    assert gate.wait("T1") == 0


def test_a_429_pauses_the_workspace_even_for_summaries():
    clock = Clock()
    gate = WorkspaceGate(per_minute=40, monotonic=clock)
    gate.pause("T1", 30)
    gate.pause("T1", 5)  # a shorter pause never shortens the longer one
    assert gate.wait("T1", budget=False) == 30 and gate.paused("T1") == 30
    clock.now = 30
    assert gate.wait("T1") == 0


def test_concurrent_sends_share_the_minute():
    assert spread(40, 1, 3.0) == 3.0  # one send: the interval rules
    assert spread(40, 5, 3.0) == 7.5  # five: 40 updates a minute between them
    assert spread(40, 0, 0.2) == 1.5
