"""`prospects-bot run` with SLACK_APP_TOKEN: the real process connects over Socket Mode to a local stand-in.

It asks the Web API (at SLACK_API_URL) for the socket URL with its app-level token, connects, answers each
envelope within Slack's 3 seconds (a view submission's answer carries its response_action), still serves its
HTTP routes, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot import ids
from bot.devtools import install_browser
from bot.devtools.harness import DEFAULT_USERS, wait_for
from bot.devtools.maildir_smtp import free_port
from bot.devtools.slack_standin import SlackStandIn
from bot.devtools.socket_standin import SocketModeStandIn
from outreach.clock import SystemClock
from outreach.models import Channel, Partner, Template
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.unit_of_work import SqlUnitOfWork

ROOT = Path(__file__).resolve().parents[2]
TEAM, USER = "T0001", "U0001"


def seed(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with SqlUnitOfWork(make_session_factory(engine), SystemClock()) as uow:
        partners = [
            Partner(TEAM, f"m{i}", f"Media {i}", "Ana", "Lee", f"p{i}@media.example") for i in range(3)
        ]
        uow.partners.upsert_many(TEAM, partners, mark_prospects={p.mpid for p in partners}, marked_by=USER)
        for name in ("Spring launch", "Spring follow-up", "Autumn sale"):
            when = SystemClock().now()
            uow.templates.add(
                Template(
                    TEAM,
                    USER,
                    name,
                    Channel.EMAIL,
                    "Hi {firstName}",
                    "Hello",
                    created_at=when,
                    updated_at=when,
                )
            )
        uow.commit()
    engine.dispose()


@pytest.fixture
def bot_process(tmp_path):
    yield from _bot_process(tmp_path, from_a_link=False)


@pytest.fixture
def bot_from_a_link(tmp_path):
    """`run` installing from a link: SLACK_CLIENT_ID/SECRET and SECRET_KEY set, no SLACK_BOT_TOKEN."""
    yield from _bot_process(tmp_path, from_a_link=True)


def _bot_process(tmp_path, *, from_a_link):
    url = f"sqlite:///{tmp_path / 'socket.db'}"
    seed(url)
    with SlackStandIn() as standin, SocketModeStandIn() as socket:
        for user in DEFAULT_USERS:
            standin.add_user(user)
        standin.socket_url = socket.url
        http_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SMTP_", "CLAMD_"))}
        env.update(
            DATABASE_URL=url,
            SLACK_BOT_TOKEN=standin.bot_token,
            SLACK_APP_TOKEN=standin.app_token,
            SLACK_SIGNING_SECRET="not-used-over-the-socket",
            SLACK_API_URL=standin.api_url,
            HTTP_PORT=str(http_port),
            SMTP_PORT=str(free_port()),  # nothing is sent here
            LOG_LEVEL="INFO",
        )
        if from_a_link:
            public = f"http://127.0.0.1:{http_port}"
            standin.oauth.redirect_urls = [public + ids.OAUTH_REDIRECT_PATH]
            del env["SLACK_BOT_TOKEN"]
            env.update(
                SLACK_CLIENT_ID=standin.oauth.client_id,
                SLACK_CLIENT_SECRET=standin.oauth.client_secret,
                SECRET_KEY="socket-mode-secret-key-0123",
                PUBLIC_URL=public,
            )
        log = (tmp_path / "run.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--no-worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        try:
            yield process, standin, socket, http_port, tmp_path / "run.log"
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def command_payload(standin: SlackStandIn, text: str = "") -> dict:
    return {
        "token": "deprecated",
        "team_id": TEAM,
        "team_domain": "brand",
        "channel_id": "C0001",
        "channel_name": "general",
        "user_id": USER,
        "user_name": "ann",
        "command": ids.COMMAND,
        "text": text,
        "api_app_id": "A0001",
        "response_url": standin.response_url(),
        "trigger_id": "1.2.standin",
    }


def home_opened(event_id: str) -> dict:
    """An ``app_home_opened`` event_callback as Slack wraps it (python-slack-sdk's Socket Mode fixtures)."""
    return {
        "token": "deprecated",
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
    }


def test_run_connects_over_socket_mode_answers_envelopes_and_stops_on_sigterm(bot_process):
    process, standin, socket, http_port, log = bot_process
    socket.wait_connected(timeout=60)
    opened = standin.calls_to("apps.connections.open")
    assert opened and opened[0].token == standin.app_token  # the app-level token, at SLACK_API_URL

    # /prospects over the socket: acknowledged in time, the list posted to the command's response URL.
    envelope = socket.send("slash_commands", command_payload(standin))
    assert socket.ack(envelope, timeout=3)["envelope_id"] == envelope
    posted = wait_for(lambda: standin.responses, what="the list at the response URL")
    page = json.dumps(posted[-1][1])
    assert "Media 0" in page and "Media 2" in page

    # A view submission whose answer is an error next to its field: the payload travels in the ack.
    form = {
        "id": "V1",
        "type": "modal",
        "callback_id": ids.CALLBACK_COMPOSE_EMAIL,
        "private_metadata": "not a draft",
        "blocks": [],
        "state": {"values": {}},
    }
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "brand"},
        "user": {"id": USER, "username": "ann", "team_id": TEAM},
        "api_app_id": "A0001",
        "trigger_id": "1.3.standin",
        "view": form,
        "response_urls": [],
    }
    envelope = socket.send("interactive", submission)
    answer = socket.ack(envelope, timeout=3)
    assert answer["payload"]["response_action"] == "errors"
    assert ids.BLOCK_CONTENT in answer["payload"]["errors"]

    # The HTTP routes (unsubscribe, inbound replies, health) are served beside the socket.
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=5) as health:
        assert health.status == 200

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log.read_text()


