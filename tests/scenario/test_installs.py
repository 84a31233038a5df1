"""Installs from a link, in one app serving many workspaces: Bolt's OAuth flow against the stand-in's authorize page
and ``oauth.v2.access``, each workspace with its own token and rows, uninstalls, org-wide installs, token rotation.

The app is the harness's full app (the real Bolt app over HTTP, its database, SMTP server, clamd and background
sender) with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET set and no SLACK_BOT_TOKEN; every workspace is installed the way
a browser does it (bot/devtools/install_browser.py): ``GET /slack/install``, Slack's authorize page,
``GET /slack/oauth_redirect`` with the state cookie.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from sqlalchemy import text

from bot import ids
from bot.charts import ChartAsked
from bot.devtools import install_browser
from bot.devtools.harness import FullApp, button, full_app, input_values, rows, tick, wait_for
from bot.devtools.slack_standin import SlackUser
from outreach.models import DeliveryStatus, Partner
from outreach.workspaces import APP_UNINSTALLED
from tests.attachment_samples import pdf

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]

USERS = (
    SlackUser("U0001", "ann", "Ann Lee", "ann@brand.example", tz="Europe/London"),
    SlackUser("U0009", "eve", "Eve Other", "eve@other.example", team_id="T0002"),
)


@pytest.fixture
def app(scenario_settings):
    with full_app(scenario_settings(), USERS, from_a_link=True) as running:
        running.standin.teams["T0002"].name = "Other brand"
        with running.services.uow() as uow:
            for team, prefix in (("T0001", "a"), ("T0002", "b")):
                partners = [
                    Partner(
                        team,
                        f"{prefix}{i:03d}",
                        f"{team} Partner {i}",
                        f"F{i}",
                        f"L{i}",
                        f"{prefix}{i}@p.example",
                    )
                    for i in range(3)
                ]
                uow.partners.upsert_many(
                    team, partners, mark_prospects={p.mpid for p in partners}, marked_by="U0001"
                )
            uow.commit()
        yield running


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def exchanges(app: FullApp) -> list[str]:
    return [c.args.get("grant_type", "authorization_code") for c in app.standin.calls_to("oauth.v2.access")]


def event(app: FullApp, kind: str, team: str | None, event_id: str, **extra: Any) -> None:
    """Slack POSTs an Events API event (signed); the app acknowledges it."""
    body: dict[str, Any] = {
        "token": "deprecated-verification-token",
        "api_app_id": "A0001",
        "event": {"type": kind, **extra},
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
    }
    if team:
        body["team_id"] = team
    else:
        body["enterprise_id"] = extra.pop("enterprise_id", None) or "E0100"
        body["event"].pop("enterprise_id", None)
    answer = app.sim.post(json.dumps(body), content_type="application/json")
    assert answer.status == 200, answer


# -- the install link --------------------------------------------------------------------------------------------
def test_the_install_page_links_to_slacks_authorize_page_with_our_client_id_scopes_state_and_redirect(app):
    link = install_browser.open_install_page(app.server.url)
    query = query_of(link.url)
    assert link.url.startswith(app.standin.base_url + "/oauth/v2/authorize?")
    assert query["client_id"] == app.settings.slack_client_id
    assert set(query["scope"].split(",")) == ids.BOT_SCOPES
    assert query["redirect_uri"] == app.settings.public_url + "/slack/oauth_redirect"
    assert query["state"] and link.cookie == f"slack-app-oauth-state={query['state']}"


def test_an_install_records_the_workspace_and_keeps_its_token_encrypted(app, db_engine):
    app.install("T0002", "U0009")
    workspace = app.services.workspaces.find("T0002")
    assert workspace is not None and workspace.installed
    assert (workspace.name, workspace.installed_by, workspace.org_install) == ("Other brand", "U0009", False)
    with db_engine.connect() as conn:  # the raw rows, as a backup would hold them
        dumped = repr(
            [
                *conn.execute(text("SELECT * FROM slack_bots")),
                *conn.execute(text("SELECT * FROM slack_installations")),
            ]
        )
    (issued,) = [t for t, g in app.standin.oauth.grants.items() if g.team_id == "T0002"]
    assert "T0002" in dumped and issued not in dumped and issued.split("-")[-1] not in dumped


def test_a_forged_state_is_refused_before_any_code_is_exchanged(app):
    link = install_browser.open_install_page(app.server.url)
    back = app.standin.install(link.url, user="U0009", team_id="T0002")
    forged = back.replace(f"state={query_of(back)['state']}", "state=forged")
    assert install_browser.get(forged, "slack-app-oauth-state=forged").status == 401  # not one we issued
    other_browser = install_browser.get(back, "slack-app-oauth-state=someone-else")  # not this browser's
    assert other_browser.status == 400
    assert exchanges(app) == []  # no code was ever exchanged
    assert app.services.workspaces.find("T0002") is None


def test_a_code_is_exchanged_once(app):
    link = install_browser.open_install_page(app.server.url)
    back = app.standin.install(link.url, user="U0009", team_id="T0002")
    assert install_browser.get(back, link.cookie).status == 200
    assert (
        install_browser.get(back, link.cookie).status == 401
    )  # the same redirect again: its state is used up
    code = query_of(back)["code"]
    fresh = install_browser.open_install_page(app.server.url)  # a new state, with the old code
    replayed = (
        f"{app.settings.public_url}/slack/oauth_redirect?code={code}&state={query_of(fresh.url)['state']}"
    )
    assert install_browser.get(replayed, fresh.cookie).status == 401
    assert [error for c, error in app.standin.oauth.exchanges if c == code] == ["ok", "code_already_used"]


# -- two workspaces, one app ---------------------------------------------------------------------------------
def send_with_a_file(app: FullApp, team: str, user: str, subject: str) -> None:
    page = app.command(user, team=team)
    page = app.click(user, page, tick(rows(page)[0]), team=team)
    seen = len(app.standin.view_log)
    app.click(user, page, button(page, ids.ACTION_EMAIL_PICKED), team=team, expect_response=False)
    form = app.opened_after(seen)
    upload = app.standin.add_file(f"{team}.pdf", pdf(team.encode()), "application/pdf", team_id=team)
    values = input_values(
        sender_name=user,
        reply_to=f"{user.lower()}@x.example",
        subject=subject,
        content="Hi",
        attachments=[upload],
    )
    assert app.submit(user, form, values, team=team).json()["response_action"] == "update"


def test_two_workspaces_never_use_each_others_token_or_rows(app, smtp_server):
    app.install("T0001", "U0001")
    app.install("T0002", "U0009")
    tokens = {
        g.team_id: t for t, g in app.standin.oauth.grants.items() if g.team_id and t != app.standin.bot_token
    }
    ours = app.command("U0001")
    theirs = app.command("U0009", team="T0002")
    assert "T0001 Partner" in json.dumps(ours) and "T0002" not in json.dumps(ours)
    assert "T0002 Partner" in json.dumps(theirs) and "T0001" not in json.dumps(theirs)
    send_with_a_file(app, "T0001", "U0001", "ours")
    send_with_a_file(app, "T0002", "U0009", "theirs")
    wait_for(lambda: len(smtp_server.messages()) == 2, what="one e-mail from each workspace")
    got = {m["To"]: m for m in smtp_server.messages()}
    assert got["a0@p.example"]["Subject"] == "ours" and got["b0@p.example"]["Subject"] == "theirs"
    for to, team in (("a0@p.example", "T0001"), ("b0@p.example", "T0002")):
        (attached,) = list(got[to].iter_attachments())
        assert attached.get_content() == pdf(team.encode())  # its own workspace's upload
    wait_for(
        lambda: len([c for c in app.standin.calls_to("chat.update") if "Sent:" in json.dumps(c.args)]) == 2,
        what="each author's summary DM",
    )
    # Every call went with the token of the workspace whose user, DM, modal or file it named.
    assert app.standin.foreign == []
    by_token = {t: {c.method for c in app.standin.calls if c.token == t} for t in tokens.values()}
    for methods in by_token.values():
        assert {"users.info", "views.open", "chat.postMessage", "chat.update"} <= methods
    for call in app.standin.calls:
        user = call.args.get("user") or call.args.get("users") or ""
        if user in ("U0001", "U0009"):
            assert call.token == tokens[app.standin.user_team(user)], call
    downloads = {path.split("/")[2]: token for _, path, token in app.standin.file_hits}
    for fid, stored in app.standin.files.items():
        assert downloads[fid] == tokens[stored.team_id]
    with app.services.uow() as uow:
        ours_log, theirs_log = uow.queue.send_log("T0001"), uow.queue.send_log("T0002")
    assert [r.email for r in ours_log] == ["a0@p.example"] and [r.email for r in theirs_log] == [
        "b0@p.example"
    ]
    assert app.services.workspaces.listing()[0].sends_30_days == 1


# -- uninstalls ---------------------------------------------------------------------------------------------
def test_an_uninstall_deletes_the_tokens_at_once_stops_the_sends_and_serves_nothing_after(app, smtp_server):
    app.install("T0001", "U0001")
    app.install("T0002", "U0009")
    page = app.command("U0001")
    app.sender.stop()  # the send stays planned: the uninstall comes before any worker gets to it
    page = app.click("U0001", page, tick(rows(page)[1]))
    seen = len(app.standin.view_log)
    app.click("U0001", page, button(page, ids.ACTION_EMAIL_PICKED), expect_response=False)
    form = app.opened_after(seen)
    app.submit(
        "U0001", form, input_values(sender_name="Ann", reply_to="ann@x.example", subject="s", content="c")
    )
    with app.services.uow() as uow:
        (draft,) = uow.drafts.for_author("T0001", "U0001")
        assert uow.queue.counts("T0001", draft.id)[DeliveryStatus.PENDING] == 1

    chart = app.services.charts.url(ChartAsked("T0001", "U0001", True, 30, "en", app.services.clock.now()))
    assert _status(chart) == 200  # the Home tab's chart, while installed

    app.standin.uninstall("T0001")
    event(app, "app_uninstalled", "T0001", "Ev-uninstall-1")
    store = app.services.installs.store
    # The listener runs after the ack: its tokens go first, then it is marked uninstalled; wait for the end.
    wait_for(lambda: not app.services.workspaces.find("T0001").installed, what="T0001 marked uninstalled")
    assert store.find_bot(enterprise_id=None, team_id="T0001") is None
    assert store.find_installation(enterprise_id=None, team_id="T0001") is None
    with app.services.uow() as uow:
        (delivery,) = uow.deliveries.for_draft("T0001", draft.id)
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.FAILED, APP_UNINSTALLED)

    calls, responses = len(app.standin.calls), len(app.standin.responses)
    answer = app.team("T0001").command("U0001", ids.COMMAND, "")
    assert answer.status == 200 and b"not installed" in answer.body
    clicked = app.team("T0001").click("U0001", page, tick(rows(page)[2]), team_id="T0001")  # an old list
    assert clicked.status == 200 and clicked.body == b""
    assert (
        len(app.standin.calls) == calls and len(app.standin.responses) == responses
    )  # no call to Slack at all
    assert "T0002 Partner" in json.dumps(app.command("U0009", team="T0002"))  # the other workspace: as before
    assert smtp_server.messages() == []
    assert _status(chart) == 404  # its numbers are no longer shown to anyone


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_a_revoked_bot_token_ends_the_install_as_an_uninstall_does(app):
    app.install("T0002", "U0009")
    event(app, "tokens_revoked", "T0002", "Ev-revoked-1", tokens={"oauth": [], "bot": ["UBOTT0002"]})
    store = app.services.installs.store
    wait_for(lambda: not app.services.workspaces.find("T0002").installed, what="the install ended")
    assert store.find_bot(enterprise_id=None, team_id="T0002") is None  # deleted first
    calls = len(app.standin.calls)
    assert b"not installed" in app.team("T0002").command("U0009", ids.COMMAND, "").body
    assert len(app.standin.calls) == calls


def test_a_workspace_that_never_installed_the_app_gets_nothing(app):
    answer = app.team("T0002").command("U0009", ids.COMMAND, "")
    assert answer.status == 200 and b"/slack/install" in answer.body
    assert app.standin.calls == []


# -- Enterprise Grid and token rotation -------------------------------------------------------------------------
def test_an_org_wide_install_serves_each_workspace_of_the_org_with_the_orgs_token(app):
    for team in ("T0101", "T0102"):
        app.standin.add_team(team, f"Brand {team}", enterprise_id="E0100")
        app.standin.add_user(SlackUser(f"U{team}", team.lower(), f"User {team}", team_id=team))
    app.install(user="UT0101", enterprise_id="E0100")
    org = app.services.workspaces.find("E0100")
    assert org is not None and org.org_install and org.installed_by == "UT0101"
    (token,) = [t for t, g in app.standin.oauth.grants.items() if g.key == "E0100"]
    for team in ("T0101", "T0102"):
        shown = len(app.standin.responses)
        answer = app.team(team).command(
            f"U{team}", ids.COMMAND, "", enterprise_id="E0100", is_enterprise_install="true"
        )
        assert answer.status == 200
        wait_for(lambda n=shown: len(app.standin.responses) > n, what=f"the list shown in {team}")
        member = app.services.workspaces.find(team)
        assert member is not None and member.org_install and member.enterprise_id == "E0100"
    assert {c.token for c in app.standin.calls if c.method != "oauth.v2.access"} == {token}
    # Background work for a workspace of the org (a progress DM, the digest) gets the org's token too.
    background = app.services.installs.clients(lambda t: t, None)  # "clients" that are just the token
    assert background("T0102") == token and background("T0999") is None


def test_with_token_rotation_an_expiring_token_is_renewed_and_stored_encrypted(app):
    app.standin.oauth.token_rotation = True
    app.standin.oauth.rotation_seconds = 600  # within Bolt's two hours: the first request renews it
    app.install("T0002", "U0009")
    (first,) = [t for t, g in app.standin.oauth.grants.items() if g.team_id == "T0002"]
    assert "T0002 Partner" in json.dumps(app.command("U0009", team="T0002"))
    assert exchanges(app) == ["authorization_code", "refresh_token"]
    renewed = app.services.installs.store.find_bot(enterprise_id=None, team_id="T0002").bot_token
    assert renewed != first and renewed in app.standin.oauth.grants
    assert app.standin.calls_to("users.info")[-1].token == renewed


# -- background work: each workspace's own token ---------------------------------------------------------------
def test_the_digest_and_a_partners_reply_reach_each_author_with_their_workspaces_token(app):
    from datetime import UTC, datetime, timedelta

    from bot.app import workspace_clients
    from bot.digest import DigestJob
    from bot.users import UserProfiles
    from outreach.clock import FixedClock
    from outreach.models import Channel, Direction, ThreadMessage
    from outreach.webhook_signing import sign

    app.install("T0001", "U0001")
    app.install("T0002", "U0009")
    tokens = {
        g.team_id: t for t, g in app.standin.oauth.grants.items() if g.team_id and t != app.standin.bot_token
    }
    for team, user in (("T0001", "U0001"), ("T0002", "U0009")):
        app.services.compose.start(team, user, Channel.EMAIL, [])
        with app.services.uow() as uow:
            thread = uow.threads.open(team, f"{'a' if team == 'T0001' else 'b'}000", Channel.MESSAGE)
            uow.threads.add_message(
                team,
                thread.id,
                ThreadMessage(Direction.OUT, "Hi", author_id=user, provider_message_id=f"p-{team}"),
            )
            uow.commit()
    clients = workspace_clients(app.settings, app.services.installs)
    later = FixedClock(datetime.now(UTC) + timedelta(days=2))
    digest = DigestJob(app.services.digest, later, clients, UserProfiles(), cron=app.settings.digest_cron)
    assert digest.run() == 2
    dms = {c.args["channel"]: c.token for c in app.standin.calls_to("chat.postMessage")}
    assert dms == {"D0001": tokens["T0001"], "D0009": tokens["T0002"]}

    body = json.dumps(
        {"team_id": "T0002", "mpid": "b000", "text": "Yes", "external_id": "x-1", "in_reply_to": "p-T0002"}
    ).encode()
    ts = str(int(datetime.now(UTC).timestamp()))
    request = urllib.request.Request(
        app.server.url + "/messages/inbound",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Outreach-Timestamp": ts,
            "X-Outreach-Signature": sign(app.settings.messages_webhook_secret, ts, body),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    dm = app.standin.last("chat.postMessage")
    assert (dm.args["channel"], dm.token) == ("D0009", tokens["T0002"])

    # Uninstalled: no digest for its authors, nothing sent to Slack for it.
    app.standin.uninstall("T0002")
    event(app, "app_uninstalled", "T0002", "Ev-uninstall-2")
    wait_for(lambda: not app.services.workspaces.find("T0002").installed, what="T0002 uninstalled")
    calls = len(app.standin.calls)
    even_later = FixedClock(datetime.now(UTC) + timedelta(days=3))
    assert DigestJob(app.services.digest, even_later, clients, UserProfiles(), cron="0 9 * * *").run() == 1
    assert {c.token for c in app.standin.calls[calls:]} == {tokens["T0001"]}
