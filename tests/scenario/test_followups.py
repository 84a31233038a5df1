"""Follow-ups and send later as a user meets them, through the strict Slack stand-in, with a real SMTP server,
clamd and database: steps added to the form with views.update, a follow-up that goes only to who did not reply,
answering the first e-mail, shown in the thread of the send's DM; Cancel from that DM and from the drafts list; a
send scheduled, refused in the past, cancelled, sent now, or started by the workers when its time comes. Days go
by with the app's own clock (OffsetClock), never a sleep."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta

import pytest

from bot import ids
from bot.devtools.harness import (
    button,
    followup_values,
    full_app,
    input_values,
    rows,
    send_later,
    tick,
    wait_for,
)
from bot.inbound import PATH as INBOUND
from outreach.clock import OffsetClock
from outreach.models import DraftStatus, Partner
from outreach.webhook_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]

TEAM, ANN = "T0001", "U0001"
FIRST = {"sender_name": "Ann Lee", "reply_to": "ann@brand.example", "subject": "Hello {firstName}"}


@pytest.fixture
def clock():
    return OffsetClock()


@pytest.fixture
def app(scenario_settings, clock):
    with full_app(scenario_settings(), clock=clock) as running:
        with running.services.uow() as uow:
            partners = [
                Partner(
                    TEAM,
                    f"p{i}",
                    f"Shop {i}",
                    f"First{i}",
                    "Doe",
                    f"p{i}@shop.example",
                    messaging_enabled=True,
                )
                for i in range(3)
            ]
            uow.partners.upsert_many(TEAM, partners, mark_prospects={p.mpid for p in partners}, marked_by=ANN)
            uow.commit()
        yield running


def form_for_all(app) -> dict:
    page = app.command(ANN)
    for i in range(3):
        page = app.click(ANN, page, tick(rows(page)[i]))
    seen = len(app.standin.view_log)
    app.click(ANN, page, button(page, ids.ACTION_EMAIL_PICKED), expect_response=False)
    return app.opened_after(seen)


def add_step(app, form: dict, typed: dict) -> dict:
    """Click "Add a follow-up" with ``typed`` in the form; the form as Slack shows it after the app's update."""
    before = app.standin.view_version(form["id"])
    app.click_in_view(ANN, {**form, "state": {"values": typed}}, button(form, ids.ACTION_FOLLOWUP_ADD))
    wait_for(lambda: app.standin.view_version(form["id"]) > before, what="the form with one more step")
    return app.standin.open_view(form["id"])


def sent_to(smtp_server) -> list[tuple[str, str]]:
    return [(m["To"], m["Subject"]) for m in smtp_server.messages()]


def reply(app, clock, mpid: str, text: str) -> None:
    """The partner answers through the messaging platform (POST /messages/inbound, signed)."""
    body = json.dumps({"team_id": TEAM, "mpid": mpid, "text": text, "external_id": f"in-{mpid}"}).encode()
    stamp = str(int(clock.now().timestamp()))
    secret = app.settings.messages_webhook_secret
    request = urllib.request.Request(
        app.settings.public_url + INBOUND,
        data=body,
        method="POST",
        headers={TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body)},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def a_full_pass(app) -> None:
    """Wait until the background worker has made a whole pass after now (scheduled sends looked at, what is due
    sent): after it, what was not sent was not due."""
    start = app.sender.rounds
    app.services.wake.set()
    wait_for(lambda: app.sender.rounds >= start + 2, what="a full pass of the worker")


def draft_status(app, draft_id: int) -> DraftStatus:
    with app.services.uow() as uow:
        return uow.drafts.get(TEAM, draft_id).status


def the_send(app) -> int:
    with app.services.uow() as uow:
        (draft,) = [d for d in uow.drafts.for_author(TEAM, ANN) if d.parent_id is None]
    return draft.id


