"""POST /messages/inbound over real HTTP (waitress on 127.0.0.1), with the real clamd and libmagic, a temp
SQLite database and a stand-in Slack: the reply is shown in its conversation's thread of the author's DM, its clean
file uploaded there byte-identical, its infected one named and never uploaded."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from bot.app import make_client
from bot.conversations import ConversationThreads
from bot.devtools.harness import wait_for
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.http import HttpServer, WsgiApp
from bot.inbound import PATH, body_limit, routes
from bot.routes import extra_routes
from bot.settings import Settings
from bot.wiring import build_services
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.clock import FixedClock
from outreach.models import Channel, Direction, Partner, ThreadMessage
from outreach.webhook_signing import sign
from tests.attachment_samples import pdf

SECRET = "inbound-test-secret"  # a test value
TOKEN = "xoxb-inbound"
AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
NOW = int(AT.timestamp())


@pytest.fixture
def app(tmp_path, clamd):
    with SlackStandIn(bot_token=TOKEN) as standin:
        standin.add_user(SlackUser("U_ANN", "ann", "Ann Lee", tz="Europe/London"))
        standin.add_user(SlackUser("U_WEI", "wei", "张伟", tz="Asia/Shanghai", locale="zh-CN"))
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'inbound.db'}",
            slack_bot_token=TOKEN,
            slack_api_url=standin.api_url,
            messages_webhook_secret=SECRET,
            clamd_socket=clamd.socket_path,
        )
        services = build_services(settings, clock=FixedClock(AT))
        with services.uow() as uow:
            uow.partners.upsert_many("T1", [Partner("T1", "m1", "Acme Media", messaging_enabled=True)])
            uow.partners.upsert_many("T1", [Partner("T1", "m2", "北京传媒", messaging_enabled=True)])
            for mpid, author, provider_id in (("m1", "U_ANN", "prov-1"), ("m2", "U_WEI", "prov-2")):
                thread = uow.threads.open("T1", mpid, Channel.MESSAGE)
                uow.threads.add_message(
                    "T1",
                    thread.id,
                    ThreadMessage(Direction.OUT, "Hello", author_id=author, provider_message_id=provider_id),
                )
            uow.commit()
        client = make_client(settings)
        server = HttpServer(WsgiApp(None, routes=extra_routes(services, client))).start()
        threads = ConversationThreads(services, client, sweep_seconds=0.2).start()
        try:
            yield server, standin, services
        finally:
            threads.stop()
            server.stop()
            services.close()


def parents(standin: SlackStandIn, channel: str) -> list:
    """The top-level messages the app posted in a DM: one per conversation."""
    return [m for (c, _), m in sorted(standin.messages.items()) if c == channel and not m.thread_ts]


def shown_thread(standin: SlackStandIn, channel: str, replies: int) -> tuple:
    """The conversation's thread in ``channel`` once it has ``replies`` replies: (parent, replies)."""

    def ready():
        found = parents(standin, channel)
        return found and len(standin.thread(channel, found[0].ts)) >= replies and found[0]

    parent = wait_for(ready, what=f"a thread with {replies} replies in {channel}")
    return parent, standin.thread(channel, parent.ts)


