"""Scenarios driven exactly as Slack drives the app: signed requests over HTTP, a stand-in Web API, a real
SMTP server, a real clamd, a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import Engine, event

from bot import ids
from bot.devtools.harness import button, full_app, input_values, more, rows, tick, wait_for
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.models import Ad, AdType, Attachment, Channel, Draft, DraftStatus, Partner, PartnerKind
from tests.attachment_samples import pdf

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]


@pytest.fixture
def app(scenario_settings):
    yield from _app(scenario_settings, from_a_link=False)


@pytest.fixture
def two_brands(scenario_settings):
    """The same, installed from its link in both workspaces: each workspace with its own token (as Slack would
    have it: a token acts only in its own workspace)."""
    for running in _app(scenario_settings, from_a_link=True):
        running.install("T0001", "U0001")
        running.install("T0002", "U0009")
        yield running


def _app(scenario_settings, *, from_a_link):
    settings = scenario_settings(
        tracking_link_template="https://track.example/c/{mpid}/{adid}/{program_id}", program_id="7"
    )
    with full_app(settings, from_a_link=from_a_link) as running:
        with running.services.uow() as uow:
            partners = [
                Partner(
                    "T0001",
                    f"a{i:03d}",
                    f"Agency {i:02d}",
                    f"First{i}",
                    f"Last{i}",
                    f"p{i}@agency.example",
                    PartnerKind.CREATOR if i % 5 == 0 else PartnerKind.PARTNER,
                    i % 2 == 0,
                    "US",
                )
                for i in range(25)
            ]
            uow.partners.upsert_many(
                "T0001", partners, mark_prospects={p.mpid for p in partners}, marked_by="U0001"
            )
            uow.partners.upsert_many(
                "T0002",
                [Partner("T0002", "b001", "Other Co", "Bo", "Ba", "bo@other.example")],
                mark_prospects={"b001"},
                marked_by="U0009",
            )
            uow.ads.upsert_many(
                "T0001",
                [Ad("T0001", "42", "Winter sale", AdType.TEXT_LINK, "https://shop.example", "Shop now")],
            )
            uow.commit()
        yield running


def first_draft_id(app):
    with app.services.uow() as uow:
        sent = uow.drafts.for_author("T0001", "U0001")
    return sent[-1].id


CONTENT = (
    "Hi {firstName} {lastName},\nas {mpname} (#{mpid}) you may like {adcode_42}\n"
    "Sent {currentDay} at {currentTime}, {currentMonthYear}."
)


def test_ticks_on_two_pages_then_a_bulk_email_with_every_token_and_a_pdf(app, smtp_server):
    page1 = app.command("U0001")
    assert [r["elements"][0]["options"][0]["value"] for r in rows(page1)] == [f"a{i:03d}" for i in range(10)]
    page1 = app.click("U0001", page1, tick(rows(page1)[1]))
    page1 = app.click("U0001", page1, tick(rows(page1)[2]))
    page2 = app.click("U0001", page1, button(page1, ids.ACTION_PAGE_NEXT))
    assert rows(page2)[0]["elements"][0]["options"][0]["value"] == "a010"
    page2 = app.click("U0001", page2, tick(rows(page2)[3]))
    back = app.click("U0001", page2, button(page2, ids.ACTION_PAGE_PREV))
    ticked = [
        r["elements"][0]["options"][0]["value"] for r in rows(back) if r["elements"][0].get("initial_options")
    ]
    assert ticked == ["a001", "a002"]  # ticks survived paging
    assert "3 picked" in json.dumps(back)

    seen = len(app.standin.view_log)
    app.click("U0001", back, button(back, ids.ACTION_EMAIL_PICKED), expect_response=False)
    form = app.opened_after(seen)
    assert form["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL
    sender = next(b for b in form["blocks"] if b.get("block_id") == ids.BLOCK_SENDER_NAME)
    assert sender["element"]["initial_value"] == "Ann Lee"  # from the Slack profile

    upload = app.standin.add_file("offer.pdf", pdf(b"Our offer"), "application/pdf")
    answer = app.submit(
        "U0001",
        form,
        input_values(
            sender_name="Ann Lee",
            reply_to="ann@brand.example",
            subject="关于合作 {firstName}",
            content=CONTENT,
            attachments=[upload],
        ),
    )
    assert answer.status == 200 and answer.json()["response_action"] == "update"

    wait_for(lambda: len(smtp_server.messages()) == 3, what="three emails")
    got = {m["To"]: m for m in smtp_server.messages()}
    assert sorted(got) == ["p13@agency.example", "p1@agency.example", "p2@agency.example"]
    email = got["p13@agency.example"]
    assert email["Subject"] == "关于合作 First13"
    assert str(email["From"]) == "Ann Lee <outreach@brand.example>"
    assert str(email["Reply-To"]) == "ann@brand.example"
    text = email.get_body(("plain",)).get_content()
    assert "Hi First13 Last13," in text and "as Agency 13 (#a013)" in text
    assert "Winter sale: https://track.example/c/a013/42/7" in text
    assert "{" not in text
    html = email.get_body(("html",)).get_content()
    assert 'href="https://track.example/c/a013/42/7"' in html
    (attachment,) = list(email.iter_attachments())
    assert attachment.get_filename() == "offer.pdf" and attachment.get_content() == pdf(b"Our offer")

    final = wait_for(
        lambda: [c for c in app.standin.calls_to("chat.update") if "Sent:" in json.dumps(c.args)],
        what="the summary DM",
    )[-1]
    assert "*Sent:* 3" in json.dumps(final.args, ensure_ascii=False)


def test_an_eicar_attachment_is_refused_naming_its_signature_and_nothing_is_sent(app, smtp_server):
    page = app.command("U0001")
    form = app.open_form("U0001", page, more(rows(page)[0], "email"))
    infected = app.standin.add_file("contacts.csv", eicar_test_bytes(), "text/csv")
    submitted = len(app.standin.view_log)
    answer = app.submit(
        "U0001",
        form,
        input_values(
            sender_name="Ann",
            reply_to="ann@brand.example",
            subject="Hi",
            content="Hello {firstName}",
            attachments=[infected],
        ),
    )
    assert answer.status == 200
    verdict = wait_for(
        lambda: [v for m, v in app.standin.view_log[submitted:] if m == "views.update"], what="the verdict"
    )[-1]
    text = json.dumps(verdict)
    assert "contacts.csv" in text and "EICAR" in text and ids.ACTION_DRAFT_OPEN in text
    assert smtp_server.messages() == []
    drafts = app.services.compose.drafts("T0001", "U0001")
    assert len(drafts) == 1 and drafts[0].content == "Hello {firstName}"  # the draft is kept


def test_a_misspelt_token_is_shown_next_to_the_content_before_anything_is_sent(app, smtp_server):
    page = app.command("U0001")
    form = app.open_form("U0001", page, more(rows(page)[0], "email"))
    answer = app.submit(
        "U0001",
        form,
        input_values(
            sender_name="Ann",
            reply_to="ann@brand.example\r\nBcc: x@y",
            subject="Hi",
            content="Hello {fristName}",
        ),
    )
    body = answer.json()
    assert body["response_action"] == "errors"
    assert "{firstName}" in body["errors"][ids.BLOCK_CONTENT]
    assert ids.BLOCK_REPLY_TO in body["errors"]
    assert smtp_server.messages() == []


def test_a_message_reaches_a_prospect_with_messaging_enabled(app):
    page = app.command("U0001")
    row = rows(page)[0]  # a000: messaging enabled
    assert row["elements"][1]["options"][0]["value"] == "message:a000"
    assert "message:a001" not in json.dumps(rows(page)[1])  # messaging disabled: no Message entry
    app.click(
        "U0001",
        page,
        {
            "type": "overflow",
            "action_id": ids.ACTION_ROW_MORE,
            "block_id": row["block_id"],
            "selected_option": {"value": "message:a000"},
        },
        expect_response=False,
    )
    form = app.opened_after(0)
    assert form["callback_id"] == ids.CALLBACK_COMPOSE_MESSAGE
    app.submit("U0001", form, input_values(content="Hello {firstName} from {mpname}!"))
    message = wait_for(lambda: app.inbox.messages, what="the webhook")[0]
    assert message["mpid"] == "a000" and message["team_id"] == "T0001"
    assert message["text"] == "Hello First0 from Agency 00!"
    assert app.inbox.bad_signatures == 0


def test_the_same_submission_delivered_twice_sends_once(app, smtp_server):
    page = app.command("U0001")
    form = app.open_form("U0001", page, more(rows(page)[0], "email"))
    values = input_values(
        sender_name="Ann", reply_to="ann@brand.example", subject="Once", content="Only once"
    )
    first = app.submit("U0001", form, values)
    # No files to scan: the plan is stored before Slack gets its answer, and the answer says so.
    assert "Sending to 1 recipient" in first.json()["view"]["blocks"][0]["text"]["text"]
    assert [d.mpid for d, _ in app.services.compose.report("T0001", "U0001", first_draft_id(app)).rows] == [
        "a000"
    ]
    # The same payload once more (a double click that reached Slack before the form changed, or a retry):
    second = app.team("T0001").view_submission("U0001", form, values)
    assert first.status == second.status == 200
    assert "already sent" in json.dumps(second.json())
    draft_id = first_draft_id(app)
    wait_for(
        lambda: app.services.compose.report("T0001", "U0001", draft_id).draft.status is DraftStatus.SENT,
        what="the send to finish",
    )
    report = app.services.compose.report("T0001", "U0001", draft_id)
    assert [d.mpid for d, _ in report.rows] == ["a000"]
    assert [m["Subject"] for m in smtp_server.messages()] == ["Once"]


def test_another_workspace_never_sees_or_reaches_our_prospects(two_brands, smtp_server):
    app = two_brands
    theirs = app.command("U0009", team="T0002")
    assert [r["elements"][0]["options"][0]["value"] for r in rows(theirs)] == ["b001"]
    # Tampered payloads that name our mpids (signed as Slack signs: only the app's own checks stand in the way):
    forged = app.team("T0002")
    where = {"channel_id": theirs["channel"], "message_ts": theirs["ts"]}
    container = {"type": "message", **where, "is_ephemeral": True}

    def send(action):
        url = app.standin.new_response_url(theirs["channel"], "U0009", (theirs["channel"], theirs["ts"]))
        answer = forged.block_actions(
            "U0009", [action], container=container, response_url=url, channel_id=theirs["channel"]
        )
        assert answer.status == 200

    shown = len(app.standin.responses)
    send(tick({**rows(theirs)[0], "block_id": "picks~a001~x"}))
    wait_for(lambda: len(app.standin.responses) > shown, what="the list shown again")
    assert app.services.prospects.picked("T0002", "U0009") == []
    views_before = len(app.standin.view_log)
    send({"type": "button", "action_id": ids.ACTION_MARKET_OPEN, "block_id": "x", "value": "a001"})
    send(
        {
            "type": "overflow",
            "action_id": ids.ACTION_ROW_MORE,
            "block_id": "x",
            "selected_option": {"value": "email:a001"},
        }
    )
    form = app.opened_after(views_before)  # the form: the card of a001 never opens
    assert form["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL
    assert "Agency" not in json.dumps(form) and "a001" not in json.dumps(form["blocks"])
    # Our draft, submitted from their workspace with its id in private_metadata:
    ours = app.services.compose.start("T0001", "U0001", Channel.EMAIL, ["a000"])
    stolen = {**form, "private_metadata": json.dumps({"d": ours.draft_id, "c": "email"})}
    answer = forged.view_submission(
        "U0009",
        stolen,
        input_values(sender_name="Eve", reply_to="eve@other.example", subject="x", content="y"),
    )
    assert answer.json()["response_action"] == "errors"
    assert app.services.compose.load("T0001", "U0001", ours.draft_id).draft.content == ""
    assert smtp_server.messages() == []


def test_opening_the_home_tab_publishes_it(app):
    event = {
        "token": "x",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": "Ev0001",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": "U0002", "channel": "D0002", "tab": "home"},
    }
    answer = app.sim.post(json.dumps(event), content_type="application/json")
    assert answer.status == 200
    home = wait_for(lambda: app.standin.calls_to("views.publish"), what="the home tab")[-1]
    assert home.args["user_id"] == "U0002"
    assert "潜在客户" in json.dumps(home.args["view"], ensure_ascii=False)  # U0002 reads Chinese


def home_event(user: str, channel: str, event_id: str) -> str:
    return json.dumps(
        {
            "token": "x",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1,
            "event": {"type": "app_home_opened", "user": user, "channel": channel, "tab": "home"},
        }
    )


def test_the_home_tab_counts_picks_and_drafts_and_lists_sends_without_reading_their_files(app):
    app.services.prospects.set_picked("T0001", "U0001", ["a001", "a002", "a003"], True)
    big = b"%PDF-1.4\n" + b"0" * 3_000_000
    with app.services.uow() as uow:
        # Scheduled sends are listed on the dashboard by their subject, not their files (sends in progress too,
        # by the same query; one is not made here, as the background worker would read its files to send it).
        for status in (DraftStatus.DRAFT, DraftStatus.DRAFT, DraftStatus.SENT, DraftStatus.SCHEDULED):
            stored = uow.attachments.add(
                "T0001", Attachment("deck.pdf", "application/pdf", hashlib.sha256(big).hexdigest(), big)
            )
            draft = uow.drafts.add(
                Draft("T0001", "U0001", Channel.EMAIL, subject="Hi", attachments=(stored,)), ["a001", "a002"]
            )
            assert draft.id is not None
            uow.drafts.set_status("T0001", draft.id, status)
        uow.commit()
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        answer = app.sim.post(home_event("U0001", "D0001", "Ev0101"), content_type="application/json")
        assert answer.status == 200
        home = wait_for(lambda: app.standin.calls_to("views.publish"), what="the home tab")[-1]
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert "3 prospect(s) picked" in json.dumps(home.args["view"])
    assert "2 unsent draft(s)" in json.dumps(home.args["view"])
    read = [s for s in statements if "attachments.data" in s]
    assert read == [], "the home tab read the drafts' files to count the drafts"
