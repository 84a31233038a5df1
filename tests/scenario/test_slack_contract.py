"""The stand-in refuses what Slack refuses and sends only what Slack sends (../shared/SLACK.md §8).

Each test names the rule it shows; the sources are in bot/devtools/slack_standin.py, slack_requests.py,
slack_limits.py and slack_payloads.py. The app is not involved: a real ``WebClient`` talks to the stand-in, and a
small HTTP endpoint records what the simulated Slack client posts.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.devtools.slack_requests import SlackClientSim
from bot.devtools.slack_standin import SlackStandIn, SlackUser

TOKEN = "xoxb-contract"


class Recorder:
    """An app endpoint that answers 200 and keeps every payload Slack's side posted."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                return

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                recorder.bodies.append({k: v[-1] for k, v in urllib.parse.parse_qs(raw).items()})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"

    def payload(self) -> dict:
        return json.loads(self.bodies[-1]["payload"])


@pytest.fixture
def slack():
    with SlackStandIn(bot_token=TOKEN) as standin:
        standin.add_user(SlackUser("U0001", "ann", "Ann Lee", "ann@brand.example"))
        yield standin


@pytest.fixture
def client(slack):
    return WebClient(token=TOKEN, base_url=slack.api_url)  # no retry handlers: we want Slack's own answers


@pytest.fixture
def app():
    recorder = Recorder()
    yield recorder
    recorder.server.shutdown()
    recorder.server.server_close()


@pytest.fixture
def user(slack, app):
    return SlackClientSim(app.url, "secret", slack=slack)


def post_to(url: str, body: dict) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read().decode()


MODAL = {
    "type": "modal",
    "callback_id": "c",
    "title": {"type": "plain_text", "text": "Title"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
}
BUTTONS = [
    {
        "type": "actions",
        "block_id": "b1",
        "elements": [
            {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}, "value": "v1"}
        ],
    }
]


# -- what Slack sends -----------------------------------------------------------------------------------------
def test_an_action_on_an_ephemeral_message_carries_no_message_and_no_state(slack, user, app):
    user.command("U0001", "/prospects")
    response_url = app.bodies[-1]["response_url"]
    assert post_to(response_url, {"response_type": "ephemeral", "text": "list", "blocks": BUTTONS})[0] == 200
    ((channel, ts),) = slack.writes
    shown = slack.message(channel, ts).snapshot()
    assert shown["is_ephemeral"] is True

    user.click("U0001", shown, {"action_id": "go", "block_id": "b1"})
    payload = app.payload()
    assert "message" not in payload and "state" not in payload
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": True,
    }
    assert payload["actions"][0]["value"] == "v1" and payload["actions"][0]["text"]["text"] == "Go"
    assert payload["response_url"] and payload["trigger_id"]


def test_an_action_on_a_regular_message_carries_the_message_and_its_state(slack, client, user, app):
    posted = client.chat_postMessage(channel="D0001", text="summary", blocks=BUTTONS)
    shown = slack.message("D0001", posted["ts"]).snapshot()
    user.click("U0001", shown, {"action_id": "go", "block_id": "b1"})
    payload = app.payload()
    assert payload["message"]["ts"] == posted["ts"] and payload["message"]["blocks"] == BUTTONS
    assert payload["state"] == {"values": {}} and payload["container"]["is_ephemeral"] is False


def test_slash_command_text_arrives_html_escaped(user, app):
    user.command("U0001", "/prospects", "H&M <b> & co")
    assert app.bodies[-1]["text"] == "H&amp;M &lt;b&gt; &amp; co"


def test_a_user_clicks_only_what_is_on_screen(slack, client, user):
    posted = client.chat_postMessage(channel="D0001", text="summary", blocks=BUTTONS)
    shown = slack.message("D0001", posted["ts"]).snapshot()
    with pytest.raises(AssertionError, match="no element"):
        user.click("U0001", shown, {"action_id": "go", "block_id": "other"})
    with pytest.raises(AssertionError, match="value"):
        user.click("U0001", shown, {"action_id": "go", "block_id": "b1", "value": "forged"})


def test_an_answer_after_three_seconds_is_dropped(slack):
    slow = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    try:
        sim = SlackClientSim(f"http://127.0.0.1:{slow.server_address[1]}/", "s", slack=slack, deadline=0.3)
        started = time.monotonic()
        answer = sim.command("U0001", "/prospects")
        assert answer.late and time.monotonic() - started < 1.0
    finally:
        slow.shutdown()
        slow.server_close()


