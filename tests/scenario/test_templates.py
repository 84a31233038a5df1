"""Shared templates, driven as Slack drives the app (signed requests, the stand-in Web API, real SMTP, clamd and
database): saved from the form with its checked file, found in the menu by part of its name, filling another
user's form, sent with its file byte for byte, then listed, edited (new files checked and scanned before they
join it), used and deleted — by its author or an admin only — and never seen from another workspace."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import ids
from bot.devtools.harness import button, full_app, input_values, rows, tick, wait_for
from bot.devtools.slack_standin import SlackUser
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.models import Ad, AdType, Channel, Partner, Template
from tests.attachment_samples import pdf, png

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]

USERS = (
    SlackUser("U0001", "ann", "Ann Lee", "ann@brand.example"),
    SlackUser("U0002", "wei", "张伟", "wei@brand.example", tz="Asia/Shanghai", locale="zh-CN"),
    SlackUser("U0003", "ada", "Ada Admin", "ada@brand.example", is_admin=True),
    SlackUser("U0009", "eve", "Eve Other", "eve@other.example", team_id="T0002"),
)
DECK = pdf(b"Our media kit")


@pytest.fixture
def app(scenario_settings):
    with full_app(scenario_settings(), users=USERS, from_a_link=True) as running:
        running.install("T0001", "U0001")  # each workspace with its own token, as Slack has it
        running.install("T0002", "U0009")
        with running.services.uow() as uow:
            partners = [
                Partner("T0001", f"a{i:03d}", f"Agency {i}", f"First{i}", f"Last{i}", f"p{i}@agency.example")
                for i in range(5)
            ]
            uow.partners.upsert_many(
                "T0001", partners, mark_prospects={p.mpid for p in partners}, marked_by="U1"
            )
            other = [Partner("T0002", "b001", "Other Co", "Bo", "Ba", "bo@other.example")]
            uow.partners.upsert_many("T0002", other, mark_prospects={"b001"}, marked_by="U0009")
            uow.ads.upsert_many(
                "T0001", [Ad("T0001", "42", "Sale", AdType.TEXT_LINK, "https://shop.example", "Shop")]
            )
            uow.commit()
        yield running


def text_value(value: str) -> dict[str, Any]:
    return {ids.ACTION_INPUT: {"type": "plain_text_input", "value": value}}


def ticked(block: dict[str, Any]) -> dict[str, Any]:
    """A checkboxes input with every option ticked (as the form shows it)."""
    return {ids.ACTION_INPUT: {"type": "checkboxes", "selected_options": block["element"]["options"]}}


def block(view: dict[str, Any], base: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if ids.base_of(b.get("block_id", "")) == base)


def email_form(app, user: str, *mpids_at: int, team: str = "T0001") -> dict[str, Any]:
    page = app.command(user, team=team)
    for at in mpids_at:
        page = app.click(user, page, tick(rows(page)[at]), team=team)
    return app.open_form(user, page, button(page, ids.ACTION_EMAIL_PICKED), team=team)


def test_a_template_goes_from_one_form_to_a_teammates_send_and_is_managed_from_its_list(app, smtp_server):
    # Ann writes an e-mail with a file and saves it as a template: the file is checked (clamd) and kept.
    form = email_form(app, "U0001", 1)
    upload = app.standin.add_file("kit.pdf", DECK, "application/pdf")
    typed = input_values(
        sender_name="Ann Lee",
        reply_to="ann@brand.example",
        subject="Bonjour {firstName}",
        content="Dear {firstName} of {mpname}, {adcode_42}",
        attachments=[upload],
    )
    seen = len(app.standin.view_log)
    app.click_in_view(
        "U0001", {**form, "state": {"values": typed}}, button(form, ids.ACTION_COMPOSE_SAVE_TEMPLATE)
    )
    pushed = app.opened_after(seen, "views.push")
    assert pushed["callback_id"] == ids.CALLBACK_TEMPLATE
    files = block(pushed, ids.BLOCK_TEMPLATE_FILES)
    assert [o["text"]["text"] for o in files["element"]["options"]] == ["kit.pdf"]
    # The form underneath now lists the file as attached, its upload box emptied (a new block id).
    under = app.standin.open_view(form["id"])
    assert "kit.pdf" in json.dumps(block(under, ids.BLOCK_KEPT_FILES))
    assert block(under, ids.BLOCK_ATTACHMENTS)["block_id"] == "attachments~1"

    values = {
        ids.BLOCK_TEMPLATE_NAME: text_value("Intro FR"),
        ids.BLOCK_TEMPLATE_SUBJECT: text_value("Bonjour {frstName}"),
        ids.BLOCK_TEMPLATE_CONTENT: text_value("Dear {firstName}, {adcode_x}"),
        ids.BLOCK_TEMPLATE_FILES: ticked(files),
    }
    errors = app.submit("U0001", pushed, values).json()
    assert errors["response_action"] == "errors"
    assert "{firstName}" in errors["errors"][ids.BLOCK_TEMPLATE_SUBJECT]  # the suggestion for {frstName}
    assert "adcode_x" in errors["errors"][ids.BLOCK_TEMPLATE_CONTENT]
    values[ids.BLOCK_TEMPLATE_SUBJECT] = text_value("Bonjour {firstName}")
    values[ids.BLOCK_TEMPLATE_CONTENT] = text_value("Dear {firstName} of {mpname}, {adcode_42}")
    saved = app.submit("U0001", pushed, values).json()
    assert saved["response_action"] == "update" and "Intro FR" in json.dumps(saved["view"])
    (template,) = app.services.templates.search("T0001", "")
    # The same name in other capitals is a clear error on the name.
    seen = len(app.standin.view_log)
    app.click_in_view("U0001", under, button(under, ids.ACTION_COMPOSE_SAVE_TEMPLATE))
    again = app.opened_after(seen, "views.push")
    clash = app.submit("U0001", again, {**values, ids.BLOCK_TEMPLATE_NAME: text_value("intro fr")}).json()
    assert "already has a template named" in clash["errors"][ids.BLOCK_TEMPLATE_NAME]

    # Wei, a teammate, finds it in the menu of his own form by part of its name; Eve's workspace never does.
    wei = email_form(app, "U0002", 3)
    sim = app.team("T0001")
    shown = sim.suggest("U0002", wei["id"], ids.BLOCK_TEMPLATE_MENU, ids.ACTION_TEMPLATE_MENU, "tro f")
    assert [(o["text"]["text"], o["value"]) for o in shown] == [("Intro FR", str(template.id))]
    assert sim.suggest("U0002", wei["id"], ids.BLOCK_TEMPLATE_MENU, ids.ACTION_TEMPLATE_MENU, "zzz") == []
    eve = email_form(app, "U0009", 0, team="T0002")
    theirs = app.team("T0002").suggest(
        "U0009", eve["id"], ids.BLOCK_TEMPLATE_MENU, ids.ACTION_TEMPLATE_MENU, ""
    )
    assert theirs == []

    # Picking it fills Subject, Content and the file; the sender name Wei typed stays his.
    sim.suggest("U0002", wei["id"], ids.BLOCK_TEMPLATE_MENU, ids.ACTION_TEMPLATE_MENU, "intro")
    typed = input_values(
        sender_name="Wei Zhang", reply_to="wei@brand.example", subject="mine", content="mine"
    )
    pick = {
        "type": "external_select",
        "action_id": ids.ACTION_TEMPLATE_MENU,
        "block_id": ids.BLOCK_TEMPLATE_MENU,
        "selected_option": {"value": str(template.id)},
    }
    updates = len(app.standin.calls_to("views.update"))
    app.click_in_view("U0002", {**wei, "state": {"values": typed}}, pick)
    wait_for(lambda: len(app.standin.calls_to("views.update")) > updates, what="the form filled")
    update = app.standin.calls_to("views.update")[-1]
    assert update.args.get("hash") == wei["hash"]  # written over the form as the user saw it
    filled = app.standin.open_view(wei["id"])
    subject, content = block(filled, ids.BLOCK_SUBJECT), block(filled, ids.BLOCK_CONTENT)
    assert (subject["block_id"], content["block_id"]) == (
        "subject~1",
        "content~1",
    )  # new ids: Slack shows them
    assert subject["element"]["initial_value"] == "Bonjour {firstName}"
    assert content["element"]["initial_value"] == "Dear {firstName} of {mpname}, {adcode_42}"
    assert (
        block(filled, ids.BLOCK_SENDER_NAME)["block_id"] == ids.BLOCK_SENDER_NAME
    )  # kept: what he typed stays
    kept = block(filled, ids.BLOCK_KEPT_FILES)

    # He sends it: the e-mail carries the template's file, byte for byte, scanned again on the way out.
    sent = {
        ids.BLOCK_SENDER_NAME: text_value("Wei Zhang"),
        ids.BLOCK_REPLY_TO: {ids.ACTION_INPUT: {"type": "email_text_input", "value": "wei@brand.example"}},
        subject["block_id"]: text_value(subject["element"]["initial_value"]),
        content["block_id"]: text_value(content["element"]["initial_value"]),
        kept["block_id"]: ticked(kept),
    }
    answer = app.submit("U0002", filled, sent)
    assert answer.json()["response_action"] == "update", answer.json()
    (email,) = wait_for(smtp_server.messages, what="the e-mail")
    assert email["To"] == "p3@agency.example" and email["Subject"] == "Bonjour First3"
    assert "Dear First3 of Agency 3" in email.get_body(("plain",)).get_content()
    (attachment,) = list(email.iter_attachments())
    assert attachment.get_filename() == "kit.pdf" and attachment.get_content() == DECK

    # The list: Wei may neither delete nor edit Ann's template; Ann edits it; Ada, an admin, deletes it.
    listing = app.command("U0002", "templates")
    assert "Intro FR" in json.dumps(listing, ensure_ascii=False)
    refused = app.click("U0002", listing, button(listing, ids.ACTION_TEMPLATE_DELETE, str(template.id)))
    assert "<@U0001>" in json.dumps(refused, ensure_ascii=False) and "管理员" in json.dumps(
        refused, ensure_ascii=False
    )
    assert app.services.templates.search("T0001", "intro")
    notice = app.open_form("U0002", listing, button(listing, ids.ACTION_TEMPLATE_EDIT, str(template.id)))
    assert notice["callback_id"] == ids.CALLBACK_TEMPLATE and "submit" not in notice

    mine = app.command("U0001", "templates")
    edit = app.open_form("U0001", mine, button(mine, ids.ACTION_TEMPLATE_EDIT, str(template.id)))
    assert block(edit, ids.BLOCK_TEMPLATE_NAME)["element"]["initial_value"] == "Intro FR"
    edited = {
        **values,
        ids.BLOCK_TEMPLATE_NAME: text_value("Intro FR v2"),
        ids.BLOCK_TEMPLATE_FILES: ticked(block(edit, ids.BLOCK_TEMPLATE_FILES)),
    }
    assert app.submit("U0001", edit, edited).json()["response_action"] == "update"
    assert [t.name for t in app.services.templates.search("T0001", "")] == ["Intro FR v2"]

    # Use opens the form for the prospects Ann ticked (a001), filled from the template.
    mine = app.command("U0001", "templates")
    used = app.open_form("U0001", mine, button(mine, ids.ACTION_TEMPLATE_USE, str(template.id)))
    assert used["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL
    assert block(used, ids.BLOCK_SUBJECT)["element"]["initial_value"] == "Bonjour {firstName}"
    assert "Agency 1" in json.dumps(block(used, ids.BLOCK_RECIPIENTS)) and "kit.pdf" in json.dumps(used)

    admin = app.command("U0003", "templates")
    after = app.click("U0003", admin, button(admin, ids.ACTION_TEMPLATE_DELETE, str(template.id)))
    assert "deleted" in json.dumps(after) and app.services.templates.search("T0001", "") == []

    # Another workspace's list never shows ours.
    assert "Intro FR" not in json.dumps(app.command("U0009", "templates", team="T0002"))


def test_editing_a_template_adds_new_files_once_checked_and_names_those_refused(app):
    with app.services.uow() as uow:
        now = datetime.now(UTC)
        template = uow.templates.add(
            Template("T0001", "U0001", "Plain", Channel.EMAIL, "Hello", "Hi {firstName}", (), None, now, now)
        )
        uow.commit()
    mine = app.command("U0001", "templates")
    edit = app.open_form("U0001", mine, button(mine, ids.ACTION_TEMPLATE_EDIT, str(template.id)))
    box = block(edit, ids.BLOCK_TEMPLATE_UPLOAD)
    assert box["element"]["type"] == "file_input" and box["element"]["max_files"] == 10
    good = app.standin.add_file("logo.png", png(), "image/png")
    bad = app.standin.add_file("invoice.pdf", pdf(eicar_test_bytes()), "application/pdf")
    values = {
        ids.BLOCK_TEMPLATE_NAME: text_value("Plain"),
        ids.BLOCK_TEMPLATE_SUBJECT: text_value("Hello"),
        ids.BLOCK_TEMPLATE_CONTENT: text_value("Hi {firstName}"),
        ids.BLOCK_TEMPLATE_UPLOAD: {ids.ACTION_INPUT: {"type": "file_input", "files": [good, bad]}},
    }
    answer = app.submit("U0001", edit, values).json()
    assert answer["response_action"] == "update" and "Checking 2 new file(s)" in json.dumps(answer["view"])
    shown = wait_for(
        lambda: (
            (v := app.standin.modals.views.get(edit["id"])) and "with 1 new file(s)" in json.dumps(v) and v
        ),
        what="the checked files' notice",
    )
    assert "invoice.pdf" in json.dumps(shown)  # named as refused
    kept = app.services.templates.get("T0001", template.id)
    assert [a.filename for a in kept.attachments] == ["logo.png"]
    assert kept.attachments[0].data == png()
