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
        self.raw: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                return

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                recorder.raw.append(raw)
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


def test_a_block_id_over_255_characters_is_refused_whatever_blocks_were_taken_before(slack, client):
    # The stand-in keeps slack_sdk's verdict on a block by its text with the block_id blanked: the same block
    # taken with a short id must not vouch for it with a long one, nor a long id's refusal stick to a short one.
    def post(block_id: str) -> None:
        block = {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": "same"}}
        client.chat_postMessage(channel="D0001", text="x", blocks=[block])

    post("a" * 255)
    with pytest.raises(SlackApiError, match="invalid_blocks") as refused:
        post("a" * 256)
    assert "block_id cannot exceed 255 characters" in json.dumps(refused.value.response.data)
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        post("b" * 256)
    post("b" * 255)


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


# -- threads and the external file upload (bot/devtools/slack_messages.py, slack_uploads.py) ----------------------
def raw_post(url: str, data: bytes, content_type: str = "application/octet-stream") -> int:
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        with err:
            return err.code


def test_a_reply_in_a_thread_needs_a_parent_in_that_channel(slack, client):
    parent = client.chat_postMessage(channel="D0001", text="parent")
    reply = client.chat_postMessage(channel="D0001", thread_ts=parent["ts"], text="reply")
    assert slack.message("D0001", reply["ts"]).thread_ts == parent["ts"]
    for channel, thread_ts, error in (
        ("D0002", parent["ts"], "thread_not_found"),  # the parent is in another channel
        ("D0001", "1.000000", "thread_not_found"),  # no such message
        ("D0001", reply["ts"], "cannot_reply_to_message"),  # a reply, not a parent
    ):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text="x")
        assert refused.value.response["error"] == error
    assert [m.ts for m in slack.thread("D0001", parent["ts"])] == [reply["ts"]]


def test_a_file_uploaded_into_a_thread_is_the_bytes_posted_once_and_files_info_shows_its_size(slack, client):
    parent = client.chat_postMessage(channel="D0001", text="parent")
    data = b"%PDF-1.4 \x00\xff media kit"
    ticket = client.files_getUploadURLExternal(filename="kit.pdf", length=len(data))
    assert raw_post(ticket["upload_url"], data) == 200
    assert raw_post(ticket["upload_url"], data) != 200  # the upload URL takes the bytes once
    done = client.files_completeUploadExternal(
        files=[{"id": ticket["file_id"], "title": "kit.pdf"}], channel_id="D0001", thread_ts=parent["ts"]
    )
    assert [f["id"] for f in done["files"]] == [ticket["file_id"]]
    (shared,) = slack.thread("D0001", parent["ts"])
    assert shared.files == (ticket["file_id"],) and slack.files[ticket["file_id"]].data == data
    info = client.files_info(file=ticket["file_id"])["file"]
    assert (info["name"], info["size"]) == ("kit.pdf", len(data))
    with pytest.raises(SlackApiError) as again:  # a ticket is completed once
        client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], channel_id="D0001")
    assert again.value.response["error"] == "file_not_found"


def test_a_multipart_upload_is_taken_as_slack_takes_it(slack, client):
    data = b"GIF89a multipart"
    ticket = client.files_getUploadURLExternal(filename="a.gif", length=len(data))
    boundary = "XyZ"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="filename"; filename="a.gif"\r\n'
            "Content-Type: image/gif\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    assert raw_post(ticket["upload_url"], body, f"multipart/form-data; boundary={boundary}") == 200
    client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], channel_id="D0001")
    assert slack.files[ticket["file_id"]].data == data


@pytest.mark.parametrize(
    ("posted", "complete", "error"),
    [
        (b"12345678901", {}, "file_not_found"),  # more bytes than the declared length
        (b"123456789", {}, "file_not_found"),  # fewer
        (None, {}, "file_not_found"),  # no bytes ever came
        (b"1234567890", {"file_id": "F99999999"}, "file_not_found"),  # no such ticket
        (b"1234567890", {"thread_ts": "1.000000"}, "thread_not_found"),
        (b"1234567890", {"channel_id": "D0404"}, "channel_not_found"),
        (b"1234567890", {"channel_id": ""}, "invalid_arguments"),  # a thread_ts needs one channel
    ],
)
def test_completing_an_upload_refuses_what_slack_refuses(slack, client, posted, complete, error):
    parent = client.chat_postMessage(channel="D0001", text="parent")
    ticket = client.files_getUploadURLExternal(filename="a.csv", length=10)
    if posted is not None:
        assert raw_post(ticket["upload_url"], posted) == 200
    args = {"channel_id": "D0001", "thread_ts": parent["ts"], **complete}
    file_id = args.pop("file_id", ticket["file_id"])
    with pytest.raises(SlackApiError) as refused:
        client.files_completeUploadExternal(files=[{"id": file_id}], **args)
    assert refused.value.response["error"] == error
    assert slack.thread("D0001", parent["ts"]) == []


