"""The workspace's settings from the App Home, through the strict Slack stand-in with signed requests: an admin
saves the workspace's own SMTP server and From (its login tried first, a refusal named on the field), then that
workspace's e-mails go out through it while another workspace keeps the environment's; anyone else reads the
settings, with no submit and never a password."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from bot import ids
from bot.app import make_client
from bot.devtools.harness import WEBHOOK_SECRET, button, full_app, wait_for
from bot.devtools.slack_standin import SlackUser
from bot.devtools.webhook_inbox import WebhookInbox
from outreach.compose import DraftFields
from outreach.models import Channel, DraftStatus, Partner
from outreach.webhook_signing import sign
from tests.fixtures.smtp import PASSWORD, USERNAME

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]

USERS = (
    SlackUser("U0001", "ann", "Ann Lee", "ann@brand.example", is_admin=True),
    SlackUser("U0002", "bob", "Bob Roe", "bob@brand.example"),
    SlackUser("U0003", "wei", "张伟", "wei@brand.example", locale="zh-CN", is_owner=True),
    SlackUser("U0009", "eve", "Eve Other", "eve@other.example", team_id="T0002"),
)
BRAND_SECRET = "brand-one-webhook-secret"
KINDS = {
    ids.BLOCK_WS_FROM_ADDRESS: "email_text_input",
    ids.BLOCK_WS_SMTP_SECURITY: "static_select",
    ids.BLOCK_WS_WEBHOOK_URL: "url_text_input",
    ids.BLOCK_WS_RECENT_DAYS: "number_input",
}


@pytest.fixture
def app(scenario_settings, smtp_starttls_server, smtp_client_context, monkeypatch):
    # The brand's server is made before the app trusts its certificate (as a real client would).
    monkeypatch.setattr("ssl.create_default_context", lambda *a, **k: smtp_client_context)
    settings = scenario_settings(secret_key="a-test-secret-key-of-enough-length")
    with full_app(settings, users=USERS) as running:
        with running.services.uow() as uow:
            for team in ("T0001", "T0002"):
                uow.partners.upsert_many(
                    team,
                    [Partner(team, "p1", "Acme", "Al", "Ng", f"al@{team.lower()}.acme.example")],
                    mark_prospects={"p1"},
                    marked_by="U0001",
                )
            uow.commit()
        yield running


def values(**fields: str) -> dict:
    out = {}
    for block, value in fields.items():
        kind = KINDS.get(block, "plain_text_input")
        if kind == "static_select":
            out[block] = {ids.ACTION_INPUT: {"type": kind, "selected_option": {"value": value}}}
        else:
            out[block] = {ids.ACTION_INPUT: {"type": kind, "value": value}}
    return out


def open_settings(app, user: str, team: str = "T0001") -> dict:
    home = app.open_home(user, team)
    before = len(app.standin.view_log)
    app.click_in_home(user, button(home, ids.ACTION_HOME_SETTINGS), team)
    return app.opened_after(before)


def server_values(server, password: str) -> dict:
    return values(
        ws_from_address="hello@brand-one.example",
        ws_from_name="Brand One",
        ws_smtp_host=server.host,
        ws_smtp_port=str(server.port),
        ws_smtp_security="starttls",
        ws_smtp_username=USERNAME,
        ws_smtp_password=password,
        ws_recent_days="3",
    )


def send_one(app, team: str, user: str, sender_name: str = "Ann Lee") -> None:
    state = app.services.compose.start(team, user, Channel.EMAIL, ["p1"])
    app.services.compose.save(
        team, user, state.draft_id, DraftFields(sender_name, f"{user.lower()}@brand.example", "Hi", "Hello")
    )
    app.services.compose.submit(team, user, state.draft_id)
    app.services.wake.set()
    wait_for(
        lambda: app.services.compose.report(team, user, state.draft_id).draft.status is DraftStatus.SENT,
        what=f"the send of {team}",
    )


def test_an_admins_server_and_from_carry_that_workspaces_emails_and_another_keeps_the_defaults(
    app, smtp_server, smtp_starttls_server
):
    form = open_settings(app, "U0001")
    assert form["callback_id"] == ids.CALLBACK_WORKSPACE_SETTINGS
    answer = app.submit("U0001", form, server_values(smtp_starttls_server, PASSWORD))
    assert answer.json()["response_action"] == "update"
    assert "Saved" in json.dumps(answer.json()["view"])
    assert smtp_starttls_server.logins == [USERNAME]  # tried before it was saved

    send_one(app, "T0001", "U0001")
    (mail,) = smtp_starttls_server.messages()
    assert str(mail["From"]) == "Ann Lee <hello@brand-one.example>"
    assert mail["To"] == "al@t0001.acme.example"
    assert smtp_starttls_server.received[-1].mail_from == "hello@brand-one.example"  # its own envelope sender

    send_one(app, "T0002", "U0009", sender_name="Eve Other")
    (other,) = smtp_server.messages()  # the environment's server, From and VERP bounce address
    assert str(other["From"]) == "Eve Other <outreach@brand.example>"
    assert other["To"] == "al@t0002.acme.example"
    assert smtp_server.received[-1].mail_from.startswith("outreach+b")
    assert len(smtp_starttls_server.messages()) == 1

    assert app.services.prospects.recent_days("T0001") == 3
    assert app.services.prospects.recent_days("T0002") == 7

    again = open_settings(app, "U0001")  # the form shows what is saved, never the password
    shown = json.dumps(again)
    assert "hello@brand-one.example" in shown and PASSWORD not in shown
    assert "A password is saved" in shown


def test_a_refused_login_is_shown_on_the_password_field_and_nothing_is_saved(app, smtp_starttls_server):
    form = open_settings(app, "U0001")
    answer = app.submit("U0001", form, server_values(smtp_starttls_server, "not the password"))
    body = answer.json()
    assert body["response_action"] == "errors"
    assert "535" in body["errors"][ids.BLOCK_WS_SMTP_PASSWORD]  # the server's own answer
    assert app.services.workspace_settings.effective("T0001").own_smtp is False


def test_bad_fields_are_refused_each_on_its_own_field_in_the_users_language(app):
    form = open_settings(app, "U0003")  # an owner, reading Chinese
    answer = app.submit(
        "U0003",
        form,
        values(
            ws_from_address="nobody",
            ws_webhook_url="http://hooks.brand.example/in",
            ws_webhook_secret="s3cret",
            ws_usergroup="marketing",
        ),
    )
    errors = answer.json()["errors"]
    assert set(errors) == {ids.BLOCK_WS_FROM_ADDRESS, ids.BLOCK_WS_WEBHOOK_URL, ids.BLOCK_WS_USERGROUP}
    assert "https://" in errors[ids.BLOCK_WS_WEBHOOK_URL] and "开头" in errors[ids.BLOCK_WS_WEBHOOK_URL]


def test_someone_not_an_admin_reads_the_settings_with_no_submit_and_no_secret(app, smtp_starttls_server):
    form = open_settings(app, "U0001")
    app.submit("U0001", form, server_values(smtp_starttls_server, PASSWORD))
    seen = open_settings(app, "U0002")
    assert seen["callback_id"] == ids.CALLBACK_WORKSPACE_SETTINGS_READ
    assert "submit" not in seen
    assert not [b for b in seen["blocks"] if b["type"] == "input"]
    text = json.dumps(seen)
    assert "hello@brand-one.example" in text and USERNAME in text
    assert PASSWORD not in text
    with pytest.raises(AssertionError, match="no submit button"):
        app.submit("U0002", seen, {})


def test_a_workspaces_own_sender_group_decides_who_may_send_there(app):
    app.standin.usergroups["S0BRAND"] = ["U0001"]
    form = open_settings(app, "U0001")
    answer = app.submit("U0001", form, values(ws_usergroup="S0BRAND"))
    assert answer.json()["response_action"] == "update"
    slack = make_client(app.settings)
    assert app.services.senders.may_send(slack, "T0001", "U0001") is True
    assert app.services.senders.may_send(slack, "T0001", "U0002") is False
    assert app.services.senders.may_send(slack, "T0002", "U0009") is True  # the environment sets no group


def post_reply(app, team: str, secret: str) -> int:
    """The messaging platform POSTs a partner's reply for ``team``, signed with ``secret``; the HTTP status."""
    body = json.dumps(
        {"team_id": team, "mpid": "p1", "text": "Thanks!", "external_id": f"in-{team}"}
    ).encode()
    ts = str(int(time.time()))
    request = urllib.request.Request(
        app.server.url + "/messages/inbound",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Outreach-Timestamp": ts,
            "X-Outreach-Signature": sign(secret, ts, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_a_workspaces_own_webhook_carries_its_messages_and_signs_its_replies(app):
    brand = WebhookInbox(BRAND_SECRET).start()
    try:
        form = open_settings(app, "U0001")
        answer = app.submit("U0001", form, values(ws_webhook_url=brand.url, ws_webhook_secret=BRAND_SECRET))
        assert answer.json()["response_action"] == "update"
        for team, user in (("T0001", "U0001"), ("T0002", "U0009")):
            with app.services.uow() as uow:
                uow.partners.upsert_many(
                    team,
                    [
                        Partner(
                            team,
                            "p1",
                            "Acme",
                            "Al",
                            "Ng",
                            f"al@{team.lower()}.acme.example",
                            messaging_enabled=True,
                        )
                    ],
                )
                uow.commit()
            state = app.services.compose.start(team, user, Channel.MESSAGE, ["p1"])
            app.services.compose.save(
                team, user, state.draft_id, DraftFields("", "", "", f"Hello from {team}")
            )
            app.services.compose.submit(team, user, state.draft_id)
            app.services.wake.set()
            wait_for(
                lambda team=team, user=user, state=state: (
                    app.services.compose.report(team, user, state.draft_id).draft.status is DraftStatus.SENT
                ),
                what=f"the message of {team}",
            )
        assert [m["team_id"] for m in brand.messages] == ["T0001"]  # signed with the brand's secret
        assert [m["team_id"] for m in app.inbox.messages] == ["T0002"]  # the environment's webhook
        assert brand.bad_signatures == 0

        assert post_reply(app, "T0001", WEBHOOK_SECRET) == 401  # the deployment's key no longer speaks for it
        assert post_reply(app, "T0001", BRAND_SECRET) == 200
        assert post_reply(app, "T0002", BRAND_SECRET) == 401
        assert post_reply(app, "T0002", WEBHOOK_SECRET) == 200
    finally:
        brand.stop()
