"""The rest of the Slack surface, driven over signed HTTP: filters, select all, clear, the marketplace, preview,
test sends, drafts (save, close, open, send, delete) and retrying failed recipients."""

from __future__ import annotations

import json

import pytest

from bot import ids
from bot.devtools.harness import button, choose, full_app, input_values, rows, tick, wait_for
from outreach.compose import DraftFields
from outreach.models import Channel, DraftStatus, Partner, PartnerKind, ProspectQuery
from outreach.prospecting import PageRequest

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]


@pytest.fixture
def app(scenario_settings):
    settings = scenario_settings()
    with full_app(settings) as running:
        with running.services.uow() as uow:
            partners = [
                Partner(
                    "T0001",
                    f"c{i:03d}",
                    f"Shop {i:02d}",
                    f"Name{i}",
                    "Doe",
                    f"s{i}@shop.example",
                    PartnerKind.CREATOR if i % 2 else PartnerKind.PARTNER,
                    i % 3 == 0,
                    "CN" if i < 4 else "US",
                )
                for i in range(14)
            ]
            uow.partners.upsert_many(
                "T0001", partners, mark_prospects={p.mpid for p in partners[:12]}, marked_by="U0001"
            )
            uow.commit()
        yield running


def mpids_of(message):
    return [r["elements"][0]["options"][0]["value"] for r in rows(message)]


def test_filters_narrow_the_list_and_keep_the_search(app):
    page = app.command("U0001", "shop")
    assert len(rows(page)) == 10 and "of 12 prospects" in json.dumps(page)
    creators = app.click("U0001", page, choose(page, ids.ACTION_FILTER_KIND, "creator"))
    assert mpids_of(creators) == ["c001", "c003", "c005", "c007", "c009", "c011"]
    chinese = app.click("U0001", creators, choose(creators, ids.ACTION_FILTER_COUNTRY, "CN"))
    assert mpids_of(chinese) == ["c001", "c003"]
    messaging = app.click("U0001", chinese, choose(chinese, ids.ACTION_FILTER_MESSAGING, "on"))
    assert mpids_of(messaging) == ["c003"]
    assert "shop" in json.dumps(messaging)  # the search text is kept
    everyone = app.click("U0001", messaging, choose(messaging, ids.ACTION_FILTER_MESSAGING, "any"))
    assert mpids_of(everyone) == ["c001", "c003"]


def test_not_yet_contacted_hides_prospects_already_written_to(app, smtp_server):
    app.services.prospects.set_picked("T0001", "U0001", ["c000"], True)
    state = app.services.compose.start("T0001", "U0001", Channel.EMAIL, ["c000"])
    app.services.compose.save(
        "T0001", "U0001", state.draft_id, DraftFields("A", "a@brand.example", "S", "Hi")
    )
    app.services.compose.submit("T0001", "U0001", state.draft_id)
    app.services.wake.set()
    wait_for(smtp_server.messages, what="the e-mail")
    wait_for(lambda: app.services.prospects.get("T0001", "c000").last_contacted_at, what="contacted")
    page = app.command("U0001")
    fresh = app.click("U0001", page, choose(page, ids.ACTION_FILTER_NOT_CONTACTED, True))
    assert "c000" not in mpids_of(fresh) and "c001" in mpids_of(fresh)


def test_select_all_ticks_the_page_and_clear_empties_every_tick(app):
    page = app.command("U0001")
    page = app.click("U0001", page, button(page, ids.ACTION_SELECT_ALL))
    assert all(r["elements"][0].get("initial_options") for r in rows(page))
    page2 = app.click("U0001", page, button(page, ids.ACTION_PAGE_NEXT))
    page2 = app.click("U0001", page2, tick(rows(page2)[0]))
    assert "11 picked" in json.dumps(page2)
    cleared = app.click("U0001", page2, button(page2, ids.ACTION_CLEAR))
    assert "0 picked" in json.dumps(cleared) and app.services.prospects.picked("T0001", "U0001") == []