def test_an_upload_url_needs_a_name_and_a_length(client):
    for args in ({"filename": "a.pdf", "length": 0}, {"filename": "", "length": 5}):
        with pytest.raises(SlackApiError) as refused:
            client.files_getUploadURLExternal(**args)
        assert refused.value.response["error"] == "missing_argument"


def test_the_upload_methods_are_tier_4(slack, client):
    for _ in range(100):
        client.files_getUploadURLExternal(filename="a.pdf", length=1)
    with pytest.raises(SlackApiError) as limited:
        client.files_getUploadURLExternal(filename="a.pdf", length=1)
    assert limited.value.response.status_code == 429


def test_a_bot_edits_and_deletes_only_its_own_messages(slack, client):
    written = slack.user_message("U0001", "D0001", "mine")
    with pytest.raises(SlackApiError) as update:
        client.chat_update(channel="D0001", ts=written.ts, text="changed")
    with pytest.raises(SlackApiError) as delete:
        client.chat_delete(channel="D0001", ts=written.ts)
    assert (update.value.response["error"], delete.value.response["error"]) == (
        "cant_update_message",
        "cant_delete_message",
    )


# -- message.im (bot/devtools/slack_events.py) ------------------------------------------------------------------
def test_a_message_in_a_dm_thread_arrives_as_slack_sends_it(slack, client, user, app):
    parent = client.chat_postMessage(channel="D0001", text="parent")
    offer = slack.add_file("offer.pdf", b"%PDF-1.4 offer", "application/pdf")
    user.write("U0001", "Terms & <conditions>", thread_ts=parent["ts"], files=[offer])
    sent = json.loads(app.raw[-1])
    event = sent["event"]
    assert sent["type"] == "event_callback" and sent["event_id"].startswith("Ev")
    assert (event["type"], event["channel_type"], event["channel"]) == ("message", "im", "D0001")
    assert event["text"] == "Terms &amp; &lt;conditions&gt;"  # escaped as Slack escapes it
    assert (event["thread_ts"], event["parent_user_id"]) == (parent["ts"], "UBOT")
    assert event["subtype"] == "file_share" and event["files"][0]["url_private_download"].endswith(
        "?download=1"
    )
    assert slack.message("D0001", event["ts"]).files == (offer["id"],)  # the message is in the thread


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


# -- installs: the authorize page and oauth.v2.access (bot/devtools/slack_oauth.py) --------------------------
REDIRECT = "https://app.example/slack/oauth_redirect"


def authorize_link(slack, **query) -> str:
    params = {"client_id": slack.oauth.client_id, "scope": "commands,chat:write", "state": "s1", **query}
    params.setdefault("redirect_uri", REDIRECT)
    return slack.base_url + "/oauth/v2/authorize?" + urllib.parse.urlencode(params)


def code_of(back: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]


@pytest.fixture
def installable(slack):
    slack.oauth.redirect_urls = [REDIRECT]
    slack.add_team("T0002", "Other brand")
    slack.add_user(SlackUser("U0009", "eve", "Eve Other", "eve@other.example", team_id="T0002"))
    return slack


def exchange(slack, code, **overrides):
    base = WebClient(base_url=slack.api_url)
    args = {
        "client_id": slack.oauth.client_id,
        "client_secret": slack.oauth.client_secret,
        "code": code,
        "redirect_uri": REDIRECT,
        **overrides,
    }
    return base.oauth_v2_access(**args)


def test_the_authorize_page_sends_the_installer_back_with_a_code_and_the_same_state(installable):
    back = installable.install(authorize_link(installable), user="U0009", team_id="T0002")
    parts = urllib.parse.urlsplit(back)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT
    assert urllib.parse.parse_qs(parts.query)["state"] == ["s1"]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"client_id": "9.9"}, "invalid_client_id"),
        ({"scope": ""}, "invalid_scope"),
        ({"redirect_uri": "https://evil.example/slack/oauth_redirect"}, "bad_redirect_uri"),
    ],
)
def test_the_authorize_page_refuses_an_unknown_app_no_scope_or_a_foreign_redirect(installable, query, error):
    from bot.devtools.slack_oauth import OAuthRefused

    with pytest.raises(OAuthRefused, match=error):
        installable.install(authorize_link(installable, **query), user="U0009", team_id="T0002")


