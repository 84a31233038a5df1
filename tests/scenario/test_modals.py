"""Modals as Slack has them (SLACK.md §8.4–5): a trigger lasts 3 seconds, so the modal opens first and is filled
after; a closed modal is gone, so what it was to say goes to the DM; a stale hash is retried once; at most 3
views are stacked."""

from __future__ import annotations

import json

import pytest

from bot import ids
from bot.devtools.harness import button, full_app, input_values, more, rows, wait_for
from bot.users import Profile
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.cache import StampedCache
from outreach.models import Partner
from tests.attachment_samples import pdf

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]


@pytest.fixture
def app(scenario_settings):
    with full_app(scenario_settings(senders_usergroup="S0SEND")) as running:
        running.standin.usergroups["S0SEND"] = ["U0001"]
        partners = [
            Partner("T0001", f"p{i}", f"Agency {i}", f"First{i}", "Doe", f"p{i}@agency.example")
            for i in range(3)
        ]
        with running.services.uow() as uow:
            uow.partners.upsert_many(
                "T0001", partners, mark_prospects={p.mpid for p in partners}, marked_by="U0001"
            )
            uow.commit()
        yield running


FIELDS = {
    "sender_name": "Ann",
    "reply_to": "ann@brand.example",
    "subject": "Hi",
    "content": "Hello {firstName}",
}


def methods_between(app, start, stop_method):
    """The Web API methods called from call ``start`` up to the first ``stop_method``."""
    called = [c.method for c in app.standin.calls[start:]]
    return called[: called.index(stop_method)] if stop_method in called else called


def dm_with(app, text):
    return wait_for(lambda: app.message_with(text), what=f"a DM with {text!r}")


def forget_profiles(app):
    """As for a user the app has not met in a while: no profile known in this process."""
    app.services.profiles._kept = StampedCache[tuple[str, str], Profile](600)