def test_message_to_picked_prospects_leaves_out_those_without_messaging_and_names_them(app):
    page = app.command("U0001")
    page = app.click("U0001", page, button(page, ids.ACTION_SELECT_ALL))
    seen = len(app.standin.view_log)
    app.click("U0001", page, button(page, ids.ACTION_MESSAGE_PICKED), expect_response=False)
    form = app.opened_after(seen)
    text = json.dumps(form, ensure_ascii=False)
    assert form["callback_id"] == ids.CALLBACK_COMPOSE_MESSAGE
    assert "Name0 Doe (Shop 00)" in text and "6 left out of this send" in text
    assert "messaging is not enabled" in text


def test_marketplace_tabs_card_mark_and_email(app):
    market = app.command("U0001", "marketplace creators")
    names = json.dumps(market)
    assert "Shop 01" in names and "Shop 00" not in names  # creators only
    partners = app.click("U0001", market, button(market, ids.ACTION_MARKET_TAB))
    assert "Shop 12" in json.dumps(partners)  # all partners, prospects or not
    seen = len(app.standin.view_log)
    app.click("U0001", partners, button(partners, ids.ACTION_MARKET_OPEN, "c012"), expect_response=False)
    card = app.opened_after(seen)
    assert "Mark as prospect" in json.dumps(card)
    mark = {
        "type": "button",
        "action_id": ids.ACTION_MARKET_MARK,
        "block_id": "card_actions",
        "value": "c012",
    }
    # The card's own fill was a views.update too: the marked card is the first one after the click.
    seen = len(app.standin.view_log)
    app.click_in_view("U0001", card, mark)
    updated = app.opened_after(seen, "views.update")
    assert "Mark as prospect" not in json.dumps(updated) and "Your prospect since" in json.dumps(updated)
    # A double click: the same action delivered again from the card as it was before the update.
    again = app.team("T0001").block_actions(
        "U0001", [mark], container={"type": "view", "view_id": card["id"]}, view=card
    )
    assert again.status == 200  # and changes nothing
    assert (
        app.services.prospects.page(
            "T0001",
            "U0001",
            ProspectQuery(),
            PageRequest(),
        ).total
        == 13
    )
    app.click_in_view(
        "U0001",
        card,
        {"type": "button", "action_id": ids.ACTION_MARKET_EMAIL, "block_id": "card_actions", "value": "c012"},
    )
    pushed = app.opened_after(seen, "views.push")
    assert pushed["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL and "Name12 Doe (Shop 12)" in json.dumps(
        pushed
    )


def _email_form(app, mpid="c000"):
    page = app.command("U0001")
    seen = len(app.standin.view_log)
    row = next(r for r in rows(page) if r["elements"][0]["options"][0]["value"] == mpid)
    app.click(
        "U0001",
        page,
        {
            "type": "overflow",
            "action_id": ids.ACTION_ROW_MORE,
            "block_id": row["block_id"],
            "selected_option": {"value": f"email:{mpid}"},
        },
        expect_response=False,
    )
    return app.opened_after(seen)


def _with_state(view, **fields):
    return {**view, "state": {"values": input_values(**fields)}}


def test_preview_renders_for_the_chosen_recipient(app):
    page = app.command("U0001")
    page = app.click("U0001", page, tick(rows(page)[0]))
    page = app.click("U0001", page, tick(rows(page)[1]))
    seen = len(app.standin.view_log)
    app.click("U0001", page, button(page, ids.ACTION_EMAIL_PICKED), expect_response=False)
    form = app.opened_after(seen)
    filled = _with_state(
        form,
        sender_name="Ann",
        reply_to="ann@brand.example",
        subject="Hi {firstName}",
        content="Dear {firstName} of {mpname}",
    )
    app.click_in_view("U0001", filled, button(filled, ids.ACTION_COMPOSE_PREVIEW))
    preview = app.opened_after(seen, "views.push")
    assert "Dear Name0 of Shop 00" in json.dumps(preview) and "Hi Name0" in json.dumps(preview)
    app.click_in_view(
        "U0001",
        preview,
        {
            "type": "static_select",
            "action_id": ids.ACTION_PREVIEW_FOR,
            "block_id": ids.BLOCK_PREVIEW_FOR,
            "selected_option": {"value": "c001"},
        },
    )
    other = wait_for(
        lambda: [v for m, v in app.standin.view_log if m == "views.update" and "Dear Name1" in json.dumps(v)],
        what="the preview for c001",
    )[-1]
    assert "Dear Name1 of Shop 01" in json.dumps(other)