def test_a_code_is_exchanged_once_for_a_token_of_its_own_workspace(installable):
    code = code_of(installable.install(authorize_link(installable), user="U0009", team_id="T0002"))
    answer = exchange(installable, code)
    assert answer["team"] == {"id": "T0002", "name": "Other brand"} and answer["enterprise"] is None
    assert answer["token_type"] == "bot" and answer["authed_user"] == {"id": "U0009"}
    assert answer["is_enterprise_install"] is False and answer["scope"] == "commands,chat:write"
    with pytest.raises(SlackApiError, match="code_already_used"):
        exchange(installable, code)
    with pytest.raises(SlackApiError, match="invalid_code"):
        exchange(installable, "1.forged")
    token = answer["access_token"]
    tested = WebClient(token=token, base_url=installable.api_url).auth_test()
    assert (tested["team_id"], tested["user_id"]) == ("T0002", answer["bot_user_id"])


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"client_id": "9.9"}, "invalid_client_id"),
        ({"client_secret": "wrong"}, "bad_client_secret"),
        ({"redirect_uri": "https://app.example/elsewhere"}, "bad_redirect_uri"),
    ],
)
def test_the_exchange_checks_the_client_id_secret_and_redirect_uri(installable, overrides, error):
    code = code_of(installable.install(authorize_link(installable), user="U0009", team_id="T0002"))
    with pytest.raises(SlackApiError, match=error):
        exchange(installable, code, **overrides)
    assert exchange(installable, code)["ok"]  # a refused exchange did not use the code up


def test_a_code_expires_after_ten_minutes(installable, monkeypatch):
    from bot.devtools import slack_oauth

    code = code_of(installable.install(authorize_link(installable), user="U0009", team_id="T0002"))
    later = time.monotonic() + slack_oauth.CODE_SECONDS + 1
    monkeypatch.setattr(slack_oauth.time, "monotonic", lambda: later)
    with pytest.raises(SlackApiError, match="invalid_code"):
        exchange(installable, code)


def test_an_org_wide_install_gets_one_token_for_every_workspace_of_the_org(slack):
    slack.oauth.redirect_urls = [REDIRECT]
    for team in ("T0101", "T0102"):
        slack.add_team(team, f"Brand {team}", enterprise_id="E0100")
        slack.add_user(SlackUser(f"U{team}", "x", "X", team_id=team))
    code = code_of(slack.install(authorize_link(slack), user="UT0101", enterprise_id="E0100"))
    answer = exchange(slack, code)
    assert (
        answer["team"] is None and answer["enterprise"]["id"] == "E0100" and answer["is_enterprise_install"]
    )
    org = WebClient(token=answer["access_token"], base_url=slack.api_url)
    assert org.auth_test()["is_enterprise_install"] is True
    for team in ("T0101", "T0102"):
        assert org.users_info(user=f"U{team}")["user"]["team_id"] == team
    with pytest.raises(SlackApiError, match="user_not_found"):
        org.users_info(user="U0001")  # a workspace outside the org


