"""The real app served over HTTP on 127.0.0.1, a stand-in Slack Web API, and a client that signs requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from slack_bolt import App

from bot.app import build_app
from bot.devtools.slack_requests import SlackClientSim
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.http import HttpServer, WsgiApp
from bot.settings import Settings

SIGNING_SECRET = "scenario-signing-secret"  # a test value, not a secret
BOT_TOKEN = "xoxb-scenario"


@dataclass
class Running:
    standin: SlackStandIn
    sim: SlackClientSim
    server: HttpServer
    settings: Settings


@contextmanager
def running_app(register: Callable[[App], None], **settings_overrides: object) -> Iterator[Running]:
    with SlackStandIn(bot_token=BOT_TOKEN) as standin:
        standin.add_user(SlackUser("U0001", "ann", "Ann Lee", "ann@brand.example", tz="Europe/London"))
        standin.add_user(
            SlackUser("U0002", "wei", "张伟", "wei@brand.example", tz="Asia/Shanghai", locale="zh-CN")
        )
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=standin.api_url,
            **settings_overrides,
        )  # type: ignore[arg-type]
        app = build_app(settings, register)
        server = HttpServer(WsgiApp(app)).start()
        try:
            yield Running(
                standin, SlackClientSim(server.url + "/slack/events", SIGNING_SECRET), server, settings
            )
        finally:
            server.stop()