class _Slow(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        return

    def do_POST(self):
        time.sleep(1.0)
        self.send_response(200)
        self.end_headers()


# -- triggers and views ---------------------------------------------------------------------------------------
def test_a_trigger_works_once_and_only_for_three_seconds(slack, client):
    trigger = slack.new_trigger("U0001")
    client.views_open(trigger_id=trigger, view=MODAL)
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id=trigger, view=MODAL)
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):
        client.views_open(trigger_id="1.2.made-up", view=MODAL)
    old = slack.new_trigger("U0001")
    slack.modals.triggers[old].issued -= 3.5  # issued three and a half seconds ago
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        client.views_open(trigger_id=old, view=MODAL)


def test_a_closed_view_is_gone_and_a_stale_hash_conflicts(slack, client):
    opened = client.views_open(trigger_id=slack.new_trigger("U0001"), view=MODAL)["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)["view"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert client.views_update(view_id=opened["id"], hash=updated["hash"], view=MODAL)["ok"]
    slack.close_view(opened["id"])
    with pytest.raises(SlackApiError, match="not_found"):
        client.views_update(view_id=opened["id"], view=MODAL)


def test_a_modal_holds_at_most_three_views(slack, client):
    root = client.views_open(trigger_id=slack.new_trigger("U0001"), view=MODAL)["view"]
    second = client.views_push(trigger_id=slack.new_trigger("U0001", root["id"]), view=MODAL)["view"]
    third = client.views_push(trigger_id=slack.new_trigger("U0001", second["id"]), view=MODAL)["view"]
    with pytest.raises(SlackApiError, match="push_limit_reached"):
        client.views_push(trigger_id=slack.new_trigger("U0001", third["id"]), view=MODAL)
    with pytest.raises(SlackApiError, match="not_found"):  # a push needs an open modal to push onto
        client.views_push(trigger_id=slack.new_trigger("U0001"), view=MODAL)


def test_a_plain_ack_closes_the_submitted_view_and_update_replaces_it(slack, client, user, app):
    opened = client.views_open(trigger_id=slack.new_trigger("U0001"), view=MODAL)["view"]
    version = slack.view_version(opened["id"])
    replaced = {**MODAL, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}]}
    assert (
        slack.answer_submission(opened["id"], version, {"response_action": "update", "view": replaced}) == []
    )
    assert slack.open_view(opened["id"])["blocks"] == replaced["blocks"]
    assert slack.answer_submission(opened["id"], slack.view_version(opened["id"]), None) == []
    assert slack.open_view(opened["id"]) is None


# -- payloads Slack refuses -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("blocks", "why"),
    [
        ([{"type": "divider"}] * 51, "51 blocks"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "3000"),
        ([{"type": "bogus"}], "unknown type"),
        ([{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}], "duplicate"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "checkboxes",
                            "action_id": "c",
                            "options": [
                                {"text": {"type": "plain_text", "text": str(i)}, "value": str(i)}
                                for i in range(11)
                            ],
                        }
                    ],
                }
            ],
            "11 options",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "b",
                            "text": {"type": "plain_text", "text": "b"},
                            "value": "v" * 2001,
                        }
                    ],
                }
            ],
            "2000",
        ),
    ],
)
def test_malformed_blocks_are_refused(slack, client, blocks, why):
    with pytest.raises(SlackApiError, match="invalid_blocks") as refused:
        client.chat_postMessage(channel="D0001", text="x", blocks=blocks)
    assert why in json.dumps(refused.value.response.data)


def test_a_modal_with_an_input_needs_a_submit_button_and_a_short_title(slack, client):
    with_input = {
        **MODAL,
        "blocks": [
            {
                "type": "input",
                "block_id": "i",
                "label": {"type": "plain_text", "text": "l"},
                "element": {"type": "plain_text_input", "action_id": "a"},
            }
        ],
    }
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_open(trigger_id=slack.new_trigger("U0001"), view=with_input)
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_open(trigger_id=slack.new_trigger("U0001"), view=long_title)


def test_chat_update_refuses_long_text_and_ephemeral_messages(slack, client, user, app):
    posted = client.chat_postMessage(channel="D0001", text="short")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        client.chat_update(channel="D0001", ts=posted["ts"], text="x" * 4001)
    user.command("U0001", "/prospects")
    post_to(app.bodies[-1]["response_url"], {"text": "ephemeral"})
    ephemeral = slack.writes[-1]
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.chat_update(channel=ephemeral[0], ts=ephemeral[1], text="changed")


def test_a_method_the_stand_in_does_not_know_is_not_a_made_up_success(client):
    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("chat.scheduleMessage", json={"channel": "D0001", "text": "x", "post_at": 1})


# -- response URLs --------------------------------------------------------------------------------------------
def test_a_response_url_serves_five_messages_and_a_command_has_no_original(slack, user, app):
    user.command("U0001", "/prospects")
    url = app.bodies[-1]["response_url"]
    assert post_to(url, {"replace_original": True, "text": "x"}) == (404, "message_not_found")
    for _ in range(4):  # the refused one above counts as a use
        assert post_to(url, {"text": "ok"})[0] == 200
    assert post_to(url, {"text": "one too many"}) == (404, "expired_url")
    assert post_to(url.replace("/response/", "/response/x"), {"text": "x"})[0] == 404


