"""Events API over HTTP: each event is served once, by its ``event_id``, whichever process receives it.

Two `serve` processes on one database (two apps, two HTTP servers) receive signed ``event_callback`` requests
shaped as Slack sends them (bolt-python's tests/scenario_tests/test_events.py; Slack adds
``X-Slack-Retry-Num``/``X-Slack-Retry-Reason`` to a retry, SLACK.md §3.7). The first delivery of an event id is
served, whatever its retry number; a later one is answered 200 with ``X-Slack-No-Retry: 1`` and not served.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from bot.app import build_app, make_client
from bot.devtools.harness import DEFAULT_USERS, wait_for
from bot.devtools.slack_requests import HttpAnswer, SlackClientSim
from bot.devtools.slack_standin import SlackStandIn
from bot.handlers.registry import register_all
from bot.http import HttpServer, WsgiApp
from bot.settings import Settings
from bot.wiring import build_services

SIGNING_SECRET = "events-signing-secret"  # a test value, not a secret
TEAM, USER = "T0001", "U0001"
RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


@dataclass
class Slack:
    standin: SlackStandIn
    servers: tuple[SlackClientSim, ...]  # one per `serve` process, all on one database

    def publishes(self) -> int:
        return len(self.standin.calls_to("views.publish"))


def serve(settings: Settings, stack: ExitStack) -> SlackClientSim:
    """One `serve` process: its own services (engine), app and HTTP server, stopped when ``stack`` closes."""
    services = build_services(settings)
    stack.callback(services.close)
    client = make_client(settings)
    app = build_app(
        settings,
        lambda a: register_all(a, services),
        client=client,
        first_delivery=services.redelivery.first_delivery,
    )
    server = HttpServer(WsgiApp(app)).start()
    stack.callback(server.stop)
    return SlackClientSim(server.url + "/slack/events", SIGNING_SECRET)


@pytest.fixture
def slack(database_url, db_engine) -> Iterator[Slack]:
    with SlackStandIn(bot_token="xoxb-events") as standin, ExitStack() as stack:
        for user in DEFAULT_USERS:
            standin.add_user(user)
        settings = Settings(
            database_url=database_url,
            slack_bot_token=standin.bot_token,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=standin.api_url,
        )
        servers = (serve(settings, stack), serve(settings, stack))
        yield Slack(standin, servers)


def home_opened(event_id: str) -> str:
    """An ``app_home_opened`` event_callback as Slack POSTs it (JSON)."""
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM,
            "api_app_id": "A0001",
            "event": {
                "type": "app_home_opened",
                "user": USER,
                "channel": "D0001",
                "tab": "home",
                "event_ts": "2147483647.000100",
            },
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 2147483647,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM,
                    "user_id": "UBOT",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"1-app_home_opened-{TEAM}-D0001",
        }
    )


def deliver(server: SlackClientSim, event_id: str, headers: dict[str, str] | None = None) -> HttpAnswer:
    answer = server.post(home_opened(event_id), content_type="application/json", headers=headers)
    assert answer.status == 200, answer.body
    return answer


def no_retry(answer: HttpAnswer) -> str | None:
    return {k.lower(): v for k, v in answer.headers.items()}.get("x-slack-no-retry")


def test_an_event_that_arrives_only_as_a_retry_is_served(slack):
    answer = deliver(slack.servers[0], "Ev0001RETRY", RETRY)
    assert no_retry(answer) is None
    wait_for(lambda: slack.publishes() >= 1, what="the home tab, published for the retry")


def test_a_redelivered_event_is_acknowledged_and_not_served_again_by_any_process(slack):
    first, other = slack.servers
    deliver(first, "Ev0002TWICE")
    wait_for(lambda: slack.publishes() >= 1, what="the home tab, published for the first delivery")

    again = deliver(other, "Ev0002TWICE", RETRY)  # Slack's retry reaches the other process
    assert no_retry(again) == "1"
    assert no_retry(deliver(first, "Ev0002TWICE", {**RETRY, "X-Slack-Retry-Num": "2"})) == "1"

    # Another event is served; by the time its publish is seen, publishes for the retries would be seen too.
    deliver(other, "Ev0003OTHER")
    wait_for(lambda: slack.publishes() >= 2, what="the home tab, published for another event")
    time.sleep(1)
    assert slack.publishes() == 2


def test_slash_commands_are_never_deduplicated(slack):
    """Slash commands carry no event_id and Slack does not retry them: the same command twice is answered twice."""
    server = slack.servers[0]
    for _ in range(2):
        answer = server.command(USER, "/prospects", "help", response_url=slack.standin.response_url())
        assert answer.status == 200 and no_retry(answer) is None
    wait_for(lambda: len(slack.standin.responses) >= 2, what="two answers at the response URLs")