def test_a_follow_up_added_in_the_form_goes_days_later_only_to_who_did_not_reply(app, smtp_server, clock):
    form = form_for_all(app)
    typed = input_values(**FIRST, content="Dear {firstName}")
    form = add_step(app, form, typed)
    step_blocks = [b["block_id"] for b in form["blocks"] if b.get("block_id", "").startswith("followup_1")]
    assert step_blocks == [ids.followup_block(1, p) for p in ("head", "days", "subject", "content")]
    assert app.standin.refused == []

    answer = app.submit(ANN, form, {**typed, **followup_values(1, 3, "Any news, {firstName}?")})
    assert answer.json()["response_action"] == "update"
    assert "1 follow-up" in json.dumps(answer.json()["view"])
    wait_for(lambda: len(smtp_server.messages()) == 3, what="the first three e-mails")
    first_ids = {m["To"]: m["Message-ID"] for m in smtp_server.messages()}
    send_dm = wait_for(lambda: app.message_with("*Sent:* 3"), what="the send's summary DM")
    assert "Follow-up 1 after 3 day(s): in progress" in json.dumps(send_dm)  # planned as the e-mails went

    clock.advance(timedelta(hours=2))
    reply(app, clock, "p1", "Interested, call me")
    clock.advance(timedelta(days=3))
    app.services.wake.set()
    wait_for(lambda: len(smtp_server.messages()) == 5, what="the follow-ups")
    follow = {m["To"]: m for m in smtp_server.messages()[3:]}
    assert sorted(follow) == ["p0@shop.example", "p2@shop.example"]  # p1 replied
    assert follow["p0@shop.example"]["Subject"] == "Re: Hello First0"
    assert follow["p0@shop.example"]["In-Reply-To"] == first_ids["p0@shop.example"]
    assert "Any news, First0?" in follow["p0@shop.example"].get_body(("plain",)).get_content()

    summary = wait_for(lambda: app.message_with("replied: 1"), what="the step's summary")
    assert summary["thread_ts"] == send_dm["ts"] and summary["channel"] == send_dm["channel"]
    assert "First1 Doe (p1) — replied" in json.dumps(summary, ensure_ascii=False)
    lines = wait_for(lambda: app.message_with("Follow-up not sent to"), what="a line")
    assert lines["channel"] == send_dm["channel"] and lines["thread_ts"]  # in p1's conversation thread
    assert ": replied" in json.dumps(lines, ensure_ascii=False)
    clock.advance(timedelta(days=30))
    a_full_pass(app)
    assert len(smtp_server.messages()) == 5  # once each, and no more steps


def test_cancel_on_the_sends_dm_stops_every_step_still_to_come(app, smtp_server, clock):
    form = form_for_all(app)
    typed = input_values(**FIRST, content="Dear {firstName}")
    form = add_step(app, form, typed)
    typed = {**typed, **followup_values(1, 2, "Ping")}
    form = add_step(app, form, typed)
    assert json.loads(form["private_metadata"])["f"] == [1, 2]
    app.submit(ANN, form, {**typed, **followup_values(2, 5, "Last try")})
    wait_for(lambda: len(smtp_server.messages()) == 3, what="the first e-mails")
    dm = wait_for(lambda: app.message_with("*Sent:* 3"), what="the summary DM")

    app.click(ANN, dm, button(dm, ids.ACTION_FOLLOWUPS_CANCEL), expect_response=False)
    wait_for(
        lambda: (
            ids.ACTION_FOLLOWUPS_CANCEL not in json.dumps(app.standin.message(dm["channel"], dm["ts"]).blocks)
        ),
        what="the button gone",
    )
    note = wait_for(
        lambda: app.message_with("Follow-ups cancelled: 2 step(s)"), what="the note in the thread"
    )
    assert note["thread_ts"] == dm["ts"]
    clock.advance(timedelta(days=10))
    a_full_pass(app)
    listing = app.command(ANN, "drafts")
    assert "Cancel follow-ups" not in json.dumps(listing)
    assert len(smtp_server.messages()) == 3


def test_follow_ups_are_listed_with_drafts_and_cancelled_there(app, smtp_server):
    form = form_for_all(app)
    typed = input_values(**FIRST, content="Dear {firstName}")
    form = add_step(app, form, typed)
    app.submit(ANN, form, {**typed, **followup_values(1, 4, "Ping")})
    wait_for(lambda: len(smtp_server.messages()) == 3, what="the first e-mails")
    listing = app.command(ANN, "drafts")
    assert "Follow-up 1 after 4 day(s)" in json.dumps(listing)
    after = app.click(ANN, listing, button(listing, ids.ACTION_FOLLOWUPS_CANCEL))
    assert "Follow-ups cancelled: 1 step(s)" in json.dumps(after)
    assert "Cancel follow-ups" not in json.dumps(after)