def test_with_token_rotation_a_refresh_token_renews_the_token_once(installable):
    installable.oauth.token_rotation = True
    code = code_of(installable.install(authorize_link(installable), user="U0009", team_id="T0002"))
    first = exchange(installable, code)
    assert first["access_token"].startswith("xoxe.xoxb-") and first["expires_in"] > 0
    renewed = exchange(installable, None, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert renewed["access_token"] != first["access_token"] and renewed["refresh_token"]
    with pytest.raises(SlackApiError, match="invalid_refresh_token"):
        exchange(installable, None, grant_type="refresh_token", refresh_token=first["refresh_token"])


def test_an_expired_rotating_token_is_refused(installable):
    installable.oauth.token_rotation = True
    code = code_of(installable.install(authorize_link(installable), user="U0009", team_id="T0002"))
    token = exchange(installable, code)["access_token"]
    installable.oauth.grants[token].expires_at = time.time() - 1
    with pytest.raises(SlackApiError, match="token_expired"):
        WebClient(token=token, base_url=installable.api_url).auth_test()


def test_an_uninstall_ends_every_token_of_the_workspace(installable):
    code = code_of(installable.install(authorize_link(installable), user="U0009", team_id="T0002"))
    token = exchange(installable, code)["access_token"]
    installable.uninstall("T0002")
    with pytest.raises(SlackApiError, match="invalid_auth"):
        WebClient(token=token, base_url=installable.api_url).auth_test()


# -- many workspaces: each token sees its own -----------------------------------------------------------------
@pytest.fixture
def theirs(installable):
    """A client with the other workspace's own token (T0002)."""
    code = code_of(installable.install(authorize_link(installable), user="U0009", team_id="T0002"))
    return WebClient(token=exchange(installable, code)["access_token"], base_url=installable.api_url)


def test_auth_test_answers_for_the_tokens_own_workspace(client, theirs):
    assert client.auth_test()["team_id"] == "T0001"
    assert theirs.auth_test()["team_id"] == "T0002"


def test_a_token_is_refused_another_workspaces_users_dms_modals_and_files(installable, client, theirs, user):
    with pytest.raises(SlackApiError, match="user_not_found"):
        theirs.users_info(user="U0001")
    with pytest.raises(SlackApiError, match="user_not_found"):
        theirs.conversations_open(users="U0001")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        theirs.chat_postMessage(channel="D0001", text="into another workspace's DM")
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):
        theirs.views_open(trigger_id=installable.new_trigger("U0001"), view=MODAL)
    opened = client.views_open(trigger_id=installable.new_trigger("U0001"), view=MODAL)["view"]
    with pytest.raises(SlackApiError, match="not_found"):
        theirs.views_update(view_id=opened["id"], view=MODAL)
    uploaded = installable.add_file("ours.csv", b"a,b\n", "text/csv", team_id="T0001")
    with pytest.raises(SlackApiError, match="file_not_found"):
        theirs.files_info(file=uploaded["id"])
    with urllib.request.urlopen(
        urllib.request.Request(uploaded["url_private"], headers={"Authorization": f"Bearer {theirs.token}"}),
        timeout=5,
    ) as resp:  # the sign-in page, as for any token that may not see the file
        assert resp.headers["Content-Type"].startswith("text/html")
    installable.usergroups["S0001"] = ["U0001"]
    with pytest.raises(SlackApiError, match="no_such_subteam"):
        theirs.usergroups_users_list(usergroup="S0001")
    assert theirs.users_info(user="U0009")["user"]["team_id"] == "T0002"  # its own: fine
    assert {method for method, _, team in installable.foreign} >= {"users.info", "views.open"}
    assert {team for _, _, team in installable.foreign} == {"T0002"}


def test_each_workspace_has_its_own_rate_limit_budget(client, theirs):
    posted = client.chat_postMessage(channel="D0001", text="ours")
    for i in range(50):
        client.chat_update(channel="D0001", ts=posted["ts"], text=f"{i}")
    with pytest.raises(SlackApiError) as limited:
        client.chat_update(channel="D0001", ts=posted["ts"], text="over our budget")
    assert limited.value.response.status_code == 429
    mine = theirs.chat_postMessage(channel="D0009", text="theirs")
    theirs.chat_update(channel="D0009", ts=mine["ts"], text="their budget is whole")


# -- image blocks: Slack downloads image_url before it takes the view or message ----------------------------------
class _Images:
    """A local web server answering each path with (status, content type, bytes)."""

    PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32

    def __init__(self) -> None:
        answers = {
            "/chart.png": (200, "image/png", self.PNG),
            "/missing.png": (404, "text/html", b"<h1>Not found</h1>"),
            "/chart.webp": (200, "image/webp", b"RIFF\0\0\0\0WEBPVP8 "),
            "/lying.png": (200, "image/png", b"<html>sign in</html>"),
        }

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_GET(self):
                status, kind, body = answers.get(self.path, (404, "text/plain", b""))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def images():
    served = _Images()
    yield served
    served.server.shutdown()
    served.server.server_close()


def _home_with_image(url: str) -> dict:
    return {"type": "home", "blocks": [{"type": "image", "image_url": url, "alt_text": "a chart"}]}


def test_an_image_slack_can_download_is_taken_in_a_home_tab_and_a_message(slack, client, images):
    assert client.views_publish(user_id="U0001", view=_home_with_image(images.url + "/chart.png"))["ok"]
    blocks = _home_with_image(images.url + "/chart.png")["blocks"]
    assert client.chat_postMessage(channel="U0001", text="chart", blocks=blocks)["ok"]
    assert slack.refused == []


@pytest.mark.parametrize(
    "where",
    [
        "/missing.png",  # 404
        "/chart.webp",  # a type Slack does not show
        "/lying.png",  # says PNG, is a sign-in page
        "http://192.0.2.1/chart.png",  # an address the stand-in (on loopback only) cannot reach
    ],
)
def test_an_image_slack_cannot_download_refuses_the_whole_view(slack, client, images, where):
    url = where if where.startswith("http") else images.url + where
    with pytest.raises(SlackApiError) as refused:
        client.views_publish(user_id="U0001", view=_home_with_image(url))
    assert refused.value.response["error"] == "invalid_blocks"
    assert "downloading image failed [json-pointer:/blocks/0/image_url]" in json.dumps(
        refused.value.response.data
    )
    assert "U0001" not in slack.modals.homes
