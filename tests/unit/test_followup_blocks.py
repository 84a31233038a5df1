"""The Slack side of follow-ups and send later, as pure builders and parsers: the form's steps and time picker
(within a modal's 100 blocks, each step's blocks under a key of its own so a rewrite keeps every other block's
ids), the form read back, the drafts list and a step's summary in the send's thread — all checked as Slack checks
them (bot/devtools/slack_payloads.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot import ids
from bot.blocks.compose import ComposeScreen, FollowupLine, RecipientLine, build_compose_view
from bot.blocks.compose_flow import FormKeys, screen_of, step_blocks, with_new_step
from bot.blocks.drafts import build_drafts, without_action
from bot.blocks.progress import build_progress, build_summary
from bot.devtools.slack_payloads import message_problems, view_problems
from bot.handlers.parsing import parse_compose_form
from bot.i18n import Translator
from bot.problems import block_errors
from outreach.compose import ComposeState, SendReport
from outreach.errors import Problem
from outreach.followups import SKIP_BOUNCED, SKIP_REPLIED, SKIP_TEAMMATE
from outreach.models import Channel, Delivery, DeliveryStatus, Draft, DraftStatus, FollowUp, Partner
from outreach.outbox import Listing, SendWithFollowups

T = Translator("en", "Europe/London")
AT = datetime(2038, 1, 19, 9, 0, tzinfo=UTC)


def form(**changes) -> ComposeScreen:
    base = ComposeScreen(
        7, Channel.EMAIL, (RecipientLine("m1", "Ann (Acme)"),), subject="Hi", content="Hello"
    )
    return ComposeScreen(**{**base.__dict__, **changes})


def input_ids(view: dict) -> list[tuple[str, str]]:
    return [(b["block_id"], b["element"]["action_id"]) for b in view["blocks"] if b["type"] == "input"]


def test_three_steps_and_the_picker_fit_a_modal_and_no_fourth_step_is_offered():
    steps = tuple(FollowupLine(k, k + 1, f"S{k}", f"C{k}") for k in (1, 4, 5))
    view = build_compose_view(form(followups=steps, next_key=6, zoned=2, send_at=AT, zone="Europe/London"), T)
    assert view_problems(view) == []
    assert len(view["blocks"]) <= 100
    assert not any(b.get("block_id") == ids.BLOCK_FOLLOWUP_ADD for b in view["blocks"])
    days = next(b for b in view["blocks"] if b.get("block_id") == ids.followup_block(4, "days"))["element"]
    assert (days["type"], days["initial_value"], days["min_value"], days["max_value"]) == (
        "number_input",
        "5",
        "1",
        "90",
    )
    picker = next(b for b in view["blocks"] if b.get("block_id") == ids.BLOCK_SEND_AT)
    assert picker["element"] == {
        "type": "datetimepicker",
        "action_id": ids.ACTION_INPUT,
        "initial_date_time": int(AT.timestamp()),
    }
    assert picker["optional"] and "Europe/London" in picker["hint"]["text"]
    assert any(b.get("block_id") == ids.BLOCK_SEND_LOCAL for b in view["blocks"])  # partners have zones
    assert json.loads(view["private_metadata"])["f"] == [1, 4, 5]


def test_adding_a_step_keeps_every_block_and_action_id_of_the_form_as_it_was():
    state = ComposeState(
        Draft(
            "T1", "U1", Channel.EMAIL, subject="Hi", content="Hello", id=7, followups=(FollowUp(3, "Ping"),)
        ),
        (),
        recipient_count=1,
    )
    before = build_compose_view(screen_of(state, form=FormKeys((2,), 3)), T)
    after = build_compose_view(with_new_step(screen_of(state, form=FormKeys((2,), 3))), T)
    assert view_problems(after) == []
    old, new = input_ids(before), input_ids(after)
    assert new[: len(old) - 1] == old[:-1]  # everything before "Send later" is where it was, ids unchanged
    assert (ids.followup_block(3, "content"), ids.ACTION_INPUT) in new
    assert json.loads(after["private_metadata"])["f"] == [2, 3]
    assert ids.followup_block(2, "content") in {b for b, _ in new}


def test_a_step_taken_out_never_lends_its_key_to_a_new_one():
    state = ComposeState(Draft("T1", "U1", Channel.MESSAGE, content="x", id=7), (), recipient_count=1)
    screen = screen_of(state, form=FormKeys((), 4))  # keys 1–3 were used, then removed
    added = with_new_step(screen)
    assert [f.key for f in added.followups] == [4] and added.next_key == 5
    view = build_compose_view(added, T)
    assert ids.followup_block(4, "subject") not in json.dumps(view)  # a message has no subject
    assert json.loads(view["private_metadata"]) == {"d": 7, "c": "message", "f": [4]}


def test_the_form_reads_back_steps_time_and_time_zone_choice_as_slack_sends_them():
    view = build_compose_view(form(followups=(FollowupLine(2), FollowupLine(5)), next_key=6, zoned=1), T)
    values = {
        ids.BLOCK_CONTENT: {ids.ACTION_INPUT: {"type": "plain_text_input", "value": "Hello"}},
        ids.followup_block(2, "days"): {ids.ACTION_INPUT: {"type": "number_input", "value": "4"}},
        ids.followup_block(2, "content"): {ids.ACTION_INPUT: {"type": "plain_text_input", "value": "Ping"}},
        ids.followup_block(2, "subject"): {ids.ACTION_INPUT: {"type": "plain_text_input", "value": None}},
        ids.followup_block(5, "days"): {ids.ACTION_INPUT: {"type": "number_input", "value": "-1"}},
        ids.followup_block(5, "content"): {ids.ACTION_INPUT: {"type": "plain_text_input", "value": "Last"}},
        ids.BLOCK_SEND_AT: {ids.ACTION_INPUT: {"type": "datetimepicker", "selected_date_time": 2147483000}},
        ids.BLOCK_SEND_LOCAL: {
            ids.ACTION_INPUT: {"type": "checkboxes", "selected_options": [{"value": "local"}]}
        },
    }
    parsed = parse_compose_form({**view, "state": {"values": values}})
    assert parsed.followup_keys == (2, 5) and parsed.next_key == 6
    fields = parsed.fields("Asia/Tokyo")
    assert fields.followups == (FollowUp(4, "Ping", ""), FollowUp(0, "Last", ""))
    assert fields.send_at == datetime.fromtimestamp(2147483000, UTC)
    assert fields.local_zone == "Asia/Tokyo"
    empty = {ids.BLOCK_SEND_AT: {ids.ACTION_INPUT: {"type": "datetimepicker", "selected_date_time": None}}}
    nothing = parse_compose_form({**view, "state": {"values": empty}}).fields("Asia/Tokyo")
    assert (nothing.send_at, nothing.local_zone) == (None, "")


def test_a_steps_problems_show_next_to_that_step_and_a_past_time_next_to_the_picker():
    problems = [
        Problem(
            "followup.2.days",
            "days_out_of_range",
            "Follow-up 2: wait between 1 and 90 days.",
            (("step", "2"), ("max", "90")),
        ),
        Problem("send_at", "in_the_past", "Pick a time in the future."),
    ]
    present = {ids.followup_block(5, "days"), ids.BLOCK_SEND_AT, ids.BLOCK_CONTENT}
    errors = block_errors(problems, Translator("zh-CN"), present, step_blocks((2, 5)))
    assert errors == {
        ids.followup_block(5, "days"): "跟进 2：请等待 1 到 90 天。",
        ids.BLOCK_SEND_AT: "请选择将来的时间。",
    }


def test_the_drafts_list_shows_scheduled_sends_and_follow_ups_with_their_buttons():
    scheduled = Draft(
        "T1",
        "U1",
        Channel.EMAIL,
        subject="Launch",
        id=3,
        send_at=AT,
        local_zone="Europe/London",
        status=DraftStatus.SCHEDULED,
    )
    root = Draft("T1", "U1", Channel.EMAIL, subject="Hello", id=4, status=DraftStatus.SENT, updated_at=AT)
    steps = (
        Draft("T1", "U1", Channel.EMAIL, id=5, parent_id=4, step=1, delay_days=3, status=DraftStatus.SENT),
        Draft("T1", "U1", Channel.EMAIL, id=6, parent_id=4, step=2, delay_days=7, status=DraftStatus.WAITING),
    )
    drafts = tuple(
        Draft("T1", "U1", Channel.EMAIL, subject=f"D{i}", id=10 + i, updated_at=AT) for i in range(20)
    )
    blocks = build_drafts(Listing(drafts, (scheduled,), (SendWithFollowups(root, steps),)), T)
    assert message_problems("x", blocks) == []
    text = json.dumps(blocks)
    assert "2038-01-19 at 09:00, each partner's time" in text
    assert "Follow-up 1 after 3 day(s): done" in text and "Follow-up 2 after 7 day(s): waiting" in text
    actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions[:3] == [ids.ACTION_SEND_NOW, ids.ACTION_UNSCHEDULE, ids.ACTION_FOLLOWUPS_CANCEL]
    assert "and 7 more" in text  # 15 entries shown within 50 blocks


def test_a_steps_summary_says_why_partners_were_skipped_and_offers_to_cancel_the_rest():
    step = Draft("T1", "U1", Channel.EMAIL, subject="Re: Hello", id=5, parent_id=4, step=1, delay_days=3)
    later = Draft(
        "T1", "U1", Channel.EMAIL, id=6, parent_id=4, step=2, delay_days=4, status=DraftStatus.WAITING
    )
    rows = tuple(
        (Delivery(5, f"m{i}", DeliveryStatus.SKIPPED, last_error=why), Partner("T1", f"m{i}", f"Shop {i}"))
        for i, why in enumerate((SKIP_REPLIED, SKIP_REPLIED, SKIP_BOUNCED, SKIP_TEAMMATE))
    )
    counts = {**dict.fromkeys(DeliveryStatus, 0), DeliveryStatus.SENT: 6, DeliveryStatus.SKIPPED: 4}
    blocks = build_summary(SendReport(step, rows, counts), T, (step, later))
    assert message_problems("x", blocks) == []
    text = json.dumps(blocks, ensure_ascii=False)
    assert "Follow-up 1" in text and "replied: 2" in text and "their address bounced: 1" in text
    assert "contacted by a teammate: 1" in text and "Shop 0 (m0) — replied" in text
    download, cancel = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert (download["action_id"], download["value"]) == (ids.ACTION_DOWNLOAD_RESULTS, "5")  # the step's own
    assert (cancel["action_id"], cancel["value"]) == (ids.ACTION_FOLLOWUPS_CANCEL, "4")
    last = build_summary(SendReport(later, (), counts), T, (step, later))
    assert ids.ACTION_FOLLOWUPS_CANCEL not in json.dumps(last)  # nothing comes after the last step


def test_the_sends_own_dm_lists_its_steps_until_they_are_over():
    root = Draft("T1", "U1", Channel.MESSAGE, content="Hello", id=4, followups=(FollowUp(3, "x"),))
    waiting = Draft(
        "T1", "U1", Channel.MESSAGE, id=5, parent_id=4, step=1, delay_days=3, status=DraftStatus.WAITING
    )
    counts = {**dict.fromkeys(DeliveryStatus, 0), DeliveryStatus.PENDING: 2}
    blocks = build_progress(root, counts, T, (waiting,))
    assert "Follow-ups: Follow-up 1 after 3 day(s): waiting" in json.dumps(blocks)
    clicked = {"block_id": f"followups~{root.id}", "action_id": ids.ACTION_FOLLOWUPS_CANCEL}
    left = without_action({"blocks": blocks}, clicked)
    assert ids.ACTION_FOLLOWUPS_CANCEL not in json.dumps(left) and len(left) == len(blocks) - 1
    done = build_progress(
        root,
        counts,
        T,
        (Draft("T1", "U1", Channel.MESSAGE, id=5, parent_id=4, step=1, status=DraftStatus.CANCELLED),),
    )
    assert ids.ACTION_FOLLOWUPS_CANCEL not in json.dumps(done)