# -- rate tiers -----------------------------------------------------------------------------------------------
def test_chat_update_is_tier_3_with_retry_after(slack, client):
    posted = client.chat_postMessage(channel="D0001", text="progress")
    for i in range(50):
        client.chat_update(channel="D0001", ts=posted["ts"], text=f"{i}")
    with pytest.raises(SlackApiError) as limited:
        client.chat_update(channel="D0001", ts=posted["ts"], text="51st in a minute")
    assert limited.value.response.status_code == 429
    assert 1 <= int(limited.value.response.headers["Retry-After"]) <= 60
    assert [c.method for c in slack.rate_limited] == ["chat.update"]


def test_post_message_allows_a_short_burst_then_one_a_second_per_channel(client):
    for i in range(5):
        client.chat_postMessage(channel="D0001", text=f"{i}")
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="D0001", text="sixth at once")
    assert limited.value.response.status_code == 429
    client.chat_postMessage(channel="C0002", text="another channel is not limited by this one")


# -- files ----------------------------------------------------------------------------------------------------
def test_a_file_download_redirects_to_files_origin_and_wants_the_token(slack):
    uploaded = slack.add_file("offer.pdf", b"%PDF-1.4 data", "application/pdf")
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(
        uploaded["url_private_download"], headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with pytest.raises(urllib.error.HTTPError) as redirected:
        opener.open(request, timeout=5)
    with redirected.value as answer:
        assert answer.code == 302
        origin = answer.headers["Location"]
    assert "/files-origin/" in origin
    with urllib.request.urlopen(
        urllib.request.Request(origin, headers={"Authorization": f"Bearer {TOKEN}"}), timeout=5
    ) as resp:
        assert resp.read() == b"%PDF-1.4 data"
    with urllib.request.urlopen(origin, timeout=5) as resp:  # no token: Slack's sign-in page, status 200
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/html")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_reply_goes_in_the_thread_of_a_message_of_its_channel_that_is_no_reply_itself(slack, client):
    parent = client.chat_postMessage(channel="D0001", text="a send")
    reply = client.chat_postMessage(channel="D0001", text="its follow-up", thread_ts=parent["ts"])
    assert slack.message("D0001", reply["ts"]).snapshot()["thread_ts"] == parent["ts"]
    for channel, ts in (("D0001", reply["ts"]), ("D0002", parent["ts"]), ("D0001", "1.000001")):
        with pytest.raises(SlackApiError, match="thread_not_found"):
            client.chat_postMessage(channel=channel, text="x", thread_ts=ts)


def picker_modal(element: dict) -> dict:
    block = {
        "type": "input",
        "block_id": "i",
        "label": {"type": "plain_text", "text": "l"},
        "element": element,
    }
    return {**MODAL, "submit": {"type": "plain_text", "text": "Send"}, "blocks": [block]}


@pytest.mark.parametrize(
    ("element", "why"),
    [
        ({"type": "datetimepicker", "action_id": "a", "initial_date_time": 2_145_916_800_000}, "10 digits"),
        ({"type": "datetimepicker", "action_id": "a", "initial_date_time": "2145916800"}, "10 digits"),
        ({"type": "number_input", "action_id": "a", "min_value": "1"}, "is_decimal_allowed"),
        (
            {"type": "number_input", "action_id": "a", "is_decimal_allowed": False, "initial_value": 3},
            "string",
        ),
        (
            {"type": "number_input", "action_id": "a", "is_decimal_allowed": False, "initial_value": "2.5"},
            "whole",
        ),
        (
            {
                "type": "number_input",
                "action_id": "a",
                "is_decimal_allowed": False,
                "min_value": "1",
                "max_value": "90",
                "initial_value": "91",
            },
            "out of order",
        ),
    ],
)
def test_pickers_and_number_inputs_are_refused_when_malformed(slack, client, element, why):
    with pytest.raises(SlackApiError, match=r"invalid_arguments|invalid_blocks") as refused:
        client.views_open(trigger_id=slack.new_trigger("U0001"), view=picker_modal(element))
    assert why in json.dumps(refused.value.response.data)


def test_a_datetimepicker_and_a_whole_number_input_as_slack_takes_them(slack, client):
    for element in (
        {"type": "datetimepicker", "action_id": "a", "initial_date_time": 2_145_916_800},
        {
            "type": "number_input",
            "action_id": "a",
            "is_decimal_allowed": False,
            "min_value": "1",
            "max_value": "90",
            "initial_value": "3",
        },
    ):
        assert client.views_open(trigger_id=slack.new_trigger("U0001"), view=picker_modal(element))["ok"]