def post(server, body: bytes, *, timestamp: int = NOW, secret: str = SECRET, headers=None):
    ts = str(timestamp)
    request = urllib.request.Request(
        server.url + PATH,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Outreach-Timestamp": ts,
            "X-Outreach-Signature": sign(secret, ts, body),
            **(headers or {}),
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def reply(**overrides) -> bytes:
    body = {
        "team_id": "T1",
        "mpid": "m1",
        "text": "Sounds good <b>really</b>",
        "external_id": "ext-1",
        "in_reply_to": "prov-1",
        "attachments": [
            {"name": "rates.pdf", "mime": "application/pdf", "data": base64.b64encode(pdf()).decode()},
            {
                "name": "invoice.pdf",
                "mime": "application/pdf",
                "data": base64.b64encode(pdf(eicar_test_bytes())).decode(),
            },
        ],
    }
    body.update(overrides)
    return json.dumps(body).encode()


def test_a_signed_reply_is_stored_and_shown_in_its_authors_thread_with_the_clean_file_uploaded(app):
    server, standin, services = app
    status, answer = post(server, reply())
    assert status == 200 and answer["ok"] and answer["duplicate"] is False
    assert answer["kept"] == ["rates.pdf"]
    assert [(q["name"], q["code"]) for q in answer["quarantined"]] == [("invoice.pdf", "infected")]
    parent, (said, shared) = shown_thread(standin, "D_ANN", replies=2)
    assert parent.text == "Conversation with Acme Media"
    assert said.text == "Acme Media replied to your message."
    shown = json.dumps(said.blocks, ensure_ascii=False)
    assert "> Sounds good &lt;b&gt;really&lt;/b&gt;" in shown
    assert "1 file(s), below" in shown
    assert "invoice.pdf: the virus scanner found Outreach.Test.EICAR" in shown
    (file_id,) = shared.files  # the clean file, uploaded into the thread, byte-identical
    stored = standin.files[file_id]
    assert (
        stored.name == "rates.pdf" and hashlib.sha256(stored.data).digest() == hashlib.sha256(pdf()).digest()
    )
    names = [standin.files[f].name for m in standin.messages.values() for f in m.files]
    assert "invoice.pdf" not in names  # the infected one is never uploaded
    with services.uow() as uow:
        found = uow.threads.by_external_id("T1", "ext-1")
    assert found is not None and found[1].id == answer["id"] and found[1].direction is Direction.IN


def test_a_second_reply_goes_to_the_same_thread(app):
    server, standin, _ = app
    assert post(server, reply(attachments=[]))[0] == 200
    shown_thread(standin, "D_ANN", replies=1)
    assert post(server, reply(external_id="ext-2", text="And one more thing", attachments=[]))[0] == 200
    _, replies = shown_thread(standin, "D_ANN", replies=2)
    assert len(parents(standin, "D_ANN")) == 1
    assert "And one more thing" in json.dumps(replies[1].blocks)


def test_the_thread_is_in_the_authors_language(app):
    server, standin, _ = app
    status, _ = post(server, reply(mpid="m2", in_reply_to="prov-2", external_id="ext-zh", attachments=[]))
    assert status == 200
    parent, (said,) = shown_thread(standin, "D_WEI", replies=1)
    assert parent.text == "与 北京传媒 的对话" and said.text == "北京传媒 回复了你的消息。"


def test_a_redelivery_is_answered_as_a_duplicate_and_shown_once(app):
    server, standin, services = app
    first = post(server, reply())
    again = post(server, reply())
    assert first[0] == again[0] == 200
    assert again[1]["duplicate"] is True and again[1]["id"] == first[1]["id"]
    shown_thread(standin, "D_ANN", replies=2)
    assert services.conversation_events.flush()
    wait_for(lambda: not services.conversations.due(), what="every event shown")
    assert len(standin.calls_to("chat.postMessage")) == 2  # the parent and the reply, once
    assert len(standin.calls_to("files.completeUploadExternal")) == 1


def test_the_idempotency_key_header_stands_in_for_a_missing_external_id(app):
    server, standin, services = app
    body = reply(external_id=None, attachments=[])
    first = post(server, body, headers={"Idempotency-Key": "hdr-1"})
    again = post(server, body, headers={"Idempotency-Key": "hdr-1"})
    assert first[0] == 200 and again[1]["duplicate"] is True
    shown_thread(standin, "D_ANN", replies=1)
    assert services.conversation_events.flush()
    wait_for(lambda: not services.conversations.due(), what="every event shown")
    assert len(standin.calls_to("chat.postMessage")) == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"secret": "someone-else"}, "invalid_signature"),
        ({"timestamp": NOW - 301}, "stale_request"),
        ({"timestamp": NOW + 3600}, "stale_request"),
    ],
)
def test_forged_or_stale_requests_are_refused_and_nothing_is_stored(app, kwargs, error):
    server, standin, services = app
    status, answer = post(server, reply(), **kwargs)
    assert (status, answer) == (401, {"ok": False, "error": error})
    assert services.conversation_events.flush()
    assert services.conversations.due() == []
    assert standin.calls_to("chat.postMessage") == []
    with services.uow() as uow:
        assert uow.threads.by_external_id("T1", "ext-1") is None


def test_a_body_changed_after_signing_is_refused(app):
    server, _, _ = app
    ts = str(NOW)
    request = urllib.request.Request(
        server.url + PATH,
        data=reply(text="changed"),
        method="POST",
        headers={"X-Outreach-Timestamp": ts, "X-Outreach-Signature": sign(SECRET, ts, reply())},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=30)
    assert caught.value.code == 401
    caught.value.close()


def test_bad_json_and_bad_fields_are_400_with_every_problem(app):
    server, _, _ = app
    status, answer = post(server, b"{not json")
    assert status == 400 and answer["error"] == "bad_json"
    status, answer = post(server, json.dumps({"team_id": "T1", "text": 5}).encode())
    assert status == 400 and answer["error"] == "invalid_payload"
    assert {(p["field"], p["code"]) for p in answer["problems"]} == {
        ("mpid", "missing"),
        ("external_id", "missing"),
        ("text", "not_a_string"),
    }
    status, answer = post(server, b"[1, 2]")
    assert status == 400 and answer["problems"][0]["code"] == "not_an_object"


def test_an_unknown_partner_is_404(app):
    server, standin, services = app
    status, answer = post(server, reply(mpid="nobody"))
    assert status == 404 and answer["error"] == "not_found"
    assert services.conversations.due() == []
    assert standin.calls_to("chat.postMessage") == []


def test_without_a_secret_the_route_says_it_is_not_configured(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}")
    services = build_services(settings, clock=FixedClock(AT))
    mounted = routes(
        services.inbound,
        services.conversation_events,
        services.clock,
        secret="",
        max_message_bytes=settings.max_message_bytes,
    )
    route = mounted[("POST", PATH)]
    from bot.http import Request

    response = route.handle(Request("POST", PATH, "", {}, b"{}"))
    assert response.status == 503 and json.loads(response.body)["error"] == "not_configured"


def test_a_reply_with_a_pdf_over_a_megabyte_is_taken_and_a_body_beyond_the_file_limits_is_413(app):
    server, _, services = app
    big = pdf(
        b"x" * (1536 * 1024)
    )  # 1.5 MB: over the old 1 MiB cap once in base64, under the test clamd's 2 MB
    attachment = {"name": "media-kit.pdf", "mime": "application/pdf", "data": base64.b64encode(big).decode()}
    status, answer = post(server, reply(external_id="ext-big", attachments=[attachment]))
    assert status == 200 and answer["kept"] == ["media-kit.pdf"], answer["quarantined"]
    limit = body_limit(services.settings.max_message_bytes)
    assert limit > services.settings.max_message_bytes * 4 // 3  # all the files a reply may carry, in base64
    too_big = reply(external_id="ext-huge", text="x" * (limit + 1))
    request = urllib.request.Request(server.url + PATH, data=too_big, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30)
    with refused.value as answer_413:
        assert answer_413.code == 413