def test_the_modal_opens_before_any_lookup_and_is_filled_after(app):
    page = app.command("U0001")
    page = app.click("U0001", page, button(page, ids.ACTION_SELECT_ALL))
    forget_profiles(app)
    app.standin.fail("users.info", status=429, times=1, retry_after=1)
    calls, seen = len(app.standin.calls), len(app.standin.view_log)
    app.click("U0001", page, button(page, ids.ACTION_EMAIL_PICKED), expect_response=False)
    form = app.opened_after(seen)
    assert methods_between(app, calls, "views.open") == []  # the first call: no users.info, no user group
    assert form["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL and "First2 Doe (Agency 2)" in json.dumps(form)
    later = [c.method for c in app.standin.calls[calls:]]
    assert later.index("views.open") < later.index("users.info") < later.index("views.update")
    assert later.index("views.open") < later.index("usergroups.users.list")


def test_an_expired_trigger_is_told_in_a_dm(app):
    page = app.command("U0001")
    app.standin.slow(
        "views.open", 3.2
    )  # Slack takes the call after the trigger's 3 seconds: expired_trigger_id
    app.click("U0001", page, more(rows(page)[0], "email"), expect_response=False)
    notice = dm_with(app, "click again")
    assert "3 seconds" in notice["text"]
    assert app.services.compose.drafts("T0001", "U0001") == []


def test_a_form_closed_while_being_prepared_leaves_no_draft(app):
    page = app.command("U0001")
    forget_profiles(app)
    app.standin.slow("users.info", 1.0)  # the form is filled only after this answer
    seen = len(app.standin.view_log)
    app.click("U0001", page, more(rows(page)[0], "email"), expect_response=False)
    preparing = wait_for(
        lambda: [v for m, v in app.standin.view_log[seen:] if m == "views.open"], what="the Preparing view"
    )[0]
    assert preparing["callback_id"] == ids.CALLBACK_PREPARING
    app.close("U0001", preparing)
    wait_for(lambda: app.standin.calls_to("views.update"), what="the app trying to fill it")
    wait_for(lambda: app.services.compose.drafts("T0001", "U0001") == [], what="no draft left")


def test_a_verdict_on_files_reaches_the_dm_when_the_modal_was_closed_and_sends_once(app, smtp_server):
    page = app.command("U0001")
    form = app.open_form("U0001", page, more(rows(page)[0], "email"))
    upload = app.standin.add_file("offer.pdf", pdf(b"offer"), "application/pdf")
    app.standin.slow("files.download", 1.0)  # the scan is still running when the user closes the modal
    answer = app.submit("U0001", form, input_values(**FIELDS, attachments=[upload]))
    assert answer.json()["response_action"] == "update"
    app.close("U0001", form)
    dm = dm_with(app, "Sending to 1 recipient")
    assert "offer.pdf" in json.dumps(dm)
    wait_for(lambda: len(smtp_server.messages()) == 1, what="the e-mail")
    assert [m["To"] for m in smtp_server.messages()] == ["p0@agency.example"]  # once


def test_files_refused_while_the_modal_was_closed_are_named_in_the_dm_with_open(app, smtp_server):
    page = app.command("U0001")
    form = app.open_form("U0001", page, more(rows(page)[0], "email"))
    infected = app.standin.add_file("contacts.csv", eicar_test_bytes(), "text/csv")
    app.standin.slow("files.download", 1.0)
    app.submit("U0001", form, input_values(**FIELDS, attachments=[infected]))
    app.close("U0001", form)
    dm = dm_with(app, "contacts.csv")
    assert "EICAR" in json.dumps(dm) and ids.ACTION_DRAFT_OPEN in json.dumps(dm)
    # Open, from the DM, brings the kept draft back in a new modal.
    seen = len(app.standin.view_log)
    app.click("U0001", dm, button(dm, ids.ACTION_DRAFT_OPEN), expect_response=False)
    reopened = app.opened_after(seen)
    assert reopened["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL and "Hello {firstName}" in json.dumps(
        reopened
    )
    assert smtp_server.messages() == []


def test_a_stale_hash_is_retried_once_on_the_view_as_it_is(app):
    page = app.command("U0001")
    page = app.click("U0001", page, button(page, ids.ACTION_SELECT_ALL))
    form = app.open_form("U0001", page, button(page, ids.ACTION_EMAIL_PICKED))
    seen = len(app.standin.view_log)
    app.click_in_view(
        "U0001",
        {**form, "state": {"values": input_values(**FIELDS)}},
        button(form, ids.ACTION_COMPOSE_PREVIEW),
    )
    preview = app.opened_after(seen, "views.push")
    choose = {"action_id": ids.ACTION_PREVIEW_FOR, "block_id": ids.BLOCK_PREVIEW_FOR}
    app.click_in_view("U0001", preview, {**choose, "selected_option": {"value": "p1"}})
    wait_for(lambda: "Hello First1" in json.dumps(app.standin.open_view(preview["id"])), what="p1's preview")
    # A second choice sent with the hash of the view as it was before the first one was shown:
    stale = app.team("T0001").block_actions(
        "U0001",
        [{"type": "static_select", **choose, "selected_option": {"value": "p2"}}],
        container={"type": "view", "view_id": preview["id"]},
        view=preview,
    )
    assert stale.status == 200
    wait_for(lambda: "Hello First2" in json.dumps(app.standin.open_view(preview["id"])), what="p2's preview")


def test_no_flow_stacks_more_than_three_views(app, smtp_server):
    market = app.command("U0001", "marketplace partners")
    seen = len(app.standin.view_log)
    app.click("U0001", market, button(market, ids.ACTION_MARKET_OPEN, "p0"), expect_response=False)
    card = app.opened_after(seen)
    app.click_in_view("U0001", card, button(card, ids.ACTION_MARKET_EMAIL))
    form = app.opened_after(seen, "views.push")  # 2: the card, the form
    infected = app.standin.add_file("contacts.csv", eicar_test_bytes(), "text/csv")
    app.submit("U0001", form, input_values(**FIELDS, attachments=[infected]))
    verdict = wait_for(
        lambda: (v := app.standin.open_view(form["id"])) and ids.ACTION_DRAFT_OPEN in json.dumps(v) and v,
        what="the verdict",
    )
    app.click_in_view("U0001", verdict, button(verdict, ids.ACTION_DRAFT_OPEN))  # replaces the verdict
    again = wait_for(
        lambda: (
            (v := app.standin.open_view(form["id"])) and v["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL and v
        ),
        what="the form again, in place of the verdict",
    )
    pushed = len(app.standin.view_log)
    app.click_in_view(
        "U0001",
        {**again, "state": {"values": input_values(**FIELDS)}},
        button(again, ids.ACTION_COMPOSE_PREVIEW),
    )
    preview = app.opened_after(pushed, "views.push")  # 3: the card, the form, its preview
    assert preview["callback_id"] == ids.CALLBACK_PREVIEW
    assert len(app.standin.stacks[card["id"]]) == 3


def test_a_file_download_redirected_outside_slack_is_refused_naming_the_file(app, smtp_server):
    page = app.command("U0001")
    form = app.open_form("U0001", page, more(rows(page)[0], "email"))
    upload = app.standin.add_file("offer.pdf", pdf(b"offer"), "application/pdf")
    port = app.standin.base_url.rsplit(":", 1)[1]
    # The same server, under a name that is not Slack's:
    app.standin.redirect_files_to(f"http://localhost:{port}")
    submitted = len(app.standin.view_log)
    app.submit("U0001", form, input_values(**FIELDS, attachments=[upload]))
    verdict = wait_for(
        lambda: [v for m, v in app.standin.view_log[submitted:] if m == "views.update"], what="the verdict"
    )[-1]
    text = json.dumps(verdict)
    assert "offer.pdf" in text and "outside Slack" in text
    assert {host.split(":")[0] for host, _, _ in app.standin.file_hits} == {"127.0.0.1"}  # the token stayed
    assert smtp_server.messages() == []