def test_send_test_to_me_emails_only_the_author(app, smtp_server):
    form = _email_form(app)
    filled = _with_state(
        form,
        sender_name="Ann",
        reply_to="ann@brand.example",
        subject="Offer for {mpname}",
        content="Hello {firstName}",
    )
    app.click_in_view("U0001", filled, button(filled, ids.ACTION_COMPOSE_SEND_TEST))
    (test,) = wait_for(smtp_server.messages, what="the test e-mail")
    assert test["To"] == "ann@brand.example" and test["Subject"] == "[TEST] Offer for Shop 00"
    assert "Hello Name0" in test.get_body(("plain",)).get_content()
    dm = wait_for(
        lambda: [c for c in app.standin.calls_to("chat.postMessage") if "test" in c.args.get("text", "")],
        what="the DM",
    )[-1]
    assert "ann@brand.example" in dm.args["text"]


def test_closing_the_form_keeps_the_draft_and_drafts_lists_it(app, smtp_server):
    form = _email_form(app)
    typed = input_values(
        sender_name="Ann", reply_to="ann@brand.example", subject="Kept subject", content="Kept body"
    )
    assert app.close("U0001", form, typed).status == 200  # the form asks to hear of it (notify_on_close)
    listing = wait_for(
        lambda: (m := app.command("U0001", "drafts")) and "Kept subject" in json.dumps(m) and m,
        what="the draft in the list",
    )
    sent = app.click("U0001", listing, button(listing, ids.ACTION_DRAFT_SEND))
    assert "Sending to 1 recipient" in json.dumps(sent)
    wait_for(smtp_server.messages, what="the e-mail")
    assert smtp_server.messages()[0]["Subject"] == "Kept subject"


def test_an_untouched_form_closed_leaves_no_draft_and_delete_removes_one(app):
    form = _email_form(app)
    app.close("U0001", form, {})
    wait_for(lambda: not app.services.compose.drafts("T0001", "U0001"), what="no drafts")
    form = _email_form(app)
    filled = _with_state(form, subject="To delete", content="x", sender_name="A", reply_to="a@brand.example")
    app.click_in_view("U0001", filled, button(filled, ids.ACTION_COMPOSE_SAVE_DRAFT))
    wait_for(lambda: app.services.compose.drafts("T0001", "U0001"), what="the saved draft")
    listing = app.command("U0001", "drafts")
    after = app.click("U0001", listing, button(listing, ids.ACTION_DRAFT_DELETE))
    assert "Draft deleted" in json.dumps(after) and app.services.compose.drafts("T0001", "U0001") == []


def test_retry_failed_sends_again_to_the_failed_recipients_only(app, smtp_server):
    smtp_server.refuse_data(
        "s1@shop.example"
    )  # the message refused (not the address: that would suppress it)
    page = app.command("U0001")
    page = app.click("U0001", page, tick(rows(page)[0]))
    page = app.click("U0001", page, tick(rows(page)[1]))
    seen = len(app.standin.view_log)
    app.click("U0001", page, button(page, ids.ACTION_EMAIL_PICKED), expect_response=False)
    form = app.opened_after(seen)
    app.submit(
        "U0001",
        form,
        input_values(sender_name="Ann", reply_to="ann@brand.example", subject="Hi", content="Hello"),
    )
    summary = wait_for(
        lambda: [
            c
            for c in app.standin.calls_to("chat.update") + app.standin.calls_to("chat.postMessage")
            if ids.ACTION_RETRY_FAILED in json.dumps(c.args)
        ],
        what="the summary",
    )[-1]
    assert "*Failed:* 1" in json.dumps(summary.args)
    smtp_server.accept("s1@shop.example")
    dm = app.message_with(ids.ACTION_RETRY_FAILED)
    retry = button(dm, ids.ACTION_RETRY_FAILED)
    app.click("U0001", dm, retry)  # the summary, a DM (not ephemeral): the action carries the message
    wait_for(lambda: len(smtp_server.messages()) == 2, what="the retried e-mail")
    assert sorted(m["To"] for m in smtp_server.messages()) == ["s0@shop.example", "s1@shop.example"]
    draft_id = int(retry["value"])
    wait_for(
        lambda: app.services.compose.report("T0001", "U0001", draft_id).draft.status is DraftStatus.SENT,
        what="the draft to be sent",
    )
