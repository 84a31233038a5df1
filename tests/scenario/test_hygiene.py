"""Contact hygiene over real HTTP and SMTP: one-click unsubscribe, bounces, suppressed recipients, teammates'
recent contacts."""

from __future__ import annotations

import json
import urllib.request

import pytest

from bot import ids
from bot.devtools.harness import full_app, input_values, rows, wait_for
from outreach.compose import DraftFields
from outreach.models import Channel, DeliveryStatus, DraftStatus, Partner

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]


@pytest.fixture
def app(scenario_settings):
    settings = scenario_settings()
    with full_app(settings) as running:
        with running.services.uow() as uow:
            uow.partners.upsert_many(
                "T0001",
                [
                    Partner("T0001", "p1", "Acme", "Al", "Ng", "al@acme.example"),
                    Partner("T0001", "p2", "Bolt", "Bo", "Li", "bo@bolt.example"),
                ],
                mark_prospects={"p1", "p2"},
                marked_by="U0001",
            )
            uow.commit()
        yield running


def send(app, author, mpids, subject="Hello"):
    state = app.services.compose.start("T0001", author, Channel.EMAIL, mpids)
    app.services.compose.save(
        "T0001", author, state.draft_id, DraftFields("Ann", "ann@brand.example", subject, "Hi")
    )
    app.services.compose.submit("T0001", author, state.draft_id)
    app.services.wake.set()
    wait_for(
        lambda: (
            app.services.compose.report("T0001", author, state.draft_id).draft.status
            is not DraftStatus.SENDING
        ),
        what="the send to end",
    )
    return state.draft_id


def post(url, body=b""):
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status, resp.read().decode()


def test_every_email_carries_a_one_click_unsubscribe_that_works(app, smtp_server):
    send(app, "U0001", ["p1"])
    (email,) = smtp_server.messages()
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(email["List-Unsubscribe"]).strip("<>")
    assert (
        url.startswith(app.server.url + "/unsubscribe?t=") and url in email.get_body(("plain",)).get_content()
    )
    with urllib.request.urlopen(url, timeout=10) as page:  # a GET (a link scanner) changes nothing
        assert page.status == 200 and "Unsubscribe al@acme.example?" in page.read().decode()
    with app.services.uow() as uow:
        assert uow.suppressions.among("T0001", ["al@acme.example"]) == {}
    status, _ = post(url, b"List-Unsubscribe=One-Click")
    assert status == 200
    with app.services.uow() as uow:
        assert uow.suppressions.among("T0001", ["AL@acme.example"]) == {"al@acme.example": "unsubscribed"}
    # From now on the address is named in the form and skipped.
    state = app.services.compose.start("T0001", "U0001", Channel.EMAIL, ["p1", "p2"])
    assert [p.mpid for p in state.recipients] == ["p2"]
    assert [(p.mpid, why) for p, why in state.skipped] == [("p1", "compose.skip.suppressed")]


def test_a_forged_unsubscribe_link_changes_nothing(app):
    with pytest.raises(urllib.error.HTTPError) as err:
        post(app.server.url + "/unsubscribe?t=e30.forged")
    assert err.value.code == 400
    err.value.close()


def test_an_address_unsubscribed_after_the_plan_was_stored_is_skipped(app, smtp_server):
    app.sender.stop()  # nothing goes out between the plan and the unsubscribe
    state = app.services.compose.start("T0001", "U0001", Channel.EMAIL, ["p1", "p2"])
    app.services.compose.save(
        "T0001", "U0001", state.draft_id, DraftFields("Ann", "ann@brand.example", "S", "Hi")
    )
    app.services.compose.submit("T0001", "U0001", state.draft_id)
    with app.services.uow() as uow:
        uow.suppressions.add("T0001", "al@acme.example", "unsubscribed")
        uow.commit()
    app.services.make_worker(None).run_until_idle()
    wait_for(smtp_server.messages, what="the e-mail")
    report = wait_for(
        lambda: (
            (r := app.services.compose.report("T0001", "U0001", state.draft_id)).draft.status
            is DraftStatus.SENT
            and r
        ),
        what="the end",
    )
    assert [m["To"] for m in smtp_server.messages()] == ["bo@bolt.example"]
    assert {d.mpid: d.status for d, _ in report.rows} == {
        "p1": DeliveryStatus.SKIPPED,
        "p2": DeliveryStatus.SENT,
    }


def test_a_hard_bounce_suppresses_the_address(app, smtp_server):
    smtp_server.refuse("bo@bolt.example", "550 5.1.1 No such user")
    send(app, "U0001", ["p2"])
    with app.services.uow() as uow:
        assert uow.suppressions.among("T0001", ["bo@bolt.example"]) == {"bo@bolt.example": "bounced"}


def test_the_form_warns_about_prospects_a_teammate_contacted_lately(app, smtp_server):
    send(app, "U0002", ["p1"])  # a teammate wrote to p1
    page = app.command("U0001")
    seen = len(app.standin.view_log)
    row = rows(page)[0]
    app.click(
        "U0001",
        page,
        {
            "type": "overflow",
            "action_id": ids.ACTION_ROW_MORE,
            "block_id": row["block_id"],
            "selected_option": {"value": "email:p1"},
        },
        expect_response=False,
    )
    form = app.opened_after(seen)
    values = input_values(sender_name="Ann", reply_to="ann@brand.example", subject="Hi", content="Hello")
    first = app.submit("U0001", form, values).json()
    text = json.dumps(first["view"])
    assert "contacted by a teammate in the last 7 days" in text and "<@U0002>" in text
    assert len(smtp_server.messages()) == 1  # nothing sent yet: the author decides
    again = app.submit(
        "U0001", {**form, "private_metadata": first["view"]["private_metadata"]}, values
    ).json()
    assert "Sending to 1 recipient" in json.dumps(again)
    wait_for(lambda: len(smtp_server.messages()) == 2, what="the second e-mail")
