"""Who may send: members of SENDERS_USERGROUP (or users in SENDERS); everyone else may browse, never send."""

from __future__ import annotations

import json
import time

import pytest
from slack_sdk import WebClient

from bot import ids
from bot.app import make_client
from bot.devtools.harness import full_app, input_values, rows
from bot.devtools.slack_standin import SlackStandIn
from bot.permissions import SenderPolicy
from bot.settings import Settings
from outreach.models import Channel, Partner

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]


@pytest.fixture
def app(scenario_settings):
    settings = scenario_settings(senders_usergroup="S0SEND")
    with full_app(settings) as running:
        running.standin.usergroups["S0SEND"] = ["U0002"]
        with running.services.uow() as uow:
            uow.partners.upsert_many(
                "T0001",
                [Partner("T0001", "p1", "Acme", "Al", "Ng", "al@acme.example")],
                mark_prospects={"p1"},
                marked_by="U0002",
            )
            uow.commit()
        yield running


def email_row(app, user):
    page = app.command(user)
    seen = len(app.standin.view_log)
    row = rows(page)[0]
    app.click(
        user,
        page,
        {
            "type": "overflow",
            "action_id": ids.ACTION_ROW_MORE,
            "block_id": row["block_id"],
            "selected_option": {"value": "email:p1"},
        },
        expect_response=False,
    )
    return app.opened_after(seen)


def test_a_member_of_the_group_gets_the_form(app):
    assert email_row(app, "U0002")["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL


def test_anyone_else_may_browse_but_is_told_why_they_cannot_send(app, smtp_server):
    view = email_row(app, "U0001")
    assert view["callback_id"] != ids.CALLBACK_COMPOSE_EMAIL
    assert "<!subteam^S0SEND>" in json.dumps(view)
    assert app.services.compose.drafts("T0001", "U0001") == []
    # A draft made some other way still cannot be sent by them.
    state = app.services.compose.start("T0001", "U0001", Channel.EMAIL, ["p1"])
    form = {
        "type": "modal",
        "id": "V1",
        "callback_id": ids.CALLBACK_COMPOSE_EMAIL,
        "private_metadata": json.dumps({"d": state.draft_id, "c": "email"}),
        "blocks": [],
    }
    answer = app.team("T0001").view_submission(  # a hand-made submission: only the app's checks stand
        "U0001", form, input_values(sender_name="A", reply_to="a@brand.example", subject="S", content="Hi")
    )
    assert answer.json()["response_action"] == "errors"
    assert "S0SEND" in answer.json()["errors"][ids.BLOCK_CONTENT]
    assert smtp_server.messages() == []
    assert app.services.compose.drafts("T0001", "U0001")[0].content == "Hi"  # kept, not sent


def test_a_group_that_cannot_be_read_refuses():
    with SlackStandIn(bot_token="xoxb-p") as standin:
        client = WebClient(token="xoxb-p", base_url=standin.api_url)
        policy = SenderPolicy(usergroup="S_MISSING")
        assert policy.may_send(client, "T1", "U1") is False
        assert SenderPolicy(senders=("U1",)).may_send(client, "T1", "U1") is True
        assert SenderPolicy().may_send(client, "T1", "U7") is True  # nothing configured: everyone


def test_a_rate_limited_group_lookup_never_waits_and_keeps_the_members_last_read():
    with SlackStandIn(bot_token="xoxb-p") as standin:
        standin.usergroups["S0SEND"] = ["U1"]
        client = make_client(
            Settings(slack_bot_token="xoxb-p", slack_api_url=standin.api_url)
        )  # sleeps on 429
        policy = SenderPolicy(usergroup="S0SEND", ttl_seconds=0)  # every call asks Slack again
        assert policy.may_send(client, "T1", "U1") is True
        standin.fail("usergroups.users.list", status=429, times=2, retry_after=30)
        started = time.monotonic()
        assert policy.may_send(client, "T1", "U1") is True  # the members last read
        assert SenderPolicy(usergroup="S0SEND").may_send(client, "T1", "U1") is False  # never read: refused
        assert time.monotonic() - started < 2  # no Retry-After of 30 s waited out
