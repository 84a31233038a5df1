"""/prospects connect-email: a user's own mailbox (logins tried first, password kept encrypted), then their
e-mails go out through it with their address in From and partners' replies are read from it (IMAP, a real
Dovecot); disconnect-email goes back to the shared server."""

from __future__ import annotations

import json
import ssl

import pytest

from bot import ids
from bot.app import make_client
from bot.devtools.harness import full_app, wait_for
from bot.devtools.mail_samples import reply
from bot.mail_polling import MailboxAlertDM
from outreach.compose import DraftFields
from outreach.models import Channel, DraftStatus, Partner
from tests.fixtures.smtp import PASSWORD, USERNAME

pytestmark = [pytest.mark.smtp, pytest.mark.clamd, pytest.mark.imap]


@pytest.fixture
def app(scenario_settings):
    settings = scenario_settings(secret_key="a-test-secret-key-of-enough-length")
    with full_app(settings) as running:
        with running.services.uow() as uow:
            uow.partners.upsert_many(
                "T0001",
                [Partner("T0001", "p1", "Acme", "Al", "Ng", "al@acme.example")],
                mark_prospects={"p1"},
                marked_by="U0001",
            )
            uow.commit()
        yield running


def values(**fields):
    out = {}
    for block, value in fields.items():
        selects = (ids.BLOCK_ACCOUNT_SECURITY, ids.BLOCK_ACCOUNT_IMAP_SECURITY)
        kind = "static_select" if block in selects else "plain_text_input"
        out[block] = {
            ids.ACTION_INPUT: {"type": kind, "selected_option": {"value": value}}
            if kind == "static_select"
            else {"type": kind, "value": value}
        }
    return out


def send_one(app):
    state = app.services.compose.start("T0001", "U0001", Channel.EMAIL, ["p1"])
    app.services.compose.save(
        "T0001", "U0001", state.draft_id, DraftFields("Ann Lee", "ann@brand.example", "Hi", "Hello")
    )
    app.services.compose.submit("T0001", "U0001", state.draft_id)
    app.services.wake.set()
    wait_for(
        lambda: (
            app.services.compose.report("T0001", "U0001", state.draft_id).draft.status is DraftStatus.SENT
        ),
        what="the send",
    )


def connect(app, server, password, imap=None):
    """Fill in and submit the form: SMTP on ``server``; IMAP on the Dovecot ``imap`` (IMAPS), or none."""
    before = len(app.standin.view_log)
    app.team("T0001").command("U0001", ids.COMMAND, "connect-email")
    form = app.opened_after(before)
    assert form["callback_id"] == ids.CALLBACK_CONNECT_EMAIL
    return form, app.submit(
        "U0001",
        form,
        values(
            acct_from="ann@own.example",
            acct_host=server.host,
            acct_port=str(server.port),
            acct_security="tls",
            acct_username=USERNAME,
            acct_password=password,
            acct_imap_host=imap.host if imap else "none",
            acct_imap_port=str(imap.imaps_port) if imap else "",
            acct_imap_security="tls",
        ),
    )


def test_a_wrong_password_is_refused_and_nothing_is_stored(
    app, smtp_tls_server, smtp_client_context, monkeypatch
):
    monkeypatch.setattr("ssl.create_default_context", lambda *a, **k: smtp_client_context)
    form, answer = connect(app, smtp_tls_server, "wrong password")
    assert answer.json()["response_action"] == "update"
    # The form was filled in with a views.update too: wait for the one that brings the verdict.
    wait_for(
        lambda: [
            v
            for m, v in app.standin.view_log
            if m == "views.update" and v["id"] == form["id"] and "The login did not work" in json.dumps(v)
        ],
        what="the verdict",
    )
    assert app.services.accounts.get("T0001", "U0001") is None


def test_connected_emails_go_out_through_the_users_own_account(
    app, smtp_server, smtp_tls_server, smtp_client_context, monkeypatch
):
    monkeypatch.setattr("ssl.create_default_context", lambda *a, **k: smtp_client_context)
    form, _ = connect(app, smtp_tls_server, PASSWORD)
    done = wait_for(
        lambda: [
            v
            for m, v in app.standin.view_log
            if m == "views.update" and v["id"] == form["id"] and "Connected" in json.dumps(v)
        ],
        what="connected",
    )[-1]
    assert "ann@own.example" in json.dumps(done)
    with app.services.uow() as uow:  # stored encrypted: the password appears nowhere in the row
        stored = uow.accounts.get("T0001", "U0001")
    assert stored is not None and stored.password_encrypted and PASSWORD not in stored.password_encrypted
    assert app.services.accounts.get("T0001", "U0001").password == PASSWORD  # and comes back with the key

    send_one(app)
    (email,) = smtp_tls_server.messages()
    assert str(email["From"]) == "Ann Lee <ann@own.example>" and email["To"] == "al@acme.example"
    assert smtp_tls_server.logins[-1] == USERNAME and smtp_server.messages() == []

    before = len(app.standin.responses)
    app.team("T0001").command(
        "U0001", ids.COMMAND, "disconnect-email", response_url=app.standin.response_url()
    )
    said = wait_for(lambda: app.standin.responses[before:], what="the answer")[-1][1]
    assert "disconnected" in said["text"]
    send_one(app)
    assert [m["From"] for m in smtp_server.messages()] == ["Ann Lee <outreach@brand.example>"]


@pytest.fixture
def trusting(smtp_client_context, smtp_tls_files, dovecot, monkeypatch):
    """Every TLS client of the app trusts the test SMTP server's and the test Dovecot's certificates."""
    context = ssl.create_default_context(cafile=str(smtp_tls_files[0]))
    context.load_verify_locations(cafile=str(dovecot.cert))
    monkeypatch.setattr("ssl.create_default_context", lambda *a, **k: context)
    dovecot.add_user(USERNAME, PASSWORD)  # the same login as the SMTP server's
    return dovecot


def test_replies_are_read_from_the_connected_mailbox_and_a_changed_password_is_told_once(
    app, smtp_tls_server, trusting
):
    dovecot = trusting
    connect(app, smtp_tls_server, PASSWORD, imap=dovecot)
    wait_for(
        lambda: [
            v
            for m, v in app.standin.view_log
            if m == "views.update" and "replies and bounces are read" in json.dumps(v)
        ],
        what="connected, mailbox read",
    )
    send_one(app)
    (email,) = smtp_tls_server.messages()
    dovecot.append(USERNAME, reply(in_reply_to=email["Message-ID"], text="Happy to talk next week"))
    poller = app.services.make_poller(MailboxAlertDM(make_client(app.settings), app.services.profiles))
    (polled,) = poller.poll_all()
    assert polled.replies == 1
    told = wait_for(lambda: app.message_with("Happy to talk next week"), what="the reply told")
    assert told["channel"] == "D0001"  # in the conversation's thread, in the author's DM with the app
    assert app.message_with("Conversation with") is not None

    dovecot.set_password(USERNAME, "changed at the provider")
    try:
        (refused,) = poller.poll_all()
        assert refused.refused
        dm = wait_for(lambda: app.message_with("refused the login"), what="the refusal told")
        assert f"{USERNAME}@{dovecot.host}" in dm["text"] and "/prospects connect-email" in dm["text"]
        assert poller.poll_all() == []  # not polled again until the user connects again: told once
        posted = [c.args["text"] for c in app.standin.calls_to("chat.postMessage")]
        assert sum("refused the login" in text for text in posted) == 1
    finally:
        dovecot.set_password(USERNAME, PASSWORD)