def test_a_time_in_the_past_is_refused_next_to_the_picker(app, clock, smtp_server):
    form = form_for_all(app)
    answer = app.submit(
        ANN, form, {**input_values(**FIRST, content="Hi"), **send_later(clock.now() - timedelta(hours=1))}
    )
    assert answer.json() == {
        "response_action": "errors",
        "errors": {ids.BLOCK_SEND_AT: "Pick a time in the future."},
    }
    assert smtp_server.messages() == []


def test_a_scheduled_send_waits_in_the_drafts_list_and_goes_when_its_time_comes(app, smtp_server, clock):
    form = form_for_all(app)
    when = clock.now() + timedelta(days=2)
    answer = app.submit(ANN, form, {**input_values(**FIRST, content="Hi {firstName}"), **send_later(when)})
    assert "Scheduled for" in json.dumps(answer.json()["view"])
    listing = app.command(ANN, "drafts")
    assert ids.ACTION_SEND_NOW in json.dumps(listing) and ids.ACTION_UNSCHEDULE in json.dumps(listing)

    clock.advance(timedelta(days=1))
    a_full_pass(app)
    assert smtp_server.messages() == []
    assert draft_status(app, the_send(app)) is DraftStatus.SCHEDULED
    clock.advance(timedelta(days=1, minutes=1))
    app.services.wake.set()
    wait_for(lambda: len(smtp_server.messages()) == 3, what="the scheduled e-mails")
    assert draft_status(app, the_send(app)) in (DraftStatus.SENDING, DraftStatus.SENT)
    wait_for(lambda: app.message_with("*Sent:* 3"), what="its summary DM")


def test_a_scheduled_send_cancelled_is_a_draft_again_and_send_now_sends_it(app, smtp_server, clock):
    form = form_for_all(app)
    app.submit(
        ANN, form, {**input_values(**FIRST, content="Hi"), **send_later(clock.now() + timedelta(days=1))}
    )
    listing = app.command(ANN, "drafts")
    back = app.click(ANN, listing, button(listing, ids.ACTION_UNSCHEDULE))
    assert "back in your drafts" in json.dumps(back)
    assert ids.ACTION_DRAFT_OPEN in json.dumps(back) and ids.ACTION_SEND_NOW not in json.dumps(back)
    clock.advance(timedelta(days=2))
    a_full_pass(app)
    draft_id = the_send(app)
    assert draft_status(app, draft_id) is DraftStatus.DRAFT and smtp_server.messages() == []

    seen = len(app.standin.view_log)
    app.click(ANN, back, button(back, ids.ACTION_DRAFT_OPEN, str(draft_id)), expect_response=False)
    again = app.opened_after(seen)
    app.submit(
        ANN, again, {**input_values(**FIRST, content="Hi"), **send_later(clock.now() + timedelta(days=5))}
    )
    listing = app.command(ANN, "drafts")
    now = app.click(ANN, listing, button(listing, ids.ACTION_SEND_NOW))
    assert "Sending to 3 recipient(s)" in json.dumps(now)
    wait_for(lambda: len(smtp_server.messages()) == 3, what="the e-mails, at once")
    clock.advance(timedelta(days=6))
    a_full_pass(app)
    assert len(smtp_server.messages()) == 3


def test_a_scheduled_send_whose_recipients_all_unsubscribed_meanwhile_is_not_sent_and_its_author_is_told(
    app, smtp_server, clock
):
    form = form_for_all(app)
    app.submit(
        ANN, form, {**input_values(**FIRST, content="Hi"), **send_later(clock.now() + timedelta(hours=3))}
    )
    with app.services.uow() as uow:
        for i in range(3):
            uow.suppressions.add(TEAM, f"p{i}@shop.example", "unsubscribed")
        uow.commit()
    clock.advance(timedelta(hours=4))
    app.services.wake.set()
    told = wait_for(lambda: app.message_with("did not go"), what="the DM to the author")
    assert "nobody this can be sent to" in json.dumps(told) and ids.ACTION_DRAFT_OPEN in json.dumps(told)
    assert draft_status(app, the_send(app)) is DraftStatus.DRAFT
    assert smtp_server.messages() == []
