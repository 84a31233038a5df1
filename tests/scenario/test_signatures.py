"""Slack signatures are checked on every request: forged, stale and tampered requests get 401."""

import time

import pytest

from bot.handlers.commands import CommandHandlers, register
from bot.users import UserProfiles
from tests.scenario.harness import running_app


@pytest.fixture(scope="module")
def app():
    handlers = CommandHandlers(UserProfiles())
    with running_app(lambda a: register(a, handlers)) as running:
        yield running


def test_a_signed_command_is_answered(app):
    response_url = app.standin.response_url()
    answer = app.sim.command("U0001", "/prospects", "help", response_url=response_url)
    assert answer.status == 200
    deadline = time.time() + 5
    while not app.standin.responses and time.time() < deadline:
        time.sleep(0.02)
    texts = [b["blocks"][0]["text"]["text"] for _, b in app.standin.responses]
    assert "Prospect Outreach" in texts


def test_a_forged_signature_is_refused_with_401(app):
    answer = app.sim.post(
        "command=%2Fprospects&text=help&team_id=T0001&user_id=U0001", signature="v0=" + "0" * 64
    )
    assert answer.status == 401


def test_a_request_signed_with_another_secret_is_refused(app):
    from bot.devtools.slack_requests import sign

    body = "command=%2Fprospects&text=help&team_id=T0001&user_id=U0001"
    ts = int(time.time())
    answer = app.sim.post(body, timestamp=ts, signature=sign("not-the-secret", str(ts), body))
    assert answer.status == 401


def test_a_stale_timestamp_is_refused_even_when_correctly_signed(app):
    answer = app.sim.post(
        "command=%2Fprospects&text=help&team_id=T0001&user_id=U0001", timestamp=int(time.time()) - 301
    )
    assert answer.status == 401


def test_a_signature_replayed_over_a_changed_body_is_refused(app):
    from bot.devtools.slack_requests import sign

    ts = int(time.time())
    original = "command=%2Fprospects&text=help&team_id=T0001&user_id=U0001"
    tampered = "command=%2Fprospects&text=help&team_id=T0002&user_id=U0001"
    answer = app.sim.post(tampered, timestamp=ts, signature=sign(app.sim.secret, str(ts), original))
    assert answer.status == 401


def test_health_endpoint_answers(app):
    import json
    import urllib.request

    with urllib.request.urlopen(app.server.url + "/healthz", timeout=5) as resp:
        assert resp.status == 200
        assert json.loads(resp.read())["ok"] is True
