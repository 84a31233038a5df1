"""What the compose form shows for each outcome of its use cases: pure builders, checked against Slack's models."""

from __future__ import annotations

import json

from slack_sdk.models.views import View

from bot import ids
from bot.blocks.compose import read_confirmation
from bot.blocks.compose_flow import build_sent_view, closed_dm, submission_answer
from bot.i18n import Translator
from outreach.compose import ComposeState, SendPlan
from outreach.compose_flow import Gone, Invalid, NotAllowed, Planned, PlanRefused, Unconfirmed
from outreach.errors import Problem
from outreach.models import Channel, Draft, Recipient

T = Translator()
STATE = ComposeState(
    Draft("T1", "U1", Channel.EMAIL, subject="Hi {firstName}", content="Dear {firstName}", id=7),
    (Recipient("m1", "Acme", "Ann"), Recipient("m2", "Bolt")),
    recipient_count=2,
)
EMPTY = Problem("content", "missing_value", "{firstName} is empty for 1 recipient: Bolt (m2)")
FORM_BLOCKS = {ids.BLOCK_SUBJECT, ids.BLOCK_CONTENT, ids.BLOCK_REPLY_TO, ids.BLOCK_SENDER_NAME}


def answer(outcome):
    return submission_answer(outcome, 7, Channel.EMAIL, T, usergroup="S042", present=FORM_BLOCKS)


def test_what_blocks_a_send_is_shown_next_to_the_fields():
    assert answer(Gone()) == {"response_action": "errors", "errors": {ids.BLOCK_CONTENT: T("compose.gone")}}
    refused = answer(NotAllowed(Channel.EMAIL))["errors"][ids.BLOCK_CONTENT]
    assert "<!subteam^S042>" in refused
    invalid = answer(Invalid((Problem("subject", "required", "Write a subject."),)))
    assert invalid == {"response_action": "errors", "errors": {ids.BLOCK_SUBJECT: "Write a subject."}}


def test_unconfirmed_warnings_bring_the_form_back_with_them_and_their_digest():
    got = answer(Unconfirmed(STATE, (EMPTY,), "abc123"))
    view = got["view"]
    assert got["response_action"] == "update" and view["callback_id"] == ids.CALLBACK_COMPOSE_EMAIL
    assert read_confirmation(view["private_metadata"]) == "abc123"
    assert "Bolt (m2)" in json.dumps(view, ensure_ascii=False) and T(
        "compose.warnings_confirm"
    ) in json.dumps(view, ensure_ascii=False)
    View(**view).validate_json()
    text, blocks = closed_dm(view, 7, T)  # closed before "Send again": the DM names the warnings, with Open
    assert "Bolt (m2)" in text and blocks[-1]["elements"][0]["value"] == "7"


def test_a_stored_plan_says_how_many_it_goes_to_and_a_refused_one_why():
    planned = build_sent_view(Planned(SendPlan(7, 2, 0), ("deck.pdf",)), 7, Channel.EMAIL, T)
    assert "deck.pdf" in json.dumps(planned) and planned["callback_id"] == ids.CALLBACK_CHECKING
    assert closed_dm(planned, 7, T)[1] == planned["blocks"]  # the verdict itself goes to the DM
    refused = build_sent_view(
        PlanRefused((Problem("attachments", "not_scanned", "x.pdf: not scanned"),)), 7, Channel.EMAIL, T
    )
    assert "x.pdf: not scanned" in json.dumps(refused)
    View(**planned).validate_json()
    View(**refused).validate_json()