def test_each_event_is_served_once_by_its_event_id_whatever_its_retry_attempt(bot_process):
    process, standin, socket, _, log = bot_process
    socket.wait_connected(timeout=60)

    def publishes() -> int:
        return len(standin.calls_to("views.publish"))

    def deliver(event_id: str, attempt: int) -> None:
        envelope = socket.send("events_api", home_opened(event_id), retry_attempt=attempt)
        assert socket.ack(envelope, timeout=3)["envelope_id"] == envelope  # every delivery is acknowledged

    # Only Slack's retry arrives (the first envelope was lost): it is the first delivery, so it is served.
    deliver("Ev0001RETRY", 1)
    wait_for(lambda: publishes() >= 1, what="the home tab, published for the retry")

    # The same event twice: the first delivery is served, the retry acknowledged and dropped.
    deliver("Ev0002TWICE", 0)
    wait_for(lambda: publishes() >= 2, what="the home tab, published for the first delivery")
    deliver("Ev0002TWICE", 1)

    # Another event is another event: served too. By the time its publish is seen, a publish for the retry
    # above (acknowledged before this was sent) would have come as well.
    deliver("Ev0003OTHER", 0)
    wait_for(lambda: publishes() >= 3, what="the home tab, published for another event")
    with pytest.raises(AssertionError):
        wait_for(lambda: publishes() > 3, timeout=1.5, what="a publish for the retry")
    assert "delivered again" in log.read_text()

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log.read_text()


def test_run_installs_from_a_link_over_http_beside_the_socket(bot_from_a_link):
    process, standin, socket, http_port, log = bot_from_a_link
    socket.wait_connected(timeout=60)
    app_url = f"http://127.0.0.1:{http_port}"
    page = install_browser.install(app_url, standin, user=USER, team_id=TEAM)
    assert page.status == 200 and "Thank you!" in page.body, log.read_text()
    (token,) = [t for t, g in standin.oauth.grants.items() if g.team_id == TEAM and t != standin.bot_token]

    envelope = socket.send("slash_commands", command_payload(standin))
    assert socket.ack(envelope, timeout=3)["envelope_id"] == envelope
    wait_for(lambda: standin.responses, what="the list at the response URL")
    assert {c.token for c in standin.calls_to("users.info")} == {token}  # the install's own token
    # Slack's requests come over the socket: HTTP serves only the install routes beside the others.
    request = urllib.request.Request(f"{app_url}/slack/events", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    with refused.value as answer:
        assert answer.code == 404

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log.read_text()


def test_a_template_menu_gets_its_options_in_the_envelopes_answer(bot_process):
    """Over the socket, Slack sends an external select's ``block_suggestion`` as an ``interactive`` envelope and
    shows the options carried by the app's answer (``{"envelope_id", "payload": {"options": [...]}}``:
    slack_sdk.socket_mode.response.SocketModeResponse; bolt-python's SocketModeAdapter sends the ack's body)."""
    process, _, socket, _, log = bot_process
    socket.wait_connected(timeout=60)
    suggestion = {
        "type": "block_suggestion",
        "user": {"id": USER, "name": "ann", "team_id": TEAM},
        "container": {"type": "view", "view_id": "V1"},
        "api_app_id": "A0001",
        "token": "deprecated",
        "action_id": ids.ACTION_TEMPLATE_MENU,
        "block_id": ids.BLOCK_TEMPLATE_MENU,
        "value": "spring",
        "team": {"id": TEAM, "domain": "brand"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {"id": "V1", "type": "modal", "private_metadata": "", "blocks": [], "state": {"values": {}}},
    }
    envelope = socket.send("interactive", suggestion)
    answer = socket.ack(envelope, timeout=3)
    shown = sorted(option["text"]["text"] for option in answer["payload"]["options"])
    assert shown == ["Spring follow-up", "Spring launch"], log.read_text()[-2000:]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log.read_text()
